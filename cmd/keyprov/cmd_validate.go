package main

import (
	"context"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/spec"
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

Warns about a key whose expires or previous_until is already past, or
within --warn-expiry (as plan does for expires); warnings do not change
the exit status.

Exit status: 0 valid (warnings allowed), 1 invalid.`,
	run: runValidate,
}

// validateOptions are validate's flags and arguments: paths of specs,
// which replace the default spec but add to those named with -f.
type validateOptions struct {
	spec       *specFlags
	log        *logFlags
	output     *oneOf
	secrets    bool
	warnExpiry time.Duration
	paths      []string
}

func newValidateOptions(fs *flagSet, cfg Config) *validateOptions {
	o := &validateOptions{spec: addSpecFlags(fs, cfg)}
	fs.BoolVar(&o.secrets, "secrets", false, "read env() and file() and apply the token rules")
	fs.DurationVar(&o.warnExpiry, "warn-expiry", cfg.WarnExpiry, "warn about keys whose expires or previous_until is within this `duration` (0: only those already past) (KEYPROV_WARN_EXPIRY)")
	o.output = addOutputFlag(fs, "text, json (diagnostics as a JSON document) or github (GitHub Actions workflow commands)", "text", "json", "github")
	o.log = addLogFlags(fs, cfg)
	return o
}

// check makes the paths given as arguments the spec's files: they
// replace the default spec (keys.hcl, KEYPROV_FILE) but add to the ones
// named with -f. Any combination of flags is valid.
func (o *validateOptions) check() error {
	if len(o.paths) > 0 {
		if o.spec.files.set { // -f was given
			o.spec.files.vals = append(o.spec.files.vals, o.paths...)
		} else {
			o.spec.files.vals = o.paths
		}
	}
	return nil
}

func runValidate(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	o := newValidateOptions(fs, a.cfg)
	if code, ok := a.parseOptions(c, fs, args, &o.paths, o, o.log); !ok {
		return code
	}

	ls := a.loadSpec(o.spec, o.secrets)
	if ls.spec != nil && !ls.diags.HasErrors() {
		ls.diags = append(ls.diags, expiryDiagnostics(ls.spec, a.now(), o.warnExpiry)...)
	}
	errs, warns := view.Count(ls.diags)
	switch o.output.val {
	case "json":
		if err := view.WriteValidationJSON(a.out, ls.diags, ls.spec); err != nil {
			a.errorf("keyprov: %v", err)
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
			if err := view.WriteValidText(a.out, n, warns, o.secrets, checksumStates(ls.spec)); err != nil {
				a.errorf("keyprov: %v", err)
			}
		} else {
			a.errorf("The spec is invalid: %s, %s.", view.Plural(errs, "error"), view.Plural(warns, "warning"))
		}
	}
	a.log.Debug().Int("errors", errs).Int("warnings", warns).Bool("secrets", o.secrets).Msg("validate finished")
	if errs > 0 {
		return exitInvalid
	}
	return exitOK
}

// expiryDiagnostics warns about keys whose expires or previous_until is
// past or within warn of now (reconcile.KeyExpiryWarnings, which plan uses
// too), each at its key's block.
func expiryDiagnostics(s *spec.Spec, now time.Time, warn time.Duration) hcl.Diagnostics {
	summaries := map[string]string{
		reconcile.WarnExpired:          "Key expired",
		reconcile.WarnExpiring:         "Key expires soon",
		reconcile.WarnPreviousExpired:  "Previous token expired",
		reconcile.WarnPreviousExpiring: "Previous token expires soon",
	}
	var diags hcl.Diagnostics
	for _, k := range s.Keys {
		for _, w := range reconcile.KeyExpiryWarnings(k, now, warn) {
			subject := k.Block.DefRange()
			detail := w.Message + "."
			if first, _, _ := strings.Cut(detail, " "); !strings.Contains(first, "_") { // not an attribute's name
				detail = strings.ToUpper(detail[:1]) + detail[1:]
			}
			diags = append(diags, spec.WithAddress(&hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: summaries[w.Kind],
				Detail: detail, Subject: &subject}, w.Address))
		}
	}
	return diags
}
