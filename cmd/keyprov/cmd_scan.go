package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/keyprov/keyprov/scan"
	"github.com/keyprov/keyprov/token"
	"github.com/keyprov/keyprov/view"
)

var scanCmd = &command{
	name:    "scan",
	args:    "[PATH...]",
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

The prefix is --prefix (repeatable), else token_prefix of the spec (-f,
KEYPROV_FILE, default keys.hcl) when it exists, else wat_.

Exit status: 0 nothing found; 1 possible tokens found, or a path could
not be read.`,
	run: runScan,
}

func runScan(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	sf := addSpecFlags(fs, a.cfg)
	var prefixes stringList
	fs.Var(&prefixes, "prefix", "token `prefix` to look for; repeatable (default: the spec's token_prefix, else wat_)")
	var exclude stringList
	fs.Var(&exclude, "exclude", "skip files below the scanned directories that match `pattern`: a name or glob matched against each path element (testdata, *_test.go), or a path with / (docs/*.md); repeatable")
	out := addOutputFlag(fs, "text, json or github (GitHub Actions annotations)", "text", "json", "github")
	lf := addLogFlags(fs, a.cfg)
	pos, code, ok := fs.parse(a, args)
	if !ok {
		return code
	}
	lf.setup(a)
	if len(pos) == 0 {
		pos = []string{"."}
	}
	for _, p := range prefixes.vals {
		if p == "" {
			fmt.Fprintln(a.err, "keyprov scan: --prefix must not be empty")
			return exitInvalid
		}
	}
	for _, p := range exclude.vals {
		if !scan.ValidPattern(p) {
			fmt.Fprintf(a.err, "keyprov scan: --exclude %q is not a valid pattern\n", p)
			return exitInvalid
		}
	}
	if len(prefixes.vals) == 0 {
		prefixes.vals = []string{a.specPrefix(sf)}
	}

	res, err := scan.Paths(ctx, pos, scan.Options{Prefixes: prefixes.vals, Env: a.environList(), Exclude: exclude.vals})
	if err != nil {
		fmt.Fprintf(a.err, "keyprov scan: %v\n", err)
		return exitInvalid
	}
	switch out.val {
	case "json":
		err = view.WriteScanJSON(a.out, res)
	case "github":
		err = view.WriteScanGitHub(a.out, res)
	default:
		err = view.WriteScanText(a.out, res)
	}
	if err != nil {
		fmt.Fprintf(a.err, "keyprov scan: writing the result: %v\n", err)
		return exitInvalid
	}
	a.log.Debug().Int("files", res.Files).Int("binary", res.Binary).Int("findings", len(res.Findings)).Strs("prefixes", prefixes.vals).Msg("scan finished")
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
		fmt.Fprintf(a.err, "keyprov scan: the spec does not evaluate (run keyprov validate); looking for the default prefix %s\n", token.DefaultPrefix)
		return token.DefaultPrefix
	}
	return ls.spec.Settings.TokenPrefix
}
