package spec

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// TestEveryFunctionBounded keeps sizeChecks in step with the function
// table: a function added to newFuncs must say whether it can build a
// value larger than its arguments.
func TestEveryFunctionBounded(t *testing.T) {
	std := newFuncs(&Options{}).std
	var missing, extra []string
	for name := range std {
		switch name {
		case "try", "can":
			continue // not wrapped by bounded (see newFuncs)
		}
		if _, ok := sizeChecks[name]; !ok {
			missing = append(missing, name)
		}
	}
	for name := range sizeChecks {
		if _, ok := std[name]; !ok {
			extra = append(extra, name)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	assert.Empty(t, missing, "functions without an entry in sizeChecks")
	assert.Empty(t, extra, "sizeChecks entries that are not functions")
}

// spyFuncs is the function table of an evaluation with limits l, each
// function wrapped once more by bounded around a spy that counts the
// calls reaching the function itself: a refusal with no call was made
// before anything was built.
func spyFuncs(l Limits) (map[string]function.Function, map[string]int) {
	std := newFuncs(&Options{Limits: l}).std
	calls := map[string]int{}
	out := map[string]function.Function{}
	for name, f := range std {
		spy := function.New(&function.Spec{
			Params:   f.Params(),
			VarParam: f.VarParam(),
			Type: func(args []cty.Value) (cty.Type, error) {
				calls[name]++
				return f.ReturnTypeForValues(args)
			},
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				calls[name]++
				return f.Call(args)
			},
		})
		out[name] = bounded(name, spy, l)
	}
	return out, calls
}

func evalExpr(t *testing.T, src string, fns map[string]function.Function) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
	require.False(t, diags.HasErrors(), "%s: %s", src, diags)
	return expr.Value(&hcl.EvalContext{Functions: fns})
}

