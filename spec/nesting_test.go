package spec

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// keyWith is a valid universal key whose last attribute is attr.
func keyWith(attr string) string {
	return "universal_key \"a\" {\n  name  = \"A\"\n  token = env(\"A\")\n  " + attr + "\n}\n"
}

// TestNesting checks that every way of nesting an expression is measured
// before HCL parses it: past MaxNesting the spec is refused with a
// position, and up to it the spec evaluates. Without the bound, 100,000
// levels overflowed the Go stack, a fatal error that no recover catches,
// so a failure of this test is a crash of the test binary.
func TestNesting(t *testing.T) {
	const deep = 100_000
	rep := strings.Repeat
	tests := map[string]struct {
		file string // keys.hcl unless it ends in .json
		src  string
		pos  string // position of the error, "" when the spec is valid
	}{
		"parentheses":         {src: keyWith("description = " + rep("(", deep) + `"d"` + rep(")", deep)), pos: "keys.hcl:4:1016"},
		"unclosed":            {src: keyWith("description = " + rep("(", deep)), pos: "keys.hcl:4:1016"},
		"lists":               {src: keyWith("permissions = " + rep("[", deep) + `"d"` + rep("]", deep)), pos: "keys.hcl:4:1016"},
		"objects":             {src: keyWith("metadata = " + rep("{a = ", deep) + `"d"` + rep("}", deep)), pos: "keys.hcl:4:5009"},
		"function calls":      {src: keyWith("description = " + rep("lower(", deep) + `"d"` + rep(")", deep)), pos: "keys.hcl:4:6016"},
		"unary minus":         {src: keyWith("description = " + rep("-", deep) + "1"), pos: "keys.hcl:4:1016"},
		"negation":            {src: keyWith("revoked = " + rep("!", deep) + "true"), pos: "keys.hcl:4:1012"},
		"binary operators":    {src: keyWith("description = " + rep("1 + ", deep) + "1"), pos: "keys.hcl:4:4015"},
		"conditionals":        {src: keyWith("description = " + rep(`true ? "a" : `, deep) + `"b"`), pos: "keys.hcl:4:12998"},
		"indexes":             {src: keyWith(`description = ["a"]` + rep("[0 * 0]", deep)), pos: "keys.hcl:4:7004"},
		"templates":           {src: keyWith(`description = "` + rep(`${"`, deep) + "d" + rep(`"}`, deep) + `"`), pos: "keys.hcl:4:1515"},
		"template directives": {src: keyWith(`description = "` + rep("%{if true}", deep) + "x" + rep("%{endif}", deep) + `"`), pos: "keys.hcl:4:9990"},
		"heredocs":            {src: keyWith("description = <<EOT\n" + rep("${<<EOT\n", deep) + "d\nEOT\n" + rep("}\nEOT\n", deep)), pos: "keys.hcl:504:1"},
		"for expressions":     {src: keyWith("permissions = " + rep("[for x in ", deep) + `["a"]` + rep(": x]", deep)), pos: "keys.hcl:4:5017"},
		"operators in parentheses across lines": {
			src: keyWith("description = (\n" + rep("-\n", deep) + "1)"), pos: "keys.hcl:1003:1",
		},
		// A closing parenthesis inside a string closes nothing; each level
		// is a parenthesis and an operator.
		"closers in strings": {
			src: keyWith("description = " + rep(`(")" == `, deep) + `"d"` + rep(")", deep)), pos: "keys.hcl:4:4010",
		},
		"JSON arrays": {
			file: "keys.hcl.json",
			src:  `{"universal_key": {"a": {"name": "A", "token": "${env(\"A\")}", "permissions": ` + rep("[", deep) + `"d"` + rep("]", deep) + "}}}",
			pos:  "keys.hcl.json:1:1077",
		},
		"JSON unclosed": {
			file: "keys.hcl.json",
			src:  `{"universal_key": {"a": {"name": "A", "token": "${env(\"A\")}", "metadata": ` + rep(`{"a": `, deep),
			pos:  "keys.hcl.json:1:6059",
		},
		"template in a JSON string": {
			file: "keys.hcl.json",
			src:  `{"universal_key": {"a": {"name": "A", "token": "${env(\"A\")}", "description": "` + rep("${(", 600) + "1" + rep(")}", 600) + `"}}}`,
			pos:  "keys.hcl.json:1:80",
		},
		"escaped template in a JSON string": {
			file: "keys.hcl.json",
			src:  `{"universal_key": {"a": {"name": "A", "token": "${env(\"A\")}", "description": "` + rep(`\u0024\u007b(`, 600) + "1" + rep(")}", 600) + `"}}}`,
			pos:  "keys.hcl.json:1:80",
		},
		// HCL's JSON scanner reads a prepended character (U+0600) and the
		// quote after it as one grapheme cluster, so its string goes on
		// past that quote and the brackets, which a plain JSON reader
		// sees inside a string, are structure to HCL. The check reads
		// strings as HCL does.
		"JSON quote after a prepend character": {
			file: "keys.hcl.json",
			src:  "{\"universal_key\": {\"a\": {\"name\": \"A\u0600\", \"description\": \"" + rep("[", deep) + "\"}}}",
			pos:  "keys.hcl.json:1:1054",
		},
		"JSON strings hold brackets": {
			file: "keys.hcl.json",
			src:  `{"universal_key": {"a": {"name": "A", "token": "${env(\"A\")}", "description": "` + rep("[", deep) + `"}}}`,
			pos:  "",
		},
		"just below the limit": {src: keyWith("description = " + rep("(", MaxNesting-10) + `"d"` + rep(")", MaxNesting-10))},
		"long flat lists":      {src: keyWith("description = length([" + rep("1, ", deep) + "1])")},
		"many operators on separate attributes": {
			src: "locals {\n" + rep("  x = 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1\n", 1) + "}\n" + keyWith("description = local.x + "+rep("1 + ", 500)+"1"),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			file := tc.file
			if file == "" {
				file = "keys.hcl"
			}
			start := time.Now()
			s, ds := Evaluate([]Source{{Name: file, Dir: t.TempDir(), Bytes: []byte(tc.src)}}, Options{})
			t.Logf("evaluated in %s", time.Since(start))
			if tc.pos == "" {
				for _, d := range ds {
					assert.NotEqual(t, "Expression nested too deeply", d.Summary, "%s: %s", posOf(d), d.Detail)
				}
				return
			}
			require.Nil(t, s)
			requireDiags(t, ds, diag{Pos: tc.pos, Summary: "Expression nested too deeply", Detail: fmt.Sprintf("nested more than %d levels deep", MaxNesting)})
		})
	}
}

