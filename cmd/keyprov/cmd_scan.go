package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/keyprov/keyprov/scan"
	"github.com/keyprov/keyprov/token"
	"github.com/keyprov/keyprov/view"
)

var scanCmd = &command{
	name:    "scan",
	args:    "[PATH...] | --history [--all] [--since REF] [REVISION...]",
	summary: "find tokens committed by mistake (prints hints, never tokens)",
	help: `Searches files for tokens committed by mistake: the token prefix followed
by at least 32 characters of [A-Za-z0-9_-], not inside a longer word.
PATH is a file or a directory (default "."). Only text files are read:
files with a NUL byte in their first 8 KiB are skipped as binary. In a git
work tree, the files git lists are scanned (tracked, and untracked unless
.gitignore excludes them); elsewhere every file, .git skipped. A file named
explicitly is always scanned; --exclude skips test fixtures and the like
found in directories. Placeholders that keyprov would refuse as
tokens (wat_xxxx…, wat_0123…) are not reported.

Each finding is printed as file:line:col with the token's hint (prefix and
last four characters) and whether it ends in a keyprov checksum; the token
itself is never printed.

--history scans the history of the git repository of the current
directory instead of files: every version of every file in the commits
reachable from HEAD (--all: from every ref, the stash included; REVISION:
as git log takes them, such as BASE..HEAD; --since REF: those not
reachable from REF, a pull request's commits), each version read once.
Each finding is printed as commit:path:line:col, where commit is the one
that added the token to that path (the commit to rewrite, or the one after
which the token was public); later versions that keep it are not reported
again. With a range or --since, tokens already in the base are not
reported. In a shallow clone, commits before the boundary are not scanned
(a warning says so); a blob missing from a partial clone is an error.

The prefix is --prefix (repeatable), else token_prefix of the spec (-f,
KEYPROV_FILE, default keys.hcl) when it exists, else wat_.

Exit status: 0 nothing found; 1 possible tokens found, or a path (or the
history) could not be read.`,
	run: runScan,
}

// scanOptions are scan's flags and arguments.
type scanOptions struct {
	spec   *specFlags
	log    *logFlags
	output *oneOf
	// args are the files and directories to scan or, with history, the
	// revisions.
	args     []string
	prefixes stringList
	exclude  stringList
	// history scans the commits of the current directory's repository;
	// all and since choose them.
	history bool
	all     bool
	since   string
}

func newScanOptions(fs *flagSet, cfg Config) *scanOptions {
	o := &scanOptions{spec: addSpecFlags(fs, cfg)}
	fs.Var(&o.prefixes, "prefix", "token `prefix` to look for; repeatable (default: the spec's token_prefix, else wat_)")
	fs.Var(&o.exclude, "exclude", "skip files below the scanned directories that match `pattern`: a name or glob matched against each path element (testdata, *_test.go), or a path with / (docs/*.md); repeatable")
	fs.BoolVar(&o.history, "history", false, "scan the commits of the current directory's git repository instead of files; arguments are revisions (default HEAD)")
	fs.BoolVar(&o.all, "all", false, "with --history: the commits of every ref (branches, tags, remote-tracking branches, the stash)")
	fs.StringVar(&o.since, "since", "", "with --history: leave out the commits reachable from `REF` (a pull request's base)")
	o.output = addOutputFlag(fs, "text, json or github (GitHub Actions annotations)", "text", "json", "github")
	o.log = addLogFlags(fs, cfg)
	return o
}

func (s *scanOptions) check() error {
	if !s.history && (s.all || s.since != "") {
		return errors.New("--all and --since scan the history: add --history")
	}
	for _, p := range s.prefixes.vals {
		if p == "" {
			return errors.New("--prefix must not be empty")
		}
	}
	for _, p := range s.exclude.vals {
		if !scan.ValidPattern(p) {
			return fmt.Errorf("--exclude %s is not a valid pattern", quoteArg(p, s.prefixes.vals...))
		}
	}
	if !s.history {
		if len(s.args) == 0 {
			s.args = []string{"."}
		}
		return nil
	}
	// A revision that looks like a token is refused without repeating it:
	// git's own message would.
	for _, r := range append(s.args[:len(s.args):len(s.args)], s.since) {
		if r != "" && looksLikeToken(r, s.prefixes.vals...) {
			return errors.New("a revision " + notRepeated)
		}
	}
	for _, r := range s.args {
		if r == "" || strings.HasPrefix(r, "-") {
			return fmt.Errorf("%q is not a revision", r)
		}
	}
	if strings.HasPrefix(s.since, "-") {
		return fmt.Errorf("--since %q is not a revision", s.since)
	}
	return nil
}

func runScan(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	o := newScanOptions(fs, a.cfg)
	if code, ok := a.parseOptions(c, fs, args, &o.args, o, o.log); !ok {
		return code
	}
	prefixes := o.prefixes.vals
	if len(prefixes) == 0 {
		prefixes = []string{a.specPrefix(o.spec)}
	}

	opts := scan.Options{Prefixes: prefixes, Env: a.environList(), Exclude: o.exclude.vals}
	var (
		res *scan.Result
		err error
	)
	if o.history {
		res, err = scan.History(ctx, scan.HistoryOptions{Options: opts, Revs: o.args, All: o.all, Since: o.since})
	} else {
		res, err = scan.Paths(ctx, o.args, opts)
	}
	if err != nil {
		a.errorf("keyprov scan: %v", err)
		return exitInvalid
	}
	if res.History != nil && res.History.Shallow {
		a.warnf("keyprov scan: warning: this is a shallow clone: the commits before its boundary were not scanned, and a token found at a boundary commit may have been added before it (git fetch --unshallow, or fetch-depth: 0 in CI, scans the whole history)")
	}
	switch o.output.val {
	case "json":
		err = view.WriteScanJSON(a.out, res)
	case "github":
		err = view.WriteScanGitHub(a.out, res)
	default:
		err = view.WriteScanText(a.out, res)
	}
	if err != nil {
		a.errorf("keyprov scan: writing the result: %v", err)
		return exitInvalid
	}
	ev := a.log.Debug()
	if res.History != nil {
		ev = ev.Int("commits", res.History.Commits).Bool("shallow", res.History.Shallow)
	}
	ev.Int("files", res.Files).Int("binary", res.Binary).Int("findings", len(res.Findings)).Strs("prefixes", prefixes).Msg("scan finished")
	if len(res.Findings) > 0 {
		return exitInvalid
	}
	return exitOK
}

// specPrefix returns the token prefix of the spec when its files exist and
// it evaluates (offline), else the default prefix.
func (a *app) specPrefix(sf *specFlags) string {
	for _, p := range sf.files.vals {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return token.DefaultPrefix
		}
	}
	ls := a.loadSpec(sf, false)
	if ls.spec == nil {
		a.warnf("keyprov scan: the spec does not evaluate (run keyprov validate); looking for the default prefix %s", token.DefaultPrefix)
		return token.DefaultPrefix
	}
	return ls.spec.Settings.TokenPrefix
}