// TestBoundedFunctions calls each function whose result can outgrow its
// arguments once at its limit (or as near as its arguments allow), which
// must work, and once past it, which must be refused before the function
// runs.
func TestBoundedFunctions(t *testing.T) {
	l := Limits{MaxValueBytes: 100, MaxElements: 20}
	a := func(n int) string { return `"` + strings.Repeat("a", n) + `"` }
	type tc struct {
		at, over string
		lim      Limits // l when zero
		upTo     bool   // the refusal gives a bound, not the exact size
	}
	cases := map[string][]tc{
		"chunklist":     {{at: `chunklist(range(15), 3)`, over: `chunklist(range(16), 3)`}}, // 15 + 5, 16 + 6
		"concat":        {{at: `concat(range(10), range(10))`, over: `concat(range(10), range(11))`}},
		"csvdecode":     {{at: `csvdecode("a,b\n1,2\n3,4\n5,6")`, over: `csvdecode("a,b\n1,2\n3,4\n5,6\n7,8")`, lim: Limits{MaxValueBytes: 100, MaxElements: 12}, upTo: true}},
		"flatten":       {{at: `flatten([range(10), range(8)])`, over: `flatten([range(10), range(9)])`}},
		"format":        {{at: `format("%100s", "x")`, over: `format("%101s", "x")`, upTo: true}, {at: `format("%100d", 1)`, over: `format("%-101d", 1)`, upTo: true}, {at: `format("%v", ` + a(98) + `)`, over: `format("%v", ` + a(99) + `)`, upTo: true}},
		"formatdate":    {{at: `formatdate("YYYY-MM-DD", "2027-01-01T00:00:00Z")`, over: `formatdate("YYYY-MM-DD hh:mm", "2027-01-01T00:00:00Z")`, upTo: true}}, // 6 × 10 + 16, 6 × 16 + 16
		"formatlist":    {{at: `formatlist("%10s", range(10))`, over: `formatlist("%10s", range(11))`, upTo: true}, {at: `formatlist("%s", range(20))`, over: `formatlist("%s", range(21))`}},
		"join":          {{at: `join(",", [for i in range(10) : "abcdefghi"])`, over: `join(",", [for i in range(10) : "abcdefghij"])`}},
		"jsonencode":    {{at: `jsonencode([` + a(96) + `])`, over: `jsonencode([` + a(97) + `])`, upTo: true}},
		"keys":          {{at: `keys({for i in range(20) : "k${i}" => i})`, over: `keys({for i in range(21) : "k${i}" => i})`}},
		"lower":         {{at: `lower(` + a(100) + `)`, over: `lower("` + strings.Repeat("Ⱥ", 34) + `")`}}, // Ⱥ: 2 bytes, ⱥ: 3
		"merge":         {{at: `merge({for i in range(10) : "a${i}" => i}, {for i in range(10) : "b${i}" => i})`, over: `merge({for i in range(10) : "a${i}" => i}, {for i in range(11) : "b${i}" => i})`, upTo: true}},
		"parseint":      {{at: `parseint("` + strings.Repeat("0", maxNumberText-1) + `1", 10)`, over: `parseint("` + strings.Repeat("0", maxNumberText) + `1", 10)`}},
		"range":         {{at: `range(20)`, over: `range(21)`}, {at: `range(0, 10, 0.5)`, over: `range(0, 10.1, 0.5)`}, {at: `range(-20)`, over: `range(1e15, 0)`}},
		"regexall":      {{at: `regexall("a", ` + a(20) + `)`, over: `regexall("a", ` + a(21) + `)`}, {at: `regexall("(a)(b)", "abababababab")`, over: `regexall("(a)(b)", "abababababababab")`, lim: Limits{MaxValueBytes: 100, MaxElements: 18}}},
		"regex_replace": {{at: `regex_replace(` + a(50) + `, "a", "bb")`, over: `regex_replace(` + a(51) + `, "a", "bb")`}, {at: `regex_replace(` + a(25) + `, "(a)", "$1$1$1$1")`, over: `regex_replace(` + a(26) + `, "(a)", "$1$1$1$1")`, upTo: true}},
		"replace":       {{at: `replace(` + a(50) + `, "a", "bb")`, over: `replace(` + a(51) + `, "a", "bb")`}},
		"setproduct":    {{at: `setproduct(range(3), range(2))`, over: `setproduct(range(3), range(3))`}}, // 6 × 3, 9 × 3
		"setunion":      {{at: `setunion(toset(range(10)), toset(range(10)))`, over: `setunion(toset(range(10)), toset(range(11)))`, upTo: true}},
		"split":         {{at: `split(",", ",,,,,,,,,,,,,,,,,,,")`, over: `split(",", ",,,,,,,,,,,,,,,,,,,,")`}},
		"strrev":        {{at: `strrev(` + a(100) + `)`, over: `strrev(` + a(101) + `)`}},
		"title":         {{at: `title(` + a(100) + `)`, over: `title(` + a(101) + `)`, upTo: true}},
		"tonumber":      {{at: `tonumber("` + strings.Repeat("0", maxNumberText-1) + `1")`, over: `tonumber("` + strings.Repeat("0", maxNumberText) + `1")`}},
		"upper":         {{at: `upper(` + a(100) + `)`, over: `upper("` + strings.Repeat("ȿ", 34) + `")`}},
		"values":        {{at: `values({for i in range(20) : "k${i}" => i})`, over: `values({for i in range(21) : "k${i}" => i})`}},
		"zipmap":        {{at: `zipmap([for i in range(20) : "k${i}"], range(20))`, over: `zipmap([for i in range(21) : "k${i}"], range(21))`}},
	}
	// "a\n" × 11 is 22 bytes with 11 line breaks: 22 + 11×7 = 99 fits,
	// 22 + 11×8 = 110 does not.
	cases["indent"] = []tc{{at: `indent(7, "` + strings.Repeat(`a\n`, 11) + `")`, over: `indent(8, "` + strings.Repeat(`a\n`, 11) + `")`}}

	// newFuncs does not wrap jsondecode (yet); spyFuncs does.
	cases["jsondecode"] = []tc{{at: `jsondecode("[[1,2,3],[4,5],[6]]")`, over: `jsondecode("[[1,2,3],[4,5],[6],[\",,,,\"]]")`, lim: Limits{MaxValueBytes: 100, MaxElements: 9}, upTo: true}}
	for name, check := range sizeChecks {
		if check == nil {
			continue
		}
		if _, ok := cases[name]; !ok {
			t.Errorf("no test case for %s", name)
		}
	}
	for name, tcs := range cases {
		for i, c := range tcs {
			t.Run(fmt.Sprintf("%s/%d", name, i), func(t *testing.T) {
				lim := c.lim
				if lim == (Limits{}) {
					lim = l
				}
				fns, calls := spyFuncs(lim)

				v, diags := evalExpr(t, c.at, fns)
				require.False(t, diags.HasErrors(), "%s: %s", c.at, diags)
				assert.Equal(t, "", checkValueSize(v, lim), "%s", c.at)
				require.NotZero(t, calls[name], "%s was not called", name)

				calls[name] = 0
				_, diags = evalExpr(t, c.over, fns)
				require.True(t, diags.HasErrors(), "%s was not refused", c.over)
				assert.Zero(t, calls[name], "%s ran before it was refused", name)
				d := diags[0].Detail
				assert.Regexp(t, `KEYPROV_MAX_(VALUE_BYTES|ELEMENTS)|a number is read from at most`, d)
				assert.Equal(t, c.upTo, regexp.MustCompile(`would (take|hold) up to`).MatchString(d), d)
			})
		}
	}
}

