#!/usr/bin/env bash
# The keyprov review of a pull request, one step at a time; keyprov's
# action (action.yml at the repository's root) runs each step, and so can
# you, from the root of the repository under review:
#
#   review.sh fmt        keyprov fmt -check: the spec is formatted
#   review.sh validate   keyprov validate -o github: every problem, annotated
#   review.sh scan       keyprov scan -o github: no token in the files
#   review.sh history    keyprov scan --history --since BASE: no token in the
#                        pull request's commits, even one removed since
#   review.sh diff       keyprov diff git:BASE -o markdown: the review, on
#                        stdout; exit 4 on a risk at or above KEYPROV_FAIL_ON
#   review.sh comment FILE [RISK]
#                        post FILE (the review) on the pull request as one
#                        comment: keyprov's comment is updated if there is
#                        one, else added; with RISK "flagged" the pull request
#                        gets the label KEYPROV_RISK_LABEL, else loses it.
#                        Never fails: a fork's read-only token, say, gives a
#                        warning (the review is in the job summary too)
#
# Environment:
#   KEYPROV_FILE          the spec: a file or a directory (default keys.hcl)
#   BASE                  the pull request's base commit (history, diff)
#   KEYPROV_FAIL_ON       the risk gate: risk, low, medium, high (default),
#                         critical or none
#   KEYPROV_SCAN_EXCLUDE  patterns that scan and history skip, separated by
#                         spaces (e.g. "testdata *_test.go")
#   KEYPROV               the keyprov command (default keyprov)
#   KEYPROV_VARFILE       variable files, separated by commas or new lines,
#                         relative to the repository's root: instead of
#                         keyprov.vars
#   comment: GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN, PR (the pull
#   request's number), KEYPROV_RISK_LABEL (default keyprov-risk; "" for none)
#
# Variable files: a file keyprov.vars next to the spec (in the spec's
# directory, or the spec file's) lists them, one path a line relative to
# it, in order; blank lines and lines starting with # are skipped
# (KEYPROV_VARFILE replaces it). Every command but fmt gets them as
# -var-file. diff reads each from its own side: the base's from BASE, where
# one that the pull request adds is absent (the review says so), and the
# head's from the working tree.
set -euo pipefail

spec=${KEYPROV_FILE:-keys.hcl}
export KEYPROV_FILE=$spec
# keyprov gets the variable files as flags only (see var_args).
varfiles=${KEYPROV_VARFILE:-}
unset KEYPROV_VARFILE
keyprov=${KEYPROV:-keyprov}
fail_on=${KEYPROV_FAIL_ON:-high}

# var_args sets the array vars to -var-file PATH for each file of
# KEYPROV_VARFILE, or else each line of keyprov.vars.
var_args() {
	vars=()
	if [ -n "$varfiles" ]; then
		local f
		while IFS= read -r f; do
			f=${f%$'\r'}
			f=${f#"${f%%[![:space:]]*}"} # trim leading
			f=${f%"${f##*[![:space:]]}"} # and trailing blanks
			[ -n "$f" ] && vars+=(-var-file "$f")
		done < <(printf '%s\n' "$varfiles" | tr ',' '\n')
		return 0
	fi
	local dir=$spec
	[ -d "$spec" ] || dir=$(dirname -- "$spec")
	local list=$dir/keyprov.vars line
	[ -f "$list" ] || return 0
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		case $line in '' | '#'*) continue ;; esac
		if [ "$dir" = . ]; then
			vars+=(-var-file "$line")
		else
			vars+=(-var-file "$dir/$line")
		fi
	done <"$list"
}

# exclude_args sets the array excludes to --exclude PATTERN for each
# pattern of KEYPROV_SCAN_EXCLUDE.
exclude_args() {
	excludes=()
	local p
	for p in ${KEYPROV_SCAN_EXCLUDE:-}; do
		excludes+=(--exclude "$p")
	done
}