func posOf(d *hcl.Diagnostic) string {
	if d.Subject == nil {
		return ""
	}
	return Pos(*d.Subject)
}

// TestNestingOfVariables bounds the other texts that are parsed: variable
// files (HCL and JSON), -var values and KEYPROV_VAR_<name>, and what
// jsondecode reads.
func TestNestingOfVariables(t *testing.T) {
	const deep = 100_000
	rep := strings.Repeat
	spec := "variable \"tenants\" {\n  type = list(any)\n  default = []\n}\n" + keyWith(`description = length(var.tenants)`)
	deepList := rep("[", deep) + `"x"` + rep("]", deep)
	tests := map[string]struct {
		files map[string]string
		opts  Options
		want  diag
	}{
		"HCL variable file": {
			files: map[string]string{"vars.hcl": "tenants = " + deepList + "\n"},
			opts:  Options{VarFiles: []string{"vars.hcl"}},
			want:  diag{Pos: "vars.hcl:1:1011", Summary: "Expression nested too deeply", Detail: "levels deep"},
		},
		"JSON variable file": {
			files: map[string]string{"vars.json": `{"tenants": ` + deepList + "}"},
			opts:  Options{VarFiles: []string{"vars.json"}},
			want:  diag{Pos: "vars.json:1:1012", Summary: "Expression nested too deeply", Detail: "levels deep"},
		},
		"-var": {
			opts: Options{Vars: []Var{{Name: "tenants", Value: deepList}}},
			want: diag{Pos: "-var tenants:1:1001", Summary: "Expression nested too deeply", Detail: "levels deep"},
		},
		"KEYPROV_VAR_": {
			opts: Options{LookupEnv: fakeEnv{"KEYPROV_VAR_tenants": deepList}.lookup},
			want: diag{Pos: "KEYPROV_VAR_tenants:1:1001", Summary: "Expression nested too deeply", Detail: "levels deep"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{"keys.hcl": spec}
			for n, c := range tc.files {
				files[n] = c
			}
			tc.opts.Paths = []string{"keys.hcl"}
			s, ds := loadFiles(t, files, tc.opts)
			require.Nil(t, s)
			requireDiags(t, ds, tc.want)
		})
	}

	t.Run("jsondecode", func(t *testing.T) {
		_, ds := load(t, keyWith(`description = length(jsondecode("`+rep("[", deep)+`"))`), Options{})
		requireDiags(t, ds, diag{Pos: "keys.hcl:4:36", Summary: "Invalid function argument", Address: "root/a",
			Detail: fmt.Sprintf("the JSON nests arrays and objects more than %d levels deep", MaxNesting)})
	})
}

