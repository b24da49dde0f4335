#!/usr/bin/env bash
# The keyprov review of a pull request, one step at a time; the workflow
# keyprov-review.yml runs each step, and so can you, from the repository's
# root:
#
#   review.sh fmt        keyprov fmt -check: the spec is formatted
#   review.sh validate   keyprov validate -o github: every problem, annotated
#   review.sh scan       keyprov scan -o github: no token in the files
#   review.sh history    keyprov scan --history --since BASE: no token in the
#                        pull request's commits, even one removed since
#   review.sh diff       keyprov diff git:BASE -o markdown: the review, on
#                        stdout; exit 4 on a risk at or above KEYPROV_FAIL_ON
#
# Environment:
#   KEYPROV_FILE          the spec: a file or a directory (default keys.hcl)
#   BASE                  the pull request's base commit (history, diff)
#   KEYPROV_FAIL_ON       the risk gate: risk, low, medium, high (default),
#                         critical or none
#   KEYPROV_SCAN_EXCLUDE  patterns that scan and history skip, separated by
#                         spaces (e.g. "testdata *_test.go")
#   KEYPROV               the keyprov command (default keyprov)
#
# Variable files: a file keyprov.vars next to the spec (in the spec's
# directory, or the spec file's) lists them, one path a line relative to
# it, in order; blank lines and lines starting with # are skipped. Every
# command gets them as -var-file. diff reads each from its own side: the
# base's from BASE, where one that the pull request adds is absent (the
# review says so), and the head's from the working tree.
set -euo pipefail

spec=${KEYPROV_FILE:-keys.hcl}
export KEYPROV_FILE=$spec
keyprov=${KEYPROV:-keyprov}
fail_on=${KEYPROV_FAIL_ON:-high}

# var_args sets the array vars to -var-file PATH for each line of keyprov.vars.
var_args() {
	vars=()
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
	exclude_args
	exec "$keyprov" scan -o github ${excludes[@]+"${excludes[@]}"}
	;;
history)
	need_base
	exclude_args
	exec "$keyprov" scan --history --since "$BASE" -o github ${excludes[@]+"${excludes[@]}"}
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
*)
	echo "usage: review.sh fmt|validate|scan|history|diff" >&2
	exit 2
	;;
esac
