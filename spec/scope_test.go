package spec

import (
	"fmt"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// TestScopeFastFormsAgreeWithHCL evaluates per-instance attributes of
// the shapes the speed layer evaluates without HCL, for each.key and
// each.value of every kind, and checks that the answer (value, marks,
// errors) is the one HCL gives for the expression as written.
func TestScopeFastFormsAgreeWithHCL(t *testing.T) {
	withSpeedLayer(t, true) // a test of the layer itself
	// No spec value is marked (token references are read in Go), but the
	// fast forms pass marks as HCL does, whatever they are.
	type mark struct{}
	markSecret := mark{}
	constFunc := func(v cty.Value) function.Function {
		return function.New(&function.Spec{
			Type: function.StaticReturnType(v.Type()),
			Impl: func([]cty.Value, cty.Type) (cty.Value, error) { return v, nil },
		})
	}
	plain := cty.MapVal(map[string]cty.Value{"a": cty.StringVal("x"), "b": cty.StringVal("y")})
	ctx := &hcl.EvalContext{Functions: map[string]function.Function{
		"plain":  constFunc(plain),
		"marked": constFunc(plain.Mark(markSecret)),
		"inner":  constFunc(cty.MapVal(map[string]cty.Value{"a": cty.StringVal("x").Mark(markSecret), "b": cty.StringVal("y")})),
		"flags":  constFunc(cty.MapVal(map[string]cty.Value{"a": cty.True, "b": cty.False})),
	}}

	exprs := []string{
		`each.key`,
		`each.value`,
		`"${each.value}"`,
		`"k-${each.key}"`,
		`"${each.value}-${each.key}-x"`,
		`plain()[each.key]`,
		`plain()[each.value]`,
		`marked()[each.key]`,
		`inner()[each.key]`,
		`flags()[each.key]`,
		`"p-${plain()[each.key]}"`,
		`"p-${inner()[each.key]}"`,
	}
	eachs := []struct{ key, value cty.Value }{
		{cty.StringVal("a"), cty.StringVal("b")},
		{cty.StringVal("b"), cty.StringVal("a")},
		{cty.StringVal("a"), cty.StringVal("é")},
		{cty.StringVal("zz"), cty.StringVal("zz")},
		{cty.StringVal("a"), cty.NumberIntVal(3)},
		{cty.StringVal("a"), cty.True},
		{cty.StringVal("a"), cty.NullVal(cty.String)},
		{cty.StringVal("a"), cty.UnknownVal(cty.String)},
		{cty.StringVal("a"), cty.StringVal("b").Mark(markSecret)},
		{cty.StringVal("a"), cty.ObjectVal(map[string]cty.Value{"x": cty.StringVal("y")})},
		{cty.StringVal("a"), cty.ListVal([]cty.Value{cty.StringVal("b")})},
	}

	fastAnswers := 0
	for _, src := range exprs {
		expr, diags := hclsyntax.ParseExpression([]byte(src), "keys.hcl", hcl.InitialPos)
		require.False(t, diags.HasErrors(), "%s: %s", src, diags)
		original := &hcl.Attribute{Name: "name", Expr: expr, Range: expr.Range()}
		bs := newBlockState(&hcl.BodyContent{Attributes: hcl.Attributes{"name": original}}, true, ctx, nil)
		require.NotNil(t, bs.fast["name"], "%s has a fast form", src)

		for _, each := range eachs {
			for _, ty := range []cty.Type{cty.String, cty.Bool} {
				name := fmt.Sprintf("%s with each.key=%#v each.value=%#v as %s", src, each.key, each.value, ty.FriendlyName())
				in := &instance{
					block:     blockIn{file: &parsedFile{ctx: ctx}},
					state:     bs,
					eachKey:   each.key,
					eachValue: each.value,
					ref:       BlockRef{HasForEach: true},
				}
				sc := &scope{in: in}
				got, gotDiags := sc.value(bs.attrs["name"], ty)
				if sc.ctx == nil {
					fastAnswers++
				}

				want, wantDiags := evalAttr(original, (&scope{in: in}).Ctx(), ty)
				require.Equal(t, wantDiags.HasErrors(), gotDiags.HasErrors(), "%s: errors: want %s, got %s", name, wantDiags, gotDiags)
				if wantDiags.HasErrors() {
					assert.Equal(t, summaries(wantDiags), summaries(gotDiags), name)
					continue
				}
				assert.True(t, want.RawEquals(got), "%s: want %#v, got %#v", name, want, got)
			}
		}
	}
	// Without this the test would pass with the fast forms switched off.
	assert.Greater(t, fastAnswers, len(exprs)*2, "answers given without an evaluation context")
}

func summaries(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		out = append(out, d.Summary)
	}
	return out
}