// TestBoundsAreUpperBounds checks the estimates against what the
// functions build, on random arguments: an estimate below the real size
// would let a function build past the limit.
func TestBoundsAreUpperBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	texts := []string{"", "x", "héllo", "ȿȿ", "a\nb\n", "<&>\"\\", "\u2028", "e\u0301", "🏳️‍🌈", "%d", "1,2\n3,4"}
	str := func() string {
		var b strings.Builder
		for range r.IntN(4) {
			b.WriteString(texts[r.IntN(len(texts))])
		}
		return b.String()
	}
	nums := []cty.Value{cty.NumberIntVal(0), cty.NumberIntVal(-7), cty.NumberFloatVal(3.25), cty.MustParseNumberVal("1e300"), cty.MustParseNumberVal("-1e-300"), cty.NumberIntVal(1 << 62)}
	verbs := []string{"%s", "%q", "%v", "%#v", "%d", "%f", "%e", "%g", "%x", "%b", "%t", "%5s", "%-12q", "%08d", "%.3f", "%12.4e", "%.2s", "%[1]s", "%+d", "%1000000d", "%1000001d", "%.1000001f", "%99999999999999999999s"}
	for i := range 400 {
		var f strings.Builder
		var args []cty.Value
		for range 1 + r.IntN(3) {
			f.WriteString(str())
			v := verbs[r.IntN(len(verbs))]
			f.WriteString(v)
			switch {
			case strings.ContainsAny(v, "dxb"):
				args = append(args, cty.NumberIntVal(int64(r.IntN(1000000))-500000))
			case strings.ContainsAny(v, "feg"):
				args = append(args, nums[r.IntN(len(nums))])
			case strings.Contains(v, "t"):
				args = append(args, cty.True)
			case strings.Contains(v, "v") && r.IntN(2) == 0:
				args = append(args, cty.TupleVal([]cty.Value{cty.StringVal(str()), nums[r.IntN(len(nums))], cty.ObjectVal(map[string]cty.Value{"k<": cty.StringVal(str())})}))
			default:
				args = append(args, cty.StringVal(str()))
			}
			if strings.Contains(v, "[1]") {
				args = args[:len(args)-1]
				if len(args) == 0 {
					args = append(args, cty.StringVal(str()))
				}
			}
		}
		if strings.Contains(f.String(), "99999999999999999999") {
			continue // see below
		}
		all := append([]cty.Value{cty.StringVal(f.String())}, args...)
		out, err := stdlib.FormatFunc.Call(all)
		if err != nil {
			continue
		}
		got := int64(len(out.AsString()))
		bound := formatBound(f.String(), args, 1<<40)
		require.GreaterOrEqual(t, bound, got, "case %d: format(%q, %#v) is %d bytes", i, f.String(), args, got)

		s, sep := str()+str(), texts[r.IntN(len(texts))]
		checks := []struct {
			fn   function.Function
			args []cty.Value
			est  func() int64
		}{
			{stdlib.UpperFunc, []cty.Value{cty.StringVal(s)}, nil},
			{stdlib.LowerFunc, []cty.Value{cty.StringVal(s)}, nil},
			{stdlib.TitleFunc, []cty.Value{cty.StringVal(s)}, nil},
			{stdlib.JSONEncodeFunc, []cty.Value{cty.TupleVal(args)}, nil},
			{stdlib.ReplaceFunc, []cty.Value{cty.StringVal(s), cty.StringVal(sep), cty.StringVal(str())}, nil},
			{stdlib.RegexReplaceFunc, []cty.Value{cty.StringVal(s), cty.StringVal("(.)"), cty.StringVal("<$1$1>")}, nil},
			{stdlib.IndentFunc, []cty.Value{cty.NumberIntVal(int64(r.IntN(5))), cty.StringVal(s)}, nil},
		}
		names := []string{"upper", "lower", "title", "jsonencode", "replace", "regex_replace", "indent"}
		require.Len(t, names, len(checks))
		for j, c := range checks {
			out, err := c.fn.Call(c.args)
			if err != nil {
				continue
			}
			got := int64(len(out.AsString()))
			// The smallest limit the check accepts is the size it works
			// out, unless the result cannot be longer than an argument
			// (which is then within the limit already).
			var in int64
			for _, a := range c.args {
				if a.Type() == cty.String {
					in = max(in, int64(len(a.AsString())))
				}
			}
			lo, hi := int64(0), int64(1<<20)
			for lo < hi {
				mid := (lo + hi) / 2
				if sizeChecks[names[j]](Limits{MaxValueBytes: mid, MaxElements: 1 << 20}, c.args) == nil {
					hi = mid
				} else {
					lo = mid + 1
				}
			}
			require.GreaterOrEqual(t, max(lo, in), got, "case %d: %s(%#v) is %d bytes", i, names[j], c.args, got)
		}
	}
}

