package spec

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/keyprov/keyprov/internal/pgtest"
)

// hclValue evaluates an HCL expression with the standard functions.
func hclValue(t *testing.T, src string) cty.Value {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "value.hcl", hcl.InitialPos)
	require.False(t, diags.HasErrors(), "%s: %s", src, diags)
	v, diags := expr.Value(&hcl.EvalContext{Functions: newFuncs(&Options{}).std})
	require.False(t, diags.HasErrors(), "%s: %s", src, diags)
	return v
}

// canonicalCases are values and, where it documents the format, the exact
// canonical text. Each one is also checked against PostgreSQL.
var canonicalCases = []struct {
	hcl  string    // an HCL expression, or
	val  cty.Value // a value built directly
	want string    // "" to check against PostgreSQL only
}{
	{hcl: `{}`, want: `{}`},
	{hcl: `[]`, want: `[]`},
	{hcl: `{ name = "a" }`, want: `{"name": "a"}`},
	{hcl: `["a", 1, true, false, null]`, want: `["a", 1, true, false, null]`},
	{hcl: `{ bb = 1, a = 2, ccc = 3, aa = 4, b = 5 }`, want: `{"a": 2, "b": 5, "aa": 4, "bb": 1, "ccc": 3}`},
	{hcl: `{ "B" = 1, "a" = 2, "_" = 3, "Z" = 4, "é" = 5, "z" = 6 }`, want: `{"B": 1, "Z": 4, "_": 3, "a": 2, "z": 6, "é": 5}`},
	{hcl: `{ "" = 1, " " = 2 }`, want: `{"": 1, " ": 2}`},
	{hcl: `{ name = "cms.contentModel", rwd = "r", own = false, pw = "", models = { "en-US" = ["article"] } }`,
		want: `{"pw": "", "own": false, "rwd": "r", "name": "cms.contentModel", "models": {"en-US": ["article"]}}`},
	{hcl: `{ a = { b = { c = [[], {}, [[1]], { d = null }] } } }`, want: `{"a": {"b": {"c": [[], {}, [[1]], {"d": null}]}}}`},
	// Numbers: plain decimals, no exponent, no trailing zeros.
	{hcl: `1`, want: `1`},
	{hcl: `1.5`, want: `1.5`},
	{hcl: `0.000001`, want: `0.000001`},
	{hcl: `1e20`, want: `100000000000000000000`},
	{hcl: `-3`, want: `-3`},
	{hcl: `12345678901234567890`, want: `12345678901234567890`},
	{hcl: `0`, want: `0`},
	{hcl: `-0`, want: `0`},
	{hcl: `1.50`, want: `1.5`},
	{hcl: `100`, want: `100`},
	{hcl: `2.5e-3`, want: `0.0025`},
	{hcl: `-1.25e3`, want: `-1250`},
	{hcl: `1e-30`, want: `0.000000000000000000000000000001`},
	{hcl: `123456789.123456789`, want: `123456789.123456789`},
	{hcl: `9007199254740993`, want: `9007199254740993`},
	{hcl: `0.1`, want: `0.1`},
	{hcl: `3.14159265358979323846264338327950288`, want: `3.14159265358979323846264338327950288`},
	// Strings: escapes as PostgreSQL's escape_json writes them.
	{hcl: `"plain"`, want: `"plain"`},
	{hcl: `"quote \" backslash \\ slash /"`, want: `"quote \" backslash \\ slash /"`},
	{hcl: `"tab\tnewline\ncr\r"`, want: `"tab\tnewline\ncr\r"`},
	{val: cty.StringVal("\b\f"), want: `"\b\f"`},
	{val: cty.StringVal("\x01\x02\x1f\x7f"), want: "\"\\u0001\\u0002\\u001f\x7f\""},
	{val: cty.StringVal("\x0b\x1b"), want: `"\u000b\u001b"`},
	{hcl: `"unicode: é ü 日本語 🔑 \u2028 \u2029 \ufeff"`, want: "\"unicode: é ü 日本語 🔑 \u2028 \u2029 \ufeff\""},
	{hcl: `"<html> & 'quotes'"`, want: `"<html> & 'quotes'"`},
	{val: cty.StringVal(asciiFrom1)},
	{val: cty.ObjectVal(map[string]cty.Value{asciiFrom1: cty.StringVal(asciiFrom1), "e\u0301": cty.StringVal("\U0010FFFF\uFFFD")})},
	{hcl: `{ "key\nwith\tescapes\"" = "v" }`, want: `{"key\nwith\tescapes\"": "v"}`},
	{hcl: `{ "ключ" = 1, "key" = 2, "k" = 3 }`, want: `{"k": 3, "key": 2, "ключ": 1}`},
	// Sets come out in cty's order; lists keep theirs.
	{hcl: `["b", "a", "b"]`, want: `["b", "a", "b"]`},
	{val: cty.SetVal([]cty.Value{cty.StringVal("b"), cty.StringVal("a")}), want: `["a", "b"]`},
	{val: cty.MapVal(map[string]cty.Value{"zz": cty.StringVal("1"), "y": cty.StringVal("2")}), want: `{"y": "2", "zz": "1"}`},
	{val: cty.NullVal(cty.String), want: `null`},
	// Arithmetic on binary floats and divisions are rounded to 64
	// significant digits.
	{hcl: `1.1 * 1.1`, want: `1.21`},
	{hcl: `0.1 + 0.2`, want: `0.3`},
	{hcl: `1 / 3`, want: `0.` + strings.Repeat("3", 64)},
	{hcl: `-2 / 3`, want: `-0.` + strings.Repeat("6", 63) + `7`},
	{hcl: `100 / 7`, want: `14.28571428571428571428571428571428571428571428571428571428571429`},
	{hcl: `1 / 3e20`, want: `0.00000000000000000000` + strings.Repeat("3", 64)},
	{hcl: `1e30 / 7`, want: `142857142857142857142857142857.1428571428571428571428571428571429`},
	{hcl: `[for i in range(30) : { "k${i}" = i * 1.5 }]`},
	{hcl: `{ for i in range(40) : "${substr("abcdefghijklmnop", 0, i % 7)}${i}" => [i, -i, floor(i / 3), i / 8] }`},
}

