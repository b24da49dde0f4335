package spec

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

// TestForEachOnlyVars holds forEachOnlyVars to its answer: the variables
// read only as the whole for_each of a key block, and none as soon as a
// reading of var cannot be told apart.
func TestForEachOnlyVars(t *testing.T) {
	withSpeedLayer(t, true)
	const decls = "variable \"tenants\" {\n  type = map(string)\n}\nvariable \"other\" {\n  type = map(string)\n}\n"
	block := func(label, forEach, name string) string {
		return "tenant_key \"" + label + "\" {\n  for_each = " + forEach + "\n  tenant   = each.key\n  name     = " + name + "\n  token    = env(\"A\")\n}\n"
	}
	for _, c := range []struct {
		name, spec string
		want       []string
	}{
		{"for_each only", block("w", "var.tenants", "each.value"), []string{"tenants"}},
		{"by index", block("w", `var["tenants"]`, "each.value"), []string{"tenants"}},
		{"two blocks", block("w", "var.tenants", "each.value") + block("m", "var.other", "each.key"), []string{"tenants", "other"}},
		{"two blocks over one", block("w", "var.tenants", "each.value") + block("m", "var.tenants", "each.key"), []string{"tenants"}},
		{"read in an attribute", block("w", "var.tenants", "var.tenants[each.key]"), nil},
		{"read by the other block", block("w", "var.tenants", "each.value") + block("m", "var.other", "var.tenants[each.key]"), []string{"other"}},
		{"read by a local", block("w", "var.tenants", "each.value") + "locals {\n  n = length(var.tenants)\n}\n", nil},
		{"read by a setting", block("w", "var.tenants", "each.value") + "settings {\n  owner = var.tenants[\"x\"]\n}\n", nil},
		{"read in a default", "variable \"d\" {\n  default = var.tenants\n}\n" + block("w", "var.tenants", "each.value"), nil},
		{"a part of it", block("w", "var.tenants.x", "each.value"), nil},
		{"an expression of it", block("w", "merge(var.tenants)", "each.value"), nil},
		{"a for expression over it", block("w", "{ for k, v in var.tenants : k => v }", "each.value"), nil},
		{"var whole", block("w", "var.tenants", "each.value") + block("m", "var", "each.key"), nil},
		{"var by a computed name", block("w", "var.tenants", "each.value") + "locals {\n  x = var[local.k]\n  k = \"other\"\n}\n", nil},
		{"var named by a for expression", block("w", "var.tenants", "each.value") + "locals {\n  x = [for var in [\"a\"] : var]\n}\n", nil},
		{"var.name of a for expression's var", block("w", "var.tenants", "each.value") + "locals {\n  x = [for var in [{ tenants = 1 }] : var.tenants]\n}\n", nil},
		{"no for_each", "tenant_key \"k\" {\n  tenant = \"a\"\n  name   = \"x\"\n  token  = env(\"A\")\n}\n", nil},
		{"a for_each of a local", "locals {\n  t = var.tenants\n}\n" + block("w", "local.t", "each.value"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := parsedEvaluator(t, Options{}, t.TempDir(), decls+c.spec)
			got := e.forEachOnlyVars()
			want := map[string]bool{}
			for _, n := range c.want {
				want[n] = true
			}
			assert.Equal(t, want, nonNil(got))
		})
	}
	t.Run("the speed layer off", func(t *testing.T) {
		withSpeedLayer(t, false)
		assert.Nil(t, parsedEvaluator(t, Options{}, t.TempDir(), decls+block("w", "var.tenants", "each.value")).forEachOnlyVars())
	})
}

func nonNil(m map[string]bool) map[string]bool {
	if m == nil {
		return map[string]bool{}
	}
	return m
}

// TestMembersOnlyMapIsNotMade shows the benchmark's shape taking the
// members-only way: the variable's value is never made (it is
// cty.DynamicVal in var), and its keys come from the members, as the
// map's would.
func TestMembersOnlyMapIsNotMade(t *testing.T) {
	withSpeedLayer(t, true)
	dir := writeFiles(t, map[string]string{"tenants.json": `{"tenants": {"globex": "Globex", "acme": "Acme"}}`})
	src := "variable \"tenants\" {\n  type = map(string)\n}\n" +
		"tenant_key \"website\" {\n  for_each = var.tenants\n  tenant   = each.key\n  name     = each.value\n  token    = env(\"A\")\n}\n"
	opts := Options{VarFiles: []string{dir + "/tenants.json"}, LookupEnv: fakeEnv{"A": tokA}.lookup}
	e := parsedEvaluator(t, opts, dir, src)
	vars := e.evalVariables()
	require.False(t, e.diags.HasErrors(), "%v", e.diags)
	assert.Equal(t, map[string]bool{"tenants": true}, e.forEachOnly)
	assert.True(t, vars.GetAttr("tenants").RawEquals(cty.DynamicVal), "the map is not made")
	require.NotNil(t, e.deferred["tenants"])
	assert.Equal(t, [][2]string{{"acme", "Acme"}, {"globex", "Globex"}}, e.deferred["tenants"].Pairs, "in the map's order")

	s, diags := Evaluate([]Source{{Name: "keys.hcl", Dir: dir, Bytes: []byte(src)}}, opts)
	require.False(t, diags.HasErrors(), "%v", diags)
	require.Len(t, s.Keys, 2)
	assert.Equal(t, "acme", s.Keys[0].Address.Tenant)
	assert.Equal(t, "Acme", s.Keys[0].Name)
	assert.Equal(t, "Globex", s.Keys[1].Name)
}
