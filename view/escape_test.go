package view_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/view"
)

func TestPrintable(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"plain":            {"Front end", "Front end"},
		"unicode":          {"Café – 東京 ✓", "Café – 東京 ✓"},
		"backslash":        {`a\x1b`, `a\x1b`},
		"escape sequence":  {"a\x1b[31mred\x1b[0m", `a\x1b[31mred\x1b[0m`},
		"carriage return":  {"ok\rEVIL", `ok\rEVIL`},
		"bell, tab, lf":    {"\a\t\n", `\a\t\n`},
		"nul and del":      {"\x00\x7f", `\x00\x7f`},
		"C1 CSI":           {"a\u009b31m", `a\u009b31m`},
		"bidi override":    {"abc\u202edcba", `abc\u202edcba`},
		"bidi isolates":    {"\u2066x\u2069\u200f\u061c", `\u2066x\u2069\u200f\u061c`},
		"zero width":       {"a\u200bb\ufeff", `a\u200bb\ufeff`},
		"line separator":   {"a\u2028b", `a\u2028b`},
		"tag character":    {"a\U000E0041", `a\U000e0041`},
		"invalid UTF-8":    {"a\xffb\xc3", `a\xffb\xc3`},
		"replacement char": {"a\ufffdb", "a\ufffdb"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, view.Printable(tt.in))
		})
	}
}

func TestPrintableJSON(t *testing.T) {
	v := map[string]string{"name": "a\x1b[31m\u009b\u202e\U000E0041\x7f \u00e9", "k\u2066": "v"}
	b, err := json.MarshalIndent(v, "", "\t")
	require.NoError(t, err)
	got := view.PrintableJSON(b)
	assert.Equal(t, "{\n\t\"k\\u2066\": \"v\",\n\t\"name\": \"a\\u001b[31m\\u009b\\u202e\\udb40\\udc41\\u007f \u00e9\"\n}", string(got),
		"only non-printable characters inside strings change; indentation stays")
	var back map[string]string
	require.NoError(t, json.Unmarshal(got, &back))
	assert.Equal(t, v, back, "the document means the same")
	plain := []byte(`{"a": "b"}`)
	assert.Equal(t, plain, view.PrintableJSON(plain))
}

// TestPlanViewsEscapeStoredValues renders a plan whose old values were
// written into the store by another tool: every renderer escapes them.
func TestPlanViewsEscapeStoredValues(t *testing.T) {
	p := &reconcile.Plan{Owner: "platform", Now: planNow, Changes: []reconcile.Change{
		{Address: spec.Address{Tenant: "acme", Slug: "x\x1b[2Jy"}, Action: reconcile.Revoke, KeyID: 1, Reason: reconcile.ReasonRemoved,
			Token: &reconcile.TokenChange{Before: "wat_…\u202eab", Retired: []string{"wat_…\u202eab"}}},
		{Address: addr("acme/site"), Action: reconcile.Update, KeyID: 2, Fields: []reconcile.FieldChange{
			{Field: "name", Before: "Site\r\x07", After: "Site"},
			{Field: "metadata", Before: raw("{\"team\": \"\u202eweb\u009b\"}"), After: raw(`{"team": "web"}`)},
			{Field: "permissions", Before: raw("[{\"name\": \"cms\u2066.read\"}]"), After: raw(`[]`),
				Removed: []json.RawMessage{raw("{\"name\": \"cms\u2066.read\"}")}},
		}},
	}}
	for _, format := range []string{"text", "json", "markdown"} {
		v, err := view.NewPlanView(format, false, 0)
		require.NoError(t, err)
		var b bytes.Buffer
		require.NoError(t, v.Render(&b, &view.Report{Plan: p, Command: "plan", RunID: "r1"}))
		out := b.String()
		for _, c := range []string{"\x1b", "\r", "\x07", "\u202e", "\u2066", "\u009b"} {
			assert.NotContains(t, out, c, "%s output holds %q", format, c)
		}
		if format == "json" {
			assert.True(t, json.Valid(b.Bytes()))
		}
	}
}
