package spec

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

// TestMismatchMessageIsStable converts values with several wrong
// attributes or elements many times: the message must name the same one
// every time (the first in name order), at every depth. cty's own message
// names whichever its map iteration reaches first (found by FuzzVarFile).
func TestMismatchMessageIsStable(t *testing.T) {
	wrong := map[string]cty.Value{}
	for _, name := range []string{"A1", "20", "b", "zz", "m", "0"} {
		wrong[name] = cty.True
	}
	wrong["20"] = cty.TupleVal([]cty.Value{cty.NumberIntVal(1)})
	nested := cty.ObjectVal(map[string]cty.Value{"x": cty.ObjectVal(wrong), "a": cty.ObjectVal(wrong)})
	objTy := cty.Object(map[string]cty.Type{"p": cty.Number, "q": cty.List(cty.String), "r": cty.Bool})
	for _, tc := range []struct {
		name string
		val  cty.Value
		ty   cty.Type
		want string
	}{
		{"object to map", cty.ObjectVal(wrong), cty.Map(cty.Number), `element "0": number required, but have bool`},
		{"nested maps", nested, cty.Map(cty.Map(cty.Number)), `element "a": element "0": number required, but have bool`},
		{"tuple of objects to list", cty.TupleVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"k": cty.NumberIntVal(1)}), cty.ObjectVal(wrong)}), cty.List(cty.Map(cty.Number)),
			`element 1: element "0": number required, but have bool`},
		{"object attributes", cty.ObjectVal(map[string]cty.Value{"p": cty.True, "q": cty.True, "r": cty.ObjectVal(wrong)}), objTy,
			`attribute "p": number required, but have bool`},
		{"object inside object", cty.ObjectVal(map[string]cty.Value{"o": cty.ObjectVal(map[string]cty.Value{"q": cty.True, "p": cty.True, "r": cty.True})}),
			cty.Object(map[string]cty.Type{"o": objTy}), `attribute "o": attribute "p": number required, but have bool`},
		{"missing attributes", cty.ObjectVal(map[string]cty.Value{"r": cty.True}), objTy, `attributes "p" and "q" are required`},
		{"map of objects", cty.MapVal(map[string]cty.Value{"k": cty.ObjectVal(map[string]cty.Value{"o": cty.True})}), cty.Map(cty.Map(cty.Number)),
			`incorrect map element type: element "o": number required, but have bool`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 50 {
				_, err := convertValue(tc.val, tc.ty)
				require.Error(t, err)
				assert.Equal(t, tc.want, err.Error())
			}
		})
	}
}

// TestVariableMismatchIsStable is the case FuzzVarFile found: a variable
// file whose map has two wrong elements gave a different diagnostic on the
// second evaluation.
func TestVariableMismatchIsStable(t *testing.T) {
	dir := writeFiles(t, map[string]string{"vars.hcl": "limits = { A1 = true, 20 = [1], b = 2 }\n"})
	opts := fuzzVarOptions()
	opts.VarFiles = []string{filepath.Join(dir, "vars.hcl")}
	srcs := []Source{{Name: "keys.hcl", Dir: dir, Bytes: []byte(varFileSpec)}}
	for range 30 {
		_, ds := Evaluate(srcs, opts)
		require.Len(t, ds, 1)
		assert.Contains(t, ds[0].Detail, `element "20": number required, but have tuple.`)
	}
}
