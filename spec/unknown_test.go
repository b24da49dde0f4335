package spec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

// evalWithVars runs the evaluation of src with the variables set to vars
// directly, as no input can: a value that is not known when the spec is
// evaluated.
func evalWithVars(t *testing.T, src string, vars cty.Value) (keys []*Key, diags hcl.Diagnostics) {
	t.Helper()
	e := parsedEvaluator(t, Options{}, t.TempDir(), src)
	e.refs = e.checkSecretCalls()
	e.base.Variables["var"] = vars
	e.evalLocals()
	keys = e.evalKeys(e.evalSettings())
	return keys, e.dropRepeats(e.diags)
}

// Every declared key is counted or refused: an attribute whose value is not
// known when the spec is evaluated is an error at its position, never a
// key left out of validate, diff or plan. The value is made unknown the
// only way left (env() and file() are references now): directly.
func TestUnknownIsAnError(t *testing.T) {
	vars := cty.ObjectVal(map[string]cty.Value{
		"s":    cty.UnknownVal(cty.String),
		"b":    cty.UnknownVal(cty.Bool),
		"l":    cty.UnknownVal(cty.List(cty.String)),
		"m":    cty.UnknownVal(cty.Map(cty.String)),
		"part": cty.ListVal([]cty.Value{cty.StringVal("cms.read"), cty.UnknownVal(cty.String)}),
	})
	tests := map[string]string{
		"name":            `name = var.s`,
		"description":     `description = var.s`,
		"expires":         `expires = var.s`,
		"revoked":         `revoked = var.b`,
		"permissions":     `permissions = var.l`,
		"one permission":  `permissions = var.part`,
		"metadata":        `metadata = var.m`,
		"previous_until":  "previous_token = env(\"B\")\n  previous_until = var.s",
		"token name":      `token = env(var.s)`,
		"token path":      `token = file(var.s)`,
		"token key":       `token = jsondecode(file("s.json"))[var.s]`,
		"tenant":          "tenant = var.s",
		"slug":            "for_each = toset([\"a\"])\n  slug = var.s",
		"for_each":        "for_each = var.l",
		"through a local": "name = local.n\n}\nlocals {\n  n = \"x-${var.s}\"",
	}
	for attr, line := range tests {
		t.Run(attr, func(t *testing.T) {
			block := "tenant_key"
			body := "  tenant = \"acme\"\n"
			if strings.HasPrefix(line, "tenant =") {
				body = ""
			}
			if !strings.HasPrefix(line, "name =") {
				body += "  name = \"n\"\n"
			}
			if !strings.HasPrefix(line, "token =") {
				body += "  token = env(\"A\")\n"
			}
			src := fmt.Sprintf("%s \"k\" {\n%s  %s\n}\n", block, body, line)
			keys, diags := evalWithVars(t, src, vars)
			require.True(t, diags.HasErrors(), "the key was evaluated without an error:\n%s", src)
			assert.Empty(t, keys, "a key with an unknown attribute")
			// An error points at the line that makes the value unknown.
			// (through a local: the attribute that uses it).
			mark := "var."
			if strings.Contains(line, "local.") {
				mark = "local."
			}
			want := strings.Count(src[:strings.Index(src, mark)], "\n") + 1
			at := false
			for _, d := range diags {
				require.NotNil(t, d.Subject, "%s: %s", d.Summary, d.Detail)
				at = at || d.Subject.Start.Line == want
				assert.Equal(t, "keys.hcl", d.Subject.Filename)
				assert.NotEmpty(t, DiagnosticAddress(d), "%s: %s", d.Summary, d.Detail)
			}
			assert.True(t, at, "no error at line %d:\n%s", want, dumpDiags(diagsOf(diags)))
		})
	}

	// The same spec with known values has its key: the errors above come
	// from the unknowns alone.
	known := cty.ObjectVal(map[string]cty.Value{"s": cty.StringVal("x")})
	keys, diags := evalWithVars(t, "tenant_key \"k\" {\n  tenant = \"acme\"\n  name = var.s\n  token = env(var.s)\n}\n", known)
	require.False(t, diags.HasErrors(), "%v", diags)
	assert.Len(t, keys, 1)
}
