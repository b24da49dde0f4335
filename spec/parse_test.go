package spec

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/spec/internal/fast"
)

// largeSpec is a spec of n tenant keys, large enough to be parsed in parts,
// with the shapes of a real one between and inside its blocks. extra is
// appended at the end.
func largeSpec(n int, extra string) string {
	var b strings.Builder
	b.WriteString("settings {\n  owner = \"platform\"\n}\n\nvariable \"region\" {\n  default = \"eu\"\n}\n\nlocals {\n  team = {\n    name = \"web\"\n  }\n}\n")
	for i := range n {
		fmt.Fprintf(&b, "\n# Key %d.\ntenant_key \"k%d\" {\n  tenant      = \"t%d\"\n  name        = \"Key ${var.region} %d\"\n", i, i, i, i)
		b.WriteString("  token       = env(\"TOKEN\")\n  permissions = [{ name = \"wb.page\", rwd = \"r\" }, \"cms.read\"]\n")
		b.WriteString("  metadata    = {\n    team = local.team.name\n  }\n}\n")
		if i%500 == 0 {
			b.WriteString("/* a comment\n   across lines */\n")
		}
	}
	b.WriteString(extra)
	return b.String()
}

// sameBlocks fails at the first block of got that is not the one in want,
// down to every range (a whole-slice diff of thousands of syntax trees
// takes minutes to print).
func sameBlocks(t *testing.T, want, got hclsyntax.Blocks) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		if !reflect.DeepEqual(want[i], got[i]) {
			t.Fatalf("block %d differs: %s %q at %s, want %s %q at %s", i, got[i].Type, got[i].Labels, got[i].Range(), want[i].Type, want[i].Labels, want[i].Range())
		}
	}
}

// TestParseInParts checks that a large spec parsed in parts gives the body
// HCL gives for the whole file, down to every range, and that when a part
// has an error the diagnostics are those of the whole file.
func TestParseInParts(t *testing.T) {
	const size = 8 << 10
	src := []byte(largeSpec(400, ""))
	parts := fast.CutBody(src, size)
	require.Greater(t, len(parts), 2, "the spec is cut")
	for i, p := range parts {
		assert.Equal(t, byte('\n'), src[p.End-1], "part %d ends a line", i)
		assert.Equal(t, strings.Count(string(src[:p.Start.Byte]), "\n")+1, p.Start.Line, "part %d starts on its line", i)
	}

	body, diags := parseNativeIn(src, "keys.hcl", size)
	require.False(t, diags.HasErrors(), "%s", diags)
	whole, diags := parseWhole(src, "keys.hcl")
	require.False(t, diags.HasErrors(), "%s", diags)
	var blocks hclsyntax.Blocks
	for _, p := range parts {
		f, diags := hclsyntax.ParseConfig(src[p.Start.Byte:p.End], "keys.hcl", p.Start)
		require.False(t, diags.HasErrors(), "%s", diags)
		blocks = append(blocks, f.Body.(*hclsyntax.Body).Blocks...)
	}
	require.Len(t, blocks, 403)
	sameBlocks(t, whole.(*hclsyntax.Body).Blocks, blocks)

	got, gotDiags := body.Content(rootSchema)
	want, wantDiags := whole.Content(rootSchema)
	assert.Equal(t, wantDiags, gotDiags)
	assert.Equal(t, want.Blocks, got.Blocks)

	// Whatever a part's parse reports, the whole file's is reported.
	for name, extra := range map[string]string{
		"syntax error in the last part": "\ntenant_key \"bad\" {\n  name = \n}\n",
		"unclosed block":                "\ntenant_key \"bad\" {\n",
		"stray brace":                   "\n}\n",
		"top-level arguments":           "\na = 1\n" + strings.Repeat("\n", 1) + "a = 2\n",
	} {
		t.Run(name, func(t *testing.T) {
			src := []byte(largeSpec(400, extra))
			require.Greater(t, len(fast.CutBody(src, size)), 2)
			_, gotDiags := parseNativeIn(src, "keys.hcl", size)
			_, wantDiags := parseWhole(src, "keys.hcl")
			require.NotEmpty(t, wantDiags)
			assert.Equal(t, wantDiags, gotDiags)
		})
	}
}

// TestParseInPartsPositions evaluates a spec parsed in parts: a
// diagnostic in its last key names the key's line, and the spec's keys
// come out in file order.
func TestParseInPartsPositions(t *testing.T) {
	src := largeSpec(4000, "\ntenant_key \"late\" {\n  tenant  = \"t\"\n  name    = \"Late\"\n  token   = env(\"TOKEN\")\n  expires = \"next week\"\n}\n")
	require.Greater(t, len(fast.CutBody([]byte(src), fast.PartSize)), 2)
	line := strings.Count(src[:strings.Index(src, "expires = \"next week\"")], "\n") + 1
	_, diags := Evaluate([]Source{{Name: "keys.hcl", Dir: ".", Bytes: []byte(src)}}, Options{
		LookupEnv: fakeEnv{"TOKEN": "wat_" + strings.Repeat("a", 32)}.lookup,
	})
	require.True(t, diags.HasErrors())
	var pos []string
	for _, d := range diags {
		pos = append(pos, posOf(d))
	}
	assert.Contains(t, pos, fmt.Sprintf("keys.hcl:%d:13", line), "%s", diags)

	s, diags := Evaluate([]Source{{Name: "keys.hcl", Dir: ".", Bytes: []byte(largeSpec(4000, ""))}}, Options{
		LookupEnv: fakeEnv{"TOKEN": "wat_" + strings.Repeat("a", 32)}.lookup,
	})
	require.False(t, diags.HasErrors(), "%s", diags)
	require.Len(t, s.Keys, 4000)
}

// FuzzParseInParts cuts any input wherever fast.CutBody may cut it and parses
// the parts: when every part parses cleanly, as fast.ParseInParts requires, the
// parts' blocks must be the blocks HCL finds in the whole file, ranges and
// all. A cut inside a string, comment or block that still parsed would
// change what the spec means.
func FuzzParseInParts(f *testing.F) {
	for _, seed := range []string{
		largeSpec(3, ""),
		"a {\n}\nb {\n}\n",
		"a {\n  x = \"}\n\"\n}\nb {\n}\n",
		"a {\n}\n/*\n}\n*/\nb {\n}\n",
		"a {\n  x = \"${ {b = 1}\n}\"\n}\nb {\n}\n",
		"a {\n  x = <<EOT\n}\nEOT\n}\nb {\n}\n",
		"a {\n  x = \"$${\n}\n\"\n}\nb {\n}\n",
		"a {\n  x = \"%{ if true }\n}\n%{ endif }\"\n}\nb {\n}\n",
		"a {\n  # }\n}\nb {\n}\n",
		"a {\n  x = {\n}\n}\nb {\n}\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		parts := fast.CutBody([]byte(src), 1)
		if len(parts) < 2 {
			return
		}
		var blocks hclsyntax.Blocks
		for _, p := range parts {
			f, diags := hclsyntax.ParseConfig([]byte(src[p.Start.Byte:p.End]), "keys.hcl", p.Start)
			if diags.HasErrors() || len(f.Body.(*hclsyntax.Body).Attributes) > 0 {
				return
			}
			blocks = append(blocks, f.Body.(*hclsyntax.Body).Blocks...)
		}
		whole, diags := hclsyntax.ParseConfig([]byte(src), "keys.hcl", hcl.InitialPos)
		require.False(t, diags.HasErrors(), "the parts parse but the whole does not: %s", diags)
		sameBlocks(t, whole.Body.(*hclsyntax.Body).Blocks, blocks)
	})
}
