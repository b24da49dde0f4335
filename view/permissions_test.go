package view_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/view"
)

func TestPermissionsJSON(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"jsonb order":          {`[{"rwd": "r", "name": "wb.page"}]`, `[{"name": "wb.page", "rwd": "r"}]`},
		"others sorted":        {`[{"z": 1, "rwd": "r", "name": "a", "locales": ["en", "de"]}]`, `[{"name": "a", "locales": ["en", "de"], "rwd": "r", "z": 1}]`},
		"one object":           {`{"rwd": "r", "name": "wb.page"}`, `{"name": "wb.page", "rwd": "r"}`},
		"several":              {`[{"name": "cms.read"}, {"ttl": 5, "name": "cms.write"}]`, `[{"name": "cms.read"}, {"name": "cms.write", "ttl": 5}]`},
		"nested kept":          {`[{"scope": {"b": 1, "a": 2}, "name": "x"}]`, `[{"name": "x", "scope": {"b": 1, "a": 2}}]`},
		"escaped key kept":     {`[{"a\"b": "\u00e9", "name": "x"}]`, `[{"name": "x", "a\"b": "\u00e9"}]`},
		"empty":                {`[]`, `[]`},
		"no name":              {`[{"b": 1, "a": 2}]`, `[{"a": 2, "b": 1}]`},
		"not an object kept":   {`["cms.read", 1, null]`, `["cms.read", 1, null]`},
		"not JSON kept":        {`[{"name": `, `[{"name": `},
		"two values kept":      {`{"name": "a"} {}`, `{"name": "a"} {}`},
		"scalar kept":          {`"name"`, `"name"`},
		"compact kept compact": {`[{"rwd":"r","name":"x"},{"name":"y"}]`, `[{"name":"x","rwd":"r"},{"name":"y"}]`},
		"string with a colon":  {`[{"rwd":"a: b","name":"x"}]`, `[{"name":"x","rwd":"a: b"}]`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, string(view.PermissionsJSON([]byte(tc.in))))
		})
	}
}

// Reordering is display only: the value is the same JSON.
func TestPermissionsJSONKeepsTheValue(t *testing.T) {
	in := `[{"rwd": "rw", "name": "wb.page", "locales": ["en"], "limits": {"rpm": 60}}, {"name": "*"}]`
	var a, b any
	assert.NoError(t, json.Unmarshal([]byte(in), &a))
	assert.NoError(t, json.Unmarshal(view.PermissionsJSON([]byte(in)), &b))
	assert.Equal(t, a, b)
}

func TestEventChangesJSON(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"update": {
			`{"name": {"new": "B", "old": "A"}, "permissions": {"new": [{"rwd": "r", "name": "x"}], "old": [{"name": "y"}]}}`,
			`{"name": {"new": "B", "old": "A"}, "permissions": {"new": [{"name": "x", "rwd": "r"}], "old": [{"name": "y"}]}}`,
		},
		"created": {
			`{"name": {"new": "B"}, "token": {"new": "wat_…abcd"}, "permissions": {"new": [{"rwd": "r", "name": "x"}]}}`,
			`{"name": {"new": "B"}, "token": {"new": "wat_…abcd"}, "permissions": {"new": [{"name": "x", "rwd": "r"}]}}`,
		},
		"compact": {
			`{"name":{"new":"B","old":"A"},"permissions":{"new":[{"rwd":"r","name":"x"}],"old":[]}}`,
			`{"name":{"new":"B","old":"A"},"permissions":{"new":[{"name":"x","rwd":"r"}],"old":[]}}`,
		},
		"no permissions kept": {`{"revoked":{"new":true,"old":false}}`, `{"revoked":{"new":true,"old":false}}`},
		"not JSON kept":       {`{"permissions": `, `{"permissions": `},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, string(view.EventChangesJSON([]byte(tc.in))))
		})
	}
}

// Every plan format shows a permission's name first: in a created key's
// permissions, and in the permissions an update adds, removes, or has
// before and after.
func TestPlanShowsPermissionNamesFirst(t *testing.T) {
	stored := `[{"rwd": "r", "name": "wb.page"}]`
	p := &reconcile.Plan{Owner: "platform", Now: planNow, Changes: []reconcile.Change{
		{Address: addr("acme/site"), Action: reconcile.Create,
			Row: &store.KeyRow{Tenant: "acme", Slug: "site", Content: store.Content{Name: "Site", Permissions: []byte(stored), Metadata: []byte(`{}`), Owner: "platform"}}},
		{Address: addr("acme/web"), Action: reconcile.Update, KeyID: 1, Fields: []reconcile.FieldChange{
			{Field: "permissions", Before: raw(`[{"rwd": "rw", "name": "wb.page"}]`), After: raw(stored),
				Added: []json.RawMessage{raw(`{"rwd": "r", "name": "wb.page"}`)}, Removed: []json.RawMessage{raw(`{"rwd": "rw", "name": "wb.page"}`)}}}},
	}}
	for _, format := range []string{"text", "markdown", "json"} {
		t.Run(format, func(t *testing.T) {
			v, err := view.NewPlanView(format, false, 0)
			require.NoError(t, err)
			var b bytes.Buffer
			require.NoError(t, v.Render(&b, &view.Report{Plan: p, Command: "plan"}))
			out := b.String()
			if format == "json" {
				// Indented: each attribute on its line.
				out = strings.Join(strings.Fields(out), " ")
				assert.Equal(t, 5, strings.Count(out, `{ "name": "wb.page", "rwd": `), out)
			} else {
				assert.Contains(t, out, `{"name": "wb.page", "rwd": "r"}`)
				assert.Contains(t, out, `{"name": "wb.page", "rwd": "rw"}`)
			}
			assert.NotContains(t, out, `"rwd": "r", "name"`)
			assert.NotContains(t, out, `"rwd": "rw", "name"`)
		})
	}
}
