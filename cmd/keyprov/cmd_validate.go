package main

import (
	"context"
	"fmt"

	"github.com/keyprov/keyprov/view"
)

var validateCmd = &command{
	name:    "validate",
	args:    "[PATH...]",
	summary: "check a spec without a database",
	help: `Checks a spec without a database and reports every problem at once, each
with its file:line:col and the key's address.

By default no secret is needed: env() and file() yield unknown values and
everything else is checked. This is what runs in pull requests. With
--secrets, env() and file() are read and the token rules are applied too.

Exit status: 0 valid (warnings allowed), 1 invalid.`,
	run: runValidate,
}

func runValidate(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	sf := addSpecFlags(fs, a.cfg)
	secrets := fs.Bool("secrets", false, "read env() and file() and apply the token rules")
	out := addOutputFlag(fs, "text, json (diagnostics as a JSON document) or github (GitHub Actions workflow commands)", "text", "json", "github")
	lf := addLogFlags(fs, a.cfg)
	pos, code, ok := fs.parse(a, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		// Paths given as arguments replace the default spec (keys.hcl,
		// KEYPROV_FILE) but add to the ones named with -f.
		if fs.given("file") || fs.given("f") {
			sf.files.vals = append(sf.files.vals, pos...)
		} else {
			sf.files.vals = pos
		}
	}
	lf.setup(a)

	ls := a.loadSpec(sf, *secrets)
	errs, warns := view.Count(ls.diags)
	switch out.val {
	case "json":
		if err := view.WriteDiagnosticsJSON(a.out, ls.diags); err != nil {
			fmt.Fprintf(a.err, "keyprov: %v\n", err)
		}
	case "github":
		view.WriteDiagnosticsGitHub(a.out, ls.diags)
	default:
		a.printDiagnostics(ls)
		if errs == 0 {
			n := 0
			if ls.spec != nil {
				n = len(ls.spec.Keys)
			}
			mode := "secrets not read"
			if *secrets {
				mode = "secrets read"
				writeChecksumStates(a.out, ls.spec)
			}
			fmt.Fprintf(a.out, "The spec is valid: %s, %s (%s).\n", plural(n, "key"), plural(warns, "warning"), mode)
		} else {
			fmt.Fprintf(a.err, "The spec is invalid: %s, %s.\n", plural(errs, "error"), plural(warns, "warning"))
		}
	}
	a.log.Debug().Int("errors", errs).Int("warnings", warns).Bool("secrets", *secrets).Msg("validate finished")
	if errs > 0 {
		return exitInvalid
	}
	return exitOK
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
