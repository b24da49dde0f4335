package spec

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNumberLitInRange(t *testing.T) {
	for lit, want := range map[string]bool{
		"0": true, "0.0": true, "1": true, "-1.5": true, "1e1000": true, "9.99e1000": true,
		"1e1001": false, "10e1000": false, "1e-1000": true, "1e-1001": false, "0.001e-997": true,
		"0.001e-998": false, "1e9999999": false, "1e999999999999999999999": false, "1e+5": true,
		"123456789012345678901234567890": true,
	} {
		assert.Equal(t, want, numberLitInRange(lit), lit)
	}
}

// TestNumbersOutOfRange checks that numbers too large to print are refused
// wherever they come from. Before, description = 1e9999999 spent half a
// minute writing ten million digits, and 1e999999999 would have taken days.
func TestNumbersOutOfRange(t *testing.T) {
	const numSpec = "variable \"n\" {\n  type    = number\n  default = 1\n}\n"
	tests := map[string]struct {
		files map[string]string
		opts  Options
		want  diag
	}{
		"literal": {
			files: map[string]string{"keys.hcl": keyWith("description = 1e9999999")},
			want:  diag{Pos: "keys.hcl:4:17", Summary: "Number out of range", Detail: "up to 1e1000"},
		},
		"in a template": {
			files: map[string]string{"keys.hcl": keyWith(`description = "n${1e999999999}"`)},
			want:  diag{Pos: "keys.hcl:4:21", Summary: "Number out of range"},
		},
		"JSON syntax": {
			files: map[string]string{"keys.hcl.json": `{"universal_key": {"a": {"name": "A", "token": "${env(\"A\")}", "description": 1e99999}}}`},
			want:  diag{Pos: "keys.hcl.json:1:80", Summary: "Number out of range"},
		},
		"template in JSON syntax": {
			files: map[string]string{"keys.hcl.json": `{"universal_key": {"a": {"name": "A", "token": "${env(\"A\")}", "description": "${1e99999}"}}}`},
			want:  diag{Pos: "keys.hcl.json:1:80", Summary: "Number out of range"},
		},
		"-var": {
			files: map[string]string{"keys.hcl": numSpec + keyWith("description = var.n")},
			opts:  Options{Vars: []Var{{Name: "n", Value: "1e99999999"}}},
			want:  diag{Summary: "Invalid value for variable", Detail: `"n" (from -var n) holds a number out of range`},
		},
		"variable file": {
			files: map[string]string{"keys.hcl": numSpec + keyWith("description = var.n"), "vars.json": `{"n": "1e99999"}`},
			opts:  Options{VarFiles: []string{"vars.json"}},
			want:  diag{Pos: "vars.json:1:7", Summary: "Invalid value for variable", Detail: "holds a number out of range"},
		},
		"jsondecode": {
			files: map[string]string{"keys.hcl": keyWith(`description = jsondecode("[1e99999]")[0]`)},
			want:  diag{Pos: "keys.hcl:4:29", Summary: "Invalid function argument", Detail: "the result is a number out of range", Address: "root/a"},
		},
		"jsondecode past big.Float's exponent": {
			files: map[string]string{"keys.hcl": keyWith(`description = jsondecode("[1E700000000]")[0]`)},
			want:  diag{Pos: "keys.hcl:4:29", Summary: "Invalid function argument", Detail: "the result is a number out of range", Address: "root/a"},
		},
		"variable file past big.Float's exponent": {
			files: map[string]string{"keys.hcl": numSpec + keyWith("description = var.n"), "vars.json": `{"n": 1E700000000}`},
			opts:  Options{VarFiles: []string{"vars.json"}},
			want:  diag{Pos: "vars.json:1:7", Summary: "Number out of range", Detail: "up to 1e1000"},
		},
		"-var past big.Float's exponent": {
			files: map[string]string{"keys.hcl": numSpec + keyWith("description = var.n")},
			opts:  Options{Vars: []Var{{Name: "n", Value: "1E700000000"}}},
			want:  diag{Summary: "Invalid value for variable", Detail: `"n" (from -var n) holds a number out of range`},
		},
		"parseint": {
			files: map[string]string{"keys.hcl": keyWith(`description = parseint(join("", [for i in range(1024) : "9"]), 10)`)},
			want:  diag{Pos: "keys.hcl:4:17", Summary: "Error in function call", Detail: "the result is a number out of range", Address: "root/a"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.opts.Paths == nil {
				tc.opts.Paths = []string{"."}
			}
			s, ds := loadFiles(t, tc.files, tc.opts)
			require.Nil(t, s)
			requireDiags(t, ds, tc.want)
		})
	}
}