// asciiFrom1 holds every ASCII character but NUL.
var asciiFrom1 = func() string {
	b := make([]byte, 127)
	for i := range b {
		b[i] = byte(i + 1)
	}
	return string(b)
}()

// The canonical JSON of a value is byte for byte what PostgreSQL prints
// for the jsonb value: the store compares jsonb::text with it without
// decoding either side.
func TestCanonicalJSONMatchesPostgreSQL(t *testing.T) {
	conn := pgtest.Connect(t, pgtest.NewDatabase(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tc := range canonicalCases {
		name := tc.hcl
		v := tc.val
		if tc.hcl != "" {
			v = hclValue(t, tc.hcl)
		} else {
			name = v.GoString()
		}
		t.Run(name, func(t *testing.T) {
			b, err := appendCanonical(nil, v)
			require.NoError(t, err)
			if tc.want != "" {
				assert.Equal(t, tc.want, string(b))
			}
			var pg string
			require.NoError(t, conn.QueryRow(ctx, "SELECT $1::jsonb::text", string(b)).Scan(&pg))
			assert.Equal(t, pg, string(b), "PostgreSQL prints the jsonb value differently")
		})
	}
}

func TestCanonicalJSONErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		val  cty.Value
		want string
	}{
		"NUL in a string":   {cty.StringVal("a\x00b"), "the character U+0000 cannot be stored"},
		"NUL in a key":      {cty.ObjectVal(map[string]cty.Value{"a\x00": cty.True}), "the character U+0000 cannot be stored"},
		"invalid UTF-8":     {cty.StringVal("\xff"), "invalid UTF-8"},
		"huge number":       {hclValue(t, "1e400"), "number out of range (at most 64 digits)"},
		"tiny number":       {hclValue(t, "1e-400"), "number out of range (at most 64 digits)"},
		"65 digits":         {hclValue(t, "1"+strings.Repeat("0", 64)), "number out of range (at most 64 digits)"},
		"65-digit integer":  {hclValue(t, strings.Repeat("7", 65)), "number out of range (at most 64 digits)"},
		"infinity":          {cty.PositiveInfinity, "number out of range (at most 64 digits)"},
		"nested bad string": {hclValue(t, `[{ a = ["ok", "x"] }]`).Index(cty.NumberIntVal(0)).GetAttr("a").Index(cty.NumberIntVal(1)), ""},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := appendCanonical(nil, tc.val)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.EqualError(t, err, tc.want)
		})
	}
	_, err := appendCanonical(nil, hclValue(t, "1"+strings.Repeat("0", 63)))
	assert.NoError(t, err, "64 digits are allowed")
}
