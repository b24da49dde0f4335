package spec

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/zclconf/go-cty/cty"

	"github.com/keyprov/keyprov/spec/internal/fast"
)

func TestJSONFastPaths(t *testing.T) {
	maps := map[string]struct {
		in   string
		want map[string]string // nil: not read by the fast path
	}{
		"object":          {in: ` { "a" : "x", "b":"y" } `, want: map[string]string{"a": "x", "b": "y"}},
		"empty":           {in: `{}`, want: map[string]string{}},
		"unicode":         {in: `{"é": "ü€"}`, want: map[string]string{"é": "ü€"}},
		"escape":          {in: `{"a": "x\"y"}`},
		"number":          {in: `{"a": 1}`},
		"nested":          {in: `{"a": {"b": "c"}}`},
		"duplicate key":   {in: `{"a": "x", "a": "y"}`},
		"trailing text":   {in: `{"a": "x"} junk`},
		"trailing comma":  {in: `{"a": "x",}`},
		"missing colon":   {in: `{"a" "x"}`},
		"unterminated":    {in: `{"a": "x`},
		"control char":    {in: "{\"a\": \"x\ty\"}"},
		"invalid UTF-8":   {in: "{\"a\": \"\xff\"}"},
		"array, not map":  {in: `["a"]`},
		"two objects":     {in: `{}{}`},
		"empty input":     {in: ``},
		"whitespace only": {in: "  \n"},
	}
	for name, tc := range maps {
		t.Run("map/"+name, func(t *testing.T) {
			got, ok := fast.StringMap(tc.in)
			if tc.want == nil {
				assert.False(t, ok)
				return
			}
			if assert.True(t, ok) {
				plain := map[string]string{}
				for k, v := range got {
					plain[k] = v.AsString()
				}
				assert.Equal(t, tc.want, plain)
				// The fast path agrees with encoding/json wherever it answers.
				var std map[string]string
				assert.NoError(t, json.Unmarshal([]byte(tc.in), &std))
				assert.Equal(t, std, plain)
			}
		})
	}
	arrays := map[string]struct {
		in   string
		want []string
	}{
		"array":        {in: `[ "a", "b" ]`, want: []string{"a", "b"}},
		"empty":        {in: `[]`, want: []string{}},
		"number":       {in: `["a", 1]`},
		"escape":       {in: `["a\n"]`},
		"unterminated": {in: `["a"`},
		"object":       {in: `{}`},
	}
	for name, tc := range arrays {
		t.Run("array/"+name, func(t *testing.T) {
			got, ok := fast.StringArray(tc.in)
			if tc.want == nil {
				assert.False(t, ok)
				return
			}
			if assert.True(t, ok) {
				plain := []string{}
				for _, v := range got {
					plain = append(plain, v.AsString())
				}
				assert.Equal(t, tc.want, plain)
			}
		})
	}
	// The values are cty strings like any other.
	m, ok := fast.StringMap(`{"a": "x"}`)
	assert.True(t, ok)
	assert.True(t, m["a"].RawEquals(cty.StringVal("x")))
}

// TestStringIndex: the secrets file's index answers as StringMap does,
// wherever StringMap answers, and declines where it declines.
func TestStringIndex(t *testing.T) {
	inputs := []string{
		` { "a" : "x", "b":"y" } `, `{}`, `{"é": "ü€"}`, `{"a": "x\"y"}`, `{"a": 1}`,
		`{"a": {"b": "c"}}`, `{"a": "x", "a": "y"}`, `{"a": "x"} junk`, `{"a": "x",}`,
		`{"a" "x"}`, `{"a": "x`, "{\"a\": \"x\ty\"}", "{\"a\": \"\xff\"}", `["a"]`, `{}{}`, ``, "  \n",
		`{"": ""}`, `{"a": "", "": "a"}`, `{"a":"b","b":"a","ab":"ba"}`,
	}
	// Many members, with duplicates placed far apart and keys that share
	// prefixes, so that probes run past taken slots.
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 200 {
		var b strings.Builder
		b.WriteString("{")
		members := 1 + rng.IntN(300)
		for i := range members {
			if i > 0 {
				b.WriteString(",")
			}
			k := fmt.Sprintf("t%d", rng.IntN(members*4))
			if n%3 == 0 {
				k = fmt.Sprintf("t%d", i) // no duplicates
			}
			fmt.Fprintf(&b, "%q:%q", k, fmt.Sprintf("v%d-%d", n, i))
		}
		b.WriteString("}")
		inputs = append(inputs, b.String())
	}
	for _, in := range inputs {
		m, mok := fast.StringMap(in)
		x, xok := fast.ReadStringIndex(in)
		if !assert.Equal(t, mok, xok, "%q", in) || !mok {
			continue
		}
		assert.Equal(t, len(m), x.Len())
		for k, v := range m {
			got, ok := x.Get(k)
			assert.True(t, ok, "%q in %q", k, in)
			assert.Equal(t, v.AsString(), got)
		}
		for _, k := range []string{"missing", "t-1", "a\x00", ""} {
			_, inMap := m[k]
			_, inIndex := x.Get(k)
			assert.Equal(t, inMap, inIndex, "%q in %q", k, in)
		}
	}
}