# comment posts the review in $1 on the pull request PR through the REST
# API at GITHUB_API_URL: it updates the comment that starts with keyprov's
# marker, or adds one. $2 "flagged" adds the risk label, anything else
# removes it. Failures are warnings: the check itself already passed or
# failed on its own.
comment() {
	local review=${1:-} risk=${2:-} marker='<!-- keyprov-diff -->'
	if [ -z "$review" ] || [ ! -s "$review" ]; then
		echo "review.sh comment: no review to post"
		return 0
	fi
	if [ -z "${PR:-}" ] || [ -z "${GITHUB_REPOSITORY:-}" ] || [ -z "${GITHUB_TOKEN:-}" ]; then
		echo "::notice title=keyprov::Not posting the review: no pull request, repository or token (see the job summary)"
		return 0
	fi
	local api=${GITHUB_API_URL:-https://api.github.com}/repos/${GITHUB_REPOSITORY}
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	# The token goes to curl on stdin, never on its command line.
	printf 'header = "Authorization: Bearer %s"\n' "$GITHUB_TOKEN" >"$tmp/auth"
	gh_api() { # METHOD PATH [BODYFILE]: the response on stdout; fails on an HTTP error
		local args=(-sS --fail-with-body -X "$1" -H 'Accept: application/vnd.github+json'
			-H 'X-GitHub-Api-Version: 2022-11-28' -H 'User-Agent: keyprov-review' -K "$tmp/auth")
		if [ -n "${3:-}" ]; then args+=(-H 'Content-Type: application/json' --data-binary "@$3"); fi
		curl "${args[@]}" "$api/$2"
	}
	# GitHub's limit is 65,536 characters a comment.
	if [ "$(wc -c <"$review")" -gt 65000 ]; then
		{ head -c 60000 "$review"; printf '\n\n… The review is longer than a comment allows: the whole review is in the job summary.\n'; } >"$tmp/review.md"
		review=$tmp/review.md
	fi
	jq -Rs '{body: .}' <"$review" >"$tmp/body.json"

	local id="" page=1 n
	while :; do
		if ! gh_api GET "issues/${PR}/comments?per_page=100&page=${page}" >"$tmp/page.json"; then
			echo "::warning title=keyprov::Could not read the pull request's comments: the review is in the job summary"
			return 0
		fi
		id=$(jq -r --arg m "$marker" '[.[] | select(.body | startswith($m)) | .id][0] // empty' "$tmp/page.json") &&
			n=$(jq length "$tmp/page.json") || {
			echo "::warning title=keyprov::The pull request's comments are not a JSON list: the review is in the job summary"
			return 0
		}
		if [ -n "$id" ] || [ "$n" -lt 100 ]; then break; fi
		page=$((page + 1))
	done
	if [ -n "$id" ]; then
		gh_api PATCH "issues/comments/${id}" "$tmp/body.json" >/dev/null &&
			echo "review.sh comment: updated comment ${id}" ||
			echo "::warning title=keyprov::Could not update the review comment (a fork's read-only token?): the review is in the job summary"
	else
		gh_api POST "issues/${PR}/comments" "$tmp/body.json" >/dev/null &&
			echo "review.sh comment: added the review" ||
			echo "::warning title=keyprov::Could not comment on the pull request (a fork's read-only token?): the review is in the job summary"
	fi

	local label=${KEYPROV_RISK_LABEL-keyprov-risk}
	[ -n "$label" ] || return 0
	if [ "$risk" = flagged ]; then
		jq -n --arg l "$label" '{labels: [$l]}' >"$tmp/label.json"
		gh_api POST "issues/${PR}/labels" "$tmp/label.json" >/dev/null ||
			echo "::warning title=keyprov::Could not add the label ${label} (create it first)"
	else
		# Absent already: GitHub answers 404, which is fine.
		gh_api DELETE "issues/${PR}/labels/$(jq -rn --arg l "$label" '$l | @uri')" >/dev/null 2>&1 || true
	fi
}

need_base() {
	if [ -z "${BASE:-}" ]; then
		echo "review.sh: set BASE to the pull request's base commit" >&2
		exit 1
	fi
}

step=${1:-}
case $step in
fmt)
	exec "$keyprov" fmt -check -diff
	;;
validate)
	var_args
	exec "$keyprov" validate -o github ${vars[@]+"${vars[@]}"}
	;;
scan)
	var_args # the spec's token prefix may depend on them
	exclude_args
	exec "$keyprov" scan -o github ${vars[@]+"${vars[@]}"} ${excludes[@]+"${excludes[@]}"}
	;;
history)
	need_base
	var_args
	exclude_args
	exec "$keyprov" scan --history --since "$BASE" -o github ${vars[@]+"${vars[@]}"} ${excludes[@]+"${excludes[@]}"}
	;;
diff)
	need_base
	if ! git cat-file -e "${BASE}:./${spec#./}" 2>/dev/null; then
		echo "review.sh: the base revision has no ${spec}: nothing to compare" >&2
		exit 0 # nothing on stdout: no review to post
	fi
	var_args
	base=$(git rev-parse --short "$BASE") # a shorter label in the comment
	exec "$keyprov" diff "git:${base}" -o markdown --fail-on "$fail_on" ${vars[@]+"${vars[@]}"}
	;;
comment)
	comment "${2:-}" "${3:-}"
	;;
*)
	echo "usage: review.sh fmt|validate|scan|history|diff|comment FILE [RISK]" >&2
	exit 2
	;;
esac
