package spec

import (
	"encoding/json"
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
