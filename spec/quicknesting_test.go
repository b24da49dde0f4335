package spec

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"

	"github.com/keyprov/keyprov/spec/internal/fast"
)

// exactNesting is the nesting tokenNesting measures on src's tokens: the
// lowest limit it does not report.
func exactNesting(src []byte) int {
	toks, _ := hclsyntax.LexConfig(src, "keys.hcl", hcl.InitialPos)
	lo, hi := 0, len(src)+1
	for lo < hi {
		mid := (lo + hi) / 2
		if tokenNesting(toks, 0, mid) == nil {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// checkQuickBound fails when fast.NestingBound gives a bound below the exact
// nesting: CheckNesting would then let a spec through unmeasured.
func checkQuickBound(t *testing.T, src string) (int, bool) {
	t.Helper()
	bound, ok := fast.NestingBound([]byte(src), nil)
	if ok {
		if exact := exactNesting([]byte(src)); bound < exact {
			t.Fatalf("fast.NestingBound gives %d, below the exact nesting %d, for %q", bound, exact, src)
		}
	}
	return bound, ok
}

func TestQuickNesting(t *testing.T) {
	tests := []struct {
		src   string
		bound int // -1: fast.NestingBound leaves it to the lexer
	}{
		{`tenant_key "a" {` + "\n" + `  name = "A"` + "\n}\n", 2},
		{"a = [[[1]]]\n", 6},
		{"a = f(g(h(1)))\n", 3},
		{"a = 1 + 2 + 3\n", 2},
		{"a = {\n  b = 1 + 2\n  c = 3 * 4\n}\n", 2},
		{"a = [1 + 2, 3 + 4]\n", 3},
		{"a = !!true\n", 2},
		{"a = x == y && y != z\n", 3},
		{"a = {for k, v in m : k => v}\n", 1},
		{"a-b = c-d\n", 0},
		{"a = 1e+5\n", 0},
		{"# ((((\n// [[[[\n/* {{{{ */ a = 1\n", 0},
		{`a = "( [ { \" ) ] }"` + "\n", 1},
		{`a = "$ % $x %y"` + "\n", 1},
		{"a = x[0][1]\n", 3},
		{"a = 1 & 2 | 3 ; ^ ` '\n", 0},
		{"a = 1e5-x\n", 1},
		{"a = 1.5e+3 - 2..5 - 1.\n", 2},
		{"a = b !=> c\n", 2},
		{"\ufeffa = 1\n", -1},
		{"a = <<EOT\n((((\nEOT\n", -1},
		{`a = "${b}"`, 2},
		{`a = "${ {b = 1} }"`, 3},
		{`a = "${f("${g(1)}")}"`, 6},
		{`a = "${ "}" }"`, 3},
		{`a = "${ ( }"`, -1},
		{`a = "x${"`, -1},
		{`a = "%{if b}c%{endif}"`, -1},
		{`a = "$${b}"`, 1},
		{`a = "%%{b}"`, 1},
		{`a = "line` + "\n" + `"`, -1},
		{`a = "back\` + "\n" + `"`, -1},
		{`a = "open`, -1},
		{"/* open", -1},
		{"a = {b = 1 ~}\n", -1},
		{"a = café\n", -1},
		{"a = $\n", -1},
		{"a = 1\x00\n", -1},
	}
	for _, tt := range tests {
		bound, ok := checkQuickBound(t, tt.src)
		if tt.bound < 0 {
			assert.False(t, ok, "%q is left to the lexer", tt.src)
			continue
		}
		if assert.True(t, ok, "%q is measured on its bytes", tt.src) {
			assert.Equal(t, tt.bound, bound, "%q", tt.src)
		}
	}

	// The specs that cost most to lex, many plain blocks, are measured on
	// their bytes.
	var b strings.Builder
	b.WriteString("locals {\n  secrets = jsondecode(file(\"secrets.json\"))\n}\n")
	for range 2000 {
		b.WriteString("\ntenant_key \"website\" {\n  tenant      = \"t1\"\n  name        = \"Website t1\"\n  token       = local.secrets[\"t1\"]\n  permissions = [{ name = \"wb.page\", rwd = \"r\" }, \"cms.read\"]\n}\n")
	}
	bound, ok := checkQuickBound(t, b.String())
	assert.True(t, ok)
	assert.LessOrEqual(t, bound, 10)
}

// FuzzQuickNestingBound checks fast.NestingBound's promise on any input: its
// bound is never below the nesting measured on HCL's tokens. The seeds
// repeat a fragment, as FuzzNestingBound does, to reach deep nesting.
func FuzzQuickNestingBound(f *testing.F) {
	for _, seed := range []struct {
		prefix, unit, suffix string
		n                    uint16
	}{
		{"a = ", "(", "1", 50},
		{"a = ", "[", "1", 50},
		{"a = ", "x[", "1", 50},
		{"a = ", "{b = ", "1", 50},
		{"a = ", "-", "1", 50},
		{"a = ", "1 + ", "1", 50},
		{"a = ", "1 == ", "1", 50},
		{"a = ", "true ? 1 : ", "2", 50},
		{"a = ", `"x" + `, `"y"`, 50},
		{"a = ", `"\"" + `, `"y"`, 50},
		{"a = ", "(\n", "1", 50},
		{"a = ", "[1,\n", "1", 50},
		{"a = ", "{\nb = 1 +\n", "1", 50},
		{"a = ", "( # )\n", "1", 50},
		{"a = ", "( /* ) */", "1", 50},
		{"a = ", "( // )\r\n", "1", 50},
		{"a = ", "a-b-(", "1", 50},
		{"a = ", "1e+(", "1", 50},
		{"a = ", "x.y[0].", "z", 50},
		{"a = ", "{for k, v in m : k => ", "v}", 50},
		{"a = ", "f(x...", ")", 50},
		{"a = ", "\"}\" + {", "1", 50},
		{"a = ", "&(", "1", 50},
		{"a = ", "{b = 1 ~}", "1", 5},
		{"a = ", "!=>", "0", 20},
		{"a = ", "1e5-(", "x", 50},
		{"a = ", `"${`, `1}"`, 50},
		{"a = ", `"${(`, `1)}"`, 50},
		{"a = ", `"${ { b = `, `1 } }"`, 50},
		{"a = ", `"x${f("`, `")}"`, 50},
		{"a = ", `"$${`, `}"`, 50},
		{"a = ", `"${ ( }"`, `"`, 5},
	} {
		f.Add(seed.prefix, seed.unit, seed.suffix, seed.n)
	}
	f.Fuzz(func(t *testing.T, prefix, unit, suffix string, n uint16) {
		reps := int(n) % 2001
		if len(prefix)+len(unit)*reps+len(suffix) > 1<<16 {
			return
		}
		checkQuickBound(t, prefix+strings.Repeat(unit, reps)+suffix)
	})
}
