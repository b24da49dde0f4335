package spec

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
)

// diagExtra is stored in hcl.Diagnostic.Extra to carry the key's address.
type diagExtra struct {
	address    string
	hideSource bool
	inner      any
}

// UnwrapDiagnosticExtra implements hcl.DiagnosticExtraUnwrapper.
func (e diagExtra) UnwrapDiagnosticExtra() any { return e.inner }

// DiagnosticAddress returns the address of the key a diagnostic is about
// ("acme/website", or a block reference such as `tenant_key.website["acme"]`
// when the address could not be evaluated), or "".
func DiagnosticAddress(d *hcl.Diagnostic) string {
	if e, ok := d.Extra.(diagExtra); ok {
		return e.address
	}
	return ""
}

// DiagnosticHidesSource reports whether the source line of a diagnostic
// must not be shown, because it holds a value that should not be copied
// into logs (a token written into the spec).
func DiagnosticHidesSource(d *hcl.Diagnostic) bool {
	e, ok := d.Extra.(diagExtra)
	return ok && e.hideSource
}

// hideSource marks d so that renderers do not print its source line.
func hideSource(d *hcl.Diagnostic) *hcl.Diagnostic {
	d.Extra = diagExtra{hideSource: true, inner: d.Extra}
	return d
}

// WithAddress attaches the key address addr to d, unless it carries one:
// for diagnostics about a key made outside this package.
func WithAddress(d *hcl.Diagnostic, addr string) *hcl.Diagnostic {
	withAddress(hcl.Diagnostics{d}, addr)
	return d
}

// withAddress attaches addr to every diagnostic that does not carry one yet.
func withAddress(diags hcl.Diagnostics, addr string) hcl.Diagnostics {
	for _, d := range diags {
		switch e := d.Extra.(type) {
		case diagExtra:
			if e.address == "" {
				e.address = addr
				d.Extra = e
			}
		default:
			d.Extra = diagExtra{address: addr, inner: d.Extra}
		}
	}
	return diags
}

// Pos formats the start of r as file:line:col.
func Pos(r hcl.Range) string {
	if r.Filename == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

func errorf(rng *hcl.Range, summary, format string, args ...any) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: rng}
}

// sortByPos orders diagnostics by their position: HCL reports the
// attributes of a body in the order of a Go map, and one run must print
// the same as the next.
func sortByPos(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a != nil && b == nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
}