// TestFormatWidthOverflow: cty reads a width as an int, which wraps.
func TestFormatWidthOverflow(t *testing.T) {
	// 99999999999999999999 mod 2^64 is 7766279631452241919: cty would pad
	// to that.
	assert.Equal(t, int64(7766279631452241919), formatBound("%99999999999999999999s", []cty.Value{cty.StringVal("x")}, 1<<62))
	// 18446744073709551617 is 1: no padding to speak of.
	assert.Equal(t, int64(3), formatBound("%18446744073709551617q", []cty.Value{cty.StringVal("x")}, 1<<62))
	out, err := stdlib.FormatFunc.Call([]cty.Value{cty.StringVal("%18446744073709551617q"), cty.StringVal("x")})
	require.NoError(t, err)
	assert.Equal(t, `"x"`, out.AsString())
}

func TestFunctionPanicIsAnOrdinaryError(t *testing.T) {
	fns, _ := spyFuncs(DefaultLimits)
	_, diags := evalExpr(t, `log(0, 0)`, fns)
	require.True(t, diags.HasErrors())
	assert.Equal(t, `Call to function "log" failed: the function has no result for these arguments (Float.SetFloat64(NaN)).`, diags[0].Detail)

	// A panic in a function's type check, with a message of several lines.
	boom := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "x", Type: cty.String}},
		Type: func([]cty.Value) (cty.Type, error) {
			panic("first line\ngoroutine 1 [running]:\nmain.go:12")
		},
	})
	_, diags = evalExpr(t, `boom("x")`, map[string]function.Function{"boom": bounded("boom", boom, DefaultLimits)})
	require.True(t, diags.HasErrors())
	assert.Equal(t, `Call to function "boom" failed: the function has no result for these arguments (first line).`, diags[0].Detail)

	// Without bounded, cty's message holds the stack: what the wrapper is for.
	_, diags = evalExpr(t, `log(0, 0)`, map[string]function.Function{"log": stdlib.LogFunc})
	require.True(t, diags.HasErrors())
	assert.Contains(t, diags[0].Detail, "goroutine")
}

