package spec

import (
	"strings"
	"testing"
)

// maxFuzzRepeat bounds how often FuzzNestingBound repeats its unit: enough
// to go far past MaxNesting with any unit, little enough to stay fast.
const maxFuzzRepeat = 20_000

// FuzzNestingBound repeats a fragment many times between a prefix and a
// suffix (a parenthesis, an operator, a template, an index...) and
// evaluates the result. CheckNesting must refuse whatever would recurse too
// deeply: if it lets through an input that overflows the stack, the fuzz
// worker dies, a fatal error that no recover catches, and the input is
// reported as a crasher. Random mutation alone rarely nests a thousand
// levels; repetition does.
func FuzzNestingBound(f *testing.F) {
	const head = "universal_key \"a\" {\n  name  = \"A\"\n  token = env(\"A\")\n  description = "
	const jhead = `{"universal_key": {"a": {"name": "A", "token": "${env(\"A\")}", "description": `
	for _, seed := range []struct {
		prefix, unit, suffix string
		n                    uint16
		isJSON               bool
	}{
		{head, "(", "1", 5000, false},
		{head, "[", "1", 5000, false},
		{head, "{a = ", "1", 5000, false},
		{head, "-", "1", 5000, false},
		{head, "!", "true", 5000, false},
		{head, "1 + ", "1", 5000, false},
		{head, "true ? 1 : ", "2", 5000, false},
		{head, `"${`, `"x"`, 5000, false},
		{head, `"%{if true}`, `x"`, 5000, false},
		{head, "[for x in ", `["a"]`, 5000, false},
		{head, "lower(", `"x"`, 5000, false},
		{head + `["a"]`, "[0 * 0]", "", 5000, false},
		{head, "<<EOT\n${", "1", 5000, false},
		{head, "(\n-\n", "1", 5000, false},
		{head, `(")" == `, `"d"`, 5000, false},
		{head, "try(", "1", 5000, false},
		{head, "{for k, v in {a = 1} : k => ", "v", 5000, false},
		{head, "[1][", "0]", 5000, false},
		{"locals {\n", "  a = [local.b]\n  b = [local.a]\n", "}\n", 100, false},
		{jhead, "[", "1", 5000, true},
		{jhead, `{"a": `, "1", 5000, true},
		{jhead + `"`, "${(", "1", 5000, true},
		{jhead + `"`, `\u0024\u007b(`, "1", 5000, true},
		{jhead + "\"A\u0600\", \"x\": ", "[", "1", 5000, true},
		{head, "jsondecode(\"[", "", 5000, false},
	} {
		f.Add(seed.prefix, seed.unit, seed.suffix, seed.n, seed.isJSON)
	}
	f.Fuzz(func(t *testing.T, prefix, unit, suffix string, n uint16, isJSON bool) {
		reps := int(n) % (maxFuzzRepeat + 1)
		if len(prefix)+len(unit)*reps+len(suffix) > 1<<20 {
			return
		}
		src := prefix + strings.Repeat(unit, reps) + suffix
		name := "keys.hcl"
		if isJSON {
			name = "keys.hcl.json"
		}
		s, ds := evaluateWithin(t, []Source{{Name: name, Dir: ".", Bytes: []byte(src)}}, fuzzVarOptions())
		checkVarResult(t, s, ds)
		// The same text as a variable file and as a -var value.
		_ = CheckNesting([]byte(src), name, isJSON)
		_, _ = evaluateWithin(t, []Source{{Name: "keys.hcl", Dir: ".", Bytes: []byte(varFileSpec)}},
			Options{LookupEnv: fakeEnv{}.lookup, Vars: []Var{{Name: "tenants", Value: src}}, Limits: fuzzVarOptions().Limits})
	})
}
