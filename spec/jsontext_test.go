package spec

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestJSONText checks that a JSON-syntax spec or variable file holds UTF-8
// text: HCL's JSON parser would replace invalid bytes and lone surrogate
// escapes with U+FFFD, and store what the reviewed file does not say.
func TestJSONText(t *testing.T) {
	const head = `{"universal_key": {"a": {"token": "${env(\"A\")}", "name": "`
	tests := map[string]struct {
		name string // the JSON text of the name, between quotes
		want *diag
	}{
		"raw byte":               {name: "Front\xffend", want: &diag{Pos: "keys.hcl.json:1:66", Summary: "Invalid character encoding"}},
		"truncated sequence":     {name: "Caf\xc3", want: &diag{Pos: "keys.hcl.json:1:64", Summary: "Invalid character encoding"}},
		"lone high surrogate":    {name: `a\ud800b`, want: &diag{Pos: "keys.hcl.json:1:62", Summary: "Invalid escape sequence", Detail: "U+d800"}},
		"lone low surrogate":     {name: `a\uDC00`, want: &diag{Pos: "keys.hcl.json:1:62", Summary: "Invalid escape sequence", Detail: "U+DC00"}},
		"high then not low":      {name: `\ud83d\u0041`, want: &diag{Pos: "keys.hcl.json:1:61", Summary: "Invalid escape sequence", Detail: "U+d83d"}},
		"surrogate pair":         {name: `smile \ud83d\ude00`},
		"escaped backslash":      {name: `a\\ud800`},
		"replacement char":       {name: "a\ufffd \\ufffd"},
		"escapes around a pair":  {name: `\"\ud83d\ude00\/`},
		"multibyte before error": {name: "Grüße \\udfff", want: &diag{Pos: "keys.hcl.json:1:67", Summary: "Invalid escape sequence", Detail: "U+dfff"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := head + tc.name + `"}}}`
			s, ds := Evaluate([]Source{{Name: "keys.hcl.json", Dir: t.TempDir(), Bytes: []byte(src)}}, Options{})
			if tc.want == nil {
				require.Empty(t, diagsOf(ds))
				assert.NotNil(t, s)
				return
			}
			requireDiags(t, ds, *tc.want)
		})
	}
	t.Run("variable file", func(t *testing.T) {
		files := map[string]string{
			"keys.hcl":  "variable \"team\" {\n  type = string\n}\n" + keyWith(`description = var.team`),
			"vars.json": `{"team": "web\udbff"}`,
		}
		_, ds := loadFiles(t, files, Options{Paths: []string{"keys.hcl"}, VarFiles: []string{"vars.json"}})
		requireDiags(t, ds,
			diag{Pos: "vars.json:1:14", Summary: "Invalid escape sequence", Detail: "U+dbff"},
			diag{Pos: "keys.hcl:1:1", Summary: "No value for required variable"})
	})
}