// TestLocalsBounded checks locals after evaluation and before it: the
// first local past the limit is reported where it is written, and the
// locals built from it are not reported again.
func TestLocalsBounded(t *testing.T) {
	key := "universal_key \"a\" {\n  name  = \"a\"\n  token = env(\"A\")\n}\n"
	l := Limits{MaxValueBytes: 64, MaxElements: 16}
	t.Run("doubling strings", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("locals {\n  a0 = \"x\"\n")
		for i := 1; i <= 10; i++ {
			fmt.Fprintf(&b, "  a%d = \"${local.a%d}${local.a%d}\"\n", i, i-1, i-1)
		}
		b.WriteString("}\n" + key)
		// a6 is 64 bytes: at the limit; a7 would be 128.
		_, ds := load(t, b.String(), Options{Limits: l})
		requireDiags(t, ds, diag{Pos: "keys.hcl:9:8", Summary: "Value too large",
			Detail: "This expression would produce at least 128 bytes of text; the limit is 64 (KEYPROV_MAX_VALUE_BYTES)."})
	})
	t.Run("measured after evaluation", func(t *testing.T) {
		// preflight cannot see through x: the value is measured.
		src := "locals {\n  l = [\"0123456789abcdef\", \"0123456789abcdef\"]\n  d = [for x in local.l : \"${x}${x}\"]\n  e = [for x in local.d : \"${x}${x}\"]\n}\n" + key
		_, ds := load(t, src, Options{Limits: l})
		requireDiags(t, ds, diag{Pos: "keys.hcl:4:7", Summary: "Value too large",
			Detail: "local.e holds more than 64 bytes of text, counted through nested lists, sets, maps and objects; the limit is 64 (KEYPROV_MAX_VALUE_BYTES)."})
	})
	t.Run("elements through nesting", func(t *testing.T) {
		src := "locals {\n  a = [1, 2, 3]\n  b = [local.a, local.a, local.a]\n  c = [local.b, local.b]\n}\n" + key
		_, ds := load(t, src, Options{Limits: l})
		// b holds 3 + 9 elements; c 2 + 24.
		requireDiags(t, ds, diag{Pos: "keys.hcl:4:7", Summary: "Value too large",
			Detail: "local.c holds more than 16 elements, counted through nested lists, sets, maps and objects; the limit is 16 (KEYPROV_MAX_ELEMENTS)."})
	})
	t.Run("numbers out of range", func(t *testing.T) {
		src := "locals {\n  a = 1e999\n  b = local.a * local.a\n}\n" + key
		_, ds := load(t, src, Options{})
		requireDiags(t, ds, diag{Pos: "keys.hcl:3:7", Summary: "Value too large", Detail: "local.b holds a number out of range"})
	})
	t.Run("attributes", func(t *testing.T) {
		src := "locals {\n  l = [\"0123456789abcdef\", \"0123456789abcdef\", \"0123456789abcdef\"]\n}\nuniversal_key \"a\" {\n  name  = \"a\"\n  token = env(\"A\")\n  metadata = { for i, x in local.l : \"k${i}\" => \"${x}${x}\" if true }\n}\n"
		_, ds := load(t, src, Options{Limits: l})
		requireDiags(t, ds, diag{Pos: "keys.hcl:7:14", Summary: "Value too large", Address: "root/a",
			Detail: `The value of "metadata" holds more than 64 bytes of text`})
	})
	t.Run("variables", func(t *testing.T) {
		src := "variable \"v\" {\n  type = list(string)\n}\n" + key
		files := map[string]string{"keys.hcl": src, "vars.json": `{"v": ["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]}`}
		_, ds := loadFiles(t, files, Options{Paths: []string{"keys.hcl"}, VarFiles: []string{"vars.json"}, Limits: l})
		requireDiags(t, ds, diag{Pos: "vars.json:1:7", Summary: "Value too large",
			Detail: `The value for variable "v" (from vars.json) holds more than 16 elements`})
		// At the limit.
		files["vars.json"] = `{"v": ["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p"]}`
		_, ds = loadFiles(t, files, Options{Paths: []string{"keys.hcl"}, VarFiles: []string{"vars.json"}, Limits: l})
		requireDiags(t, ds)
	})
}