// TestLocalsAtScale checks that locals cost linear time and that neither a
// long chain of locals nor locals that nest each other's values can build
// a value deeper than MaxNesting.
func TestLocalsAtScale(t *testing.T) {
	var b strings.Builder
	b.WriteString("locals {\n")
	for i := range 20_000 {
		fmt.Fprintf(&b, "  v%d = \"value %d\"\n", i, i)
	}
	b.WriteString("  last = local.v19999\n}\n")
	b.WriteString(keyWith("description = local.last"))
	s, ds := load(t, b.String(), Options{})
	require.Empty(t, diagsOf(ds))
	assert.Equal(t, "value 19999", s.Keys[0].Description)

	t.Run("chain", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("locals {\n")
		for i := range 5000 {
			fmt.Fprintf(&b, "  v%d = local.v%d\n", i, i+1)
		}
		b.WriteString("  v5000 = \"end\"\n}\n")
		b.WriteString(keyWith("description = local.v0"))
		_, ds := load(t, b.String(), Options{})
		requireDiags(t, ds, diag{Pos: "keys.hcl:1002:3", Summary: "Local values nested too deeply", Detail: "local.v1000 is reached through a chain of more than 1000 local values"})
	})
	t.Run("nested values", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("locals {\n")
		for i := range 300 {
			fmt.Fprintf(&b, "  v%d = [[[[[[[[[[local.v%d]]]]]]]]]]\n", i, i+1)
		}
		b.WriteString("  v300 = \"end\"\n}\n")
		b.WriteString(keyWith("description = jsonencode(local.v0)"))
		_, ds := load(t, b.String(), Options{})
		// v199 is the first too deep; v98 is too deep again around
		// v199's unknown value.
		requireDiags(t, ds,
			diag{Pos: "keys.hcl:201:10", Summary: "Value nested too deeply", Detail: "The value of local.v199 nests lists, maps and objects more than 1000 levels deep"},
			diag{Pos: "keys.hcl:100:9", Summary: "Value nested too deeply", Detail: "The value of local.v98 nests"})
	})
	t.Run("whole object and undeclared locals", func(t *testing.T) {
		_, ds := load(t, "locals {\n  a = \"x\"\n  b = keys(local)\n  c = local.nope\n}\n"+keyWith("description = join(\",\", local.b)"), Options{})
		requireDiags(t, ds, diag{Pos: "keys.hcl:4:12", Summary: "Unsupported attribute", Detail: `This object does not have an attribute named "nope".`})
	})
}