// TestPreflight checks what preflight counts: nothing it refuses could
// have been built within the limits.
func TestPreflight(t *testing.T) {
	l := Limits{MaxValueBytes: 100, MaxElements: 20}
	ctx := &hcl.EvalContext{
		Functions: newFuncs(&Options{Limits: l}).std,
		Variables: map[string]cty.Value{"local": cty.ObjectVal(map[string]cty.Value{
			"s50": cty.StringVal(strings.Repeat("s", 50)),
			"l10": cty.ListVal([]cty.Value{cty.True, cty.True, cty.True, cty.True, cty.True, cty.True, cty.True, cty.True, cty.True, cty.True}),
			"n":   cty.NumberIntVal(10),
		})},
	}
	cases := map[string]struct {
		src  string
		want string // the detail, "" when nothing is refused
	}{
		"template at the limit":        {src: `"${local.s50}${local.s50}"`},
		"template past it":             {src: `"${local.s50}${local.s50}x"`, want: "at least 101 bytes of text"},
		"template in a list":           {src: `["${local.s50}", "${local.s50}"]`},
		"text of a list":               {src: `["${local.s50}", "${local.s50}x"]`, want: "at least 101 bytes of text"},
		"conditional counts the least": {src: `"${local.s50}${true ? local.s50 : ""}x"`},
		"both branches large":          {src: `"${local.s50}${true ? local.s50 : local.s50}x"`, want: "at least 101 bytes"},
		"for over a local":             {src: `[for x in local.l10 : [x, x]]`, want: "at least 30 elements"},
		"for at the limit":             {src: `[for x in local.l10 : [x]]`},
		"for with if is not counted":   {src: `[for x in local.l10 : [x, x] if x]`},
		"nested for over range":        {src: `[for i in range(local.n) : [for j in range(3) : j]]`, want: "at least 40 elements"},
		"setproduct":                   {src: `[for p in setproduct(range(5), range(5)) : p]`, want: "at least 25 elements"},
		"range past cty's own limit":   {src: `[for i in range(2000) : i]`},
		"template for directive":       {src: `"%{for x in local.l10}0123456789%{endfor}"`},
		"template for directive past":  {src: `"%{for x in local.l10}0123456789%{endfor}x"`, want: "at least 101 bytes"},
		"shadowed local":               {src: `[for local in [{s50 = ""}] : "${local.s50}${local.s50}${local.s50}"]`},
		"function results count as 0":  {src: `"${upper(local.s50)}${upper(local.s50)}${upper(local.s50)}"`},
		"nested for with if":           {src: `[for a in local.l10 : [for b in range(2) : b] if a]`, want: "evaluate the body of its for expressions at least 30 times"},
		"nested for in a function":     {src: `[for a in local.l10 : length([for b in range(2) : b])]`, want: "at least 30 times"},
		"nested for over toset":        {src: `[for a in toset(range(6)) : [for b in toset(range(3)) : b] if true]`, want: "at least 24 times"},
		"runs at the limit":            {src: `[for a in range(2) : [for b in range(9) : b] if a > 0]`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			expr, diags := hclsyntax.ParseExpression([]byte(c.src), "test.hcl", hcl.InitialPos)
			require.False(t, diags.HasErrors(), diags)
			d := preflight(expr, ctx, l)
			if c.want == "" {
				require.Nil(t, d, "refused: %v", d)
				return
			}
			require.NotNil(t, d)
			assert.Contains(t, d.Detail, c.want)
		})
	}
	// What preflight refuses for its size, evaluation would have built
	// past the limit. (A refusal for the runs of for expressions is about
	// the work, not the result.)
	for name, c := range cases {
		if c.want == "" || strings.Contains(c.want, "times") {
			continue
		}
		expr, _ := hclsyntax.ParseExpression([]byte(c.src), "test.hcl", hcl.InitialPos)
		v, diags := expr.Value(ctx)
		if !diags.HasErrors() {
			assert.NotEqual(t, "", checkValueSize(v, l), "%s: %s is within the limits", name, c.src)
		}
	}
}

func TestCheckValueSizeStops(t *testing.T) {
	// A list holding the same list a thousand times, a hundred levels
	// of it: the walk stops at the limit instead of visiting 1000^100.
	v := cty.ListVal([]cty.Value{cty.StringVal("x")})
	for range 100 {
		els := make([]cty.Value, 1000)
		for i := range els {
			els[i] = v
		}
		v = cty.ListVal(els)
	}
	assert.Contains(t, checkValueSize(v, DefaultLimits), "holds more than 1000000 elements")
	// A large set is counted without being sorted.
	els := make([]cty.Value, 10_000)
	for i := range els {
		els[i] = cty.StringVal(fmt.Sprint(i))
	}
	assert.Equal(t, "", checkValueSize(cty.SetVal(els), DefaultLimits))
	assert.Contains(t, checkValueSize(cty.SetVal(els), Limits{MaxValueBytes: 1 << 20, MaxElements: 9_999}), "holds more than 9999 elements")
}
