package reconcile

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/keycontent"
	"github.com/keyprov/keyprov/store"
)

// TestCreatedChangesIsValidJSON checks the hand-written created event
// against the map it stands for, including strings that need escaping.
func TestCreatedChangesIsValidJSON(t *testing.T) {
	until := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	expires := time.Date(2027, 6, 30, 12, 0, 0, 500, time.UTC)
	tests := map[string]struct {
		change Change
		want   map[string]any
	}{
		"every field": {
			change: Change{Action: Create,
				Row: &store.KeyRow{Content: store.Content{Universal: true, Name: "Front \"end\" \\ key\n\t\x01 – ünïcode", Description: "<b>&</b>",
					Permissions: []byte(`[{"rwd": "r", "name": "wb.page"}]`), Metadata: []byte(`{"team": "web"}`), ExpiresAt: &expires}},
				Token: &TokenChange{After: "wat_…9fQx", Previous: "wat_…2bLm", PreviousUntil: &until}},
			want: map[string]any{
				"universal":      map[string]any{"new": true},
				"name":           map[string]any{"new": "Front \"end\" \\ key\n\t\x01 – ünïcode"},
				"description":    map[string]any{"new": "<b>&</b>"},
				"permissions":    map[string]any{"new": []any{map[string]any{"rwd": "r", "name": "wb.page"}}},
				"metadata":       map[string]any{"new": map[string]any{"team": "web"}},
				"expires":        map[string]any{"new": "2027-06-30T12:00:00.0000005Z"},
				"token":          map[string]any{"new": "wat_…9fQx"},
				"previous_token": map[string]any{"hint": "wat_…2bLm", "until": "2026-12-01T00:00:00Z"},
			},
		},
		"previous token let in by --allow-new-previous": {
			change: Change{Action: Create,
				Row:   &store.KeyRow{Content: store.Content{Name: "n", Permissions: []byte(`[]`), Metadata: []byte(`{}`)}},
				Token: &TokenChange{After: "wat_…9fQx", Previous: "wat_…2bLm", PreviousUntil: &until, PreviousNew: true}},
			want: map[string]any{
				"universal":      map[string]any{"new": false},
				"name":           map[string]any{"new": "n"},
				"permissions":    map[string]any{"new": []any{}},
				"metadata":       map[string]any{"new": map[string]any{}},
				"token":          map[string]any{"new": "wat_…9fQx"},
				"previous_token": map[string]any{"allow_new_previous": true, "hint": "wat_…2bLm", "until": "2026-12-01T00:00:00Z"},
			},
		},
		"minimal, revoked without token": {
			change: Change{Action: Create, Row: &store.KeyRow{Content: store.Content{Name: "n", Permissions: []byte(`[]`), Metadata: []byte(`{}`)}}},
			want: map[string]any{
				"universal":   map[string]any{"new": false},
				"name":        map[string]any{"new": "n"},
				"permissions": map[string]any{"new": []any{}},
				"metadata":    map[string]any{"new": map[string]any{}},
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := createdChanges(&tc.change)
			var m map[string]any
			require.NoError(t, json.Unmarshal(got, &m), string(got))
			assert.Equal(t, tc.want, m)
		})
	}
}

// TestCreatedChangesBytes pins the created event's text: members sorted
// by name, no space, HTML not escaped, control characters as \u00XX.
func TestCreatedChangesBytes(t *testing.T) {
	until := time.Date(2026, 12, 1, 0, 0, 0, 0, time.FixedZone("x", 3600))
	expires := time.Date(2027, 6, 30, 12, 0, 0, 500, time.UTC)
	c := Change{Action: Create,
		Row: &store.KeyRow{Content: store.Content{Universal: true, Name: "Front \"end\" \\ key\n\x01", Description: "<b>&</b>",
			Permissions: []byte(`[{"rwd": "r", "name": "wb.page"}]`), Metadata: []byte(`{}`), ExpiresAt: &expires, Owner: "platform"},
			Disabled: store.Disabled{Spec: true}},
		Token: &TokenChange{After: "wat_…9fQx", Previous: "wat_…2bLm", PreviousUntil: &until, PreviousNew: true}}
	assert.Equal(t, `{"description":{"new":"<b>&</b>"},"disabled":{"new":true},"expires":{"new":"2027-06-30T12:00:00.0000005Z"},`+
		`"metadata":{"new":{}},"name":{"new":"Front \"end\" \\ key\u000a\u0001"},"permissions":{"new":[{"rwd": "r", "name": "wb.page"}]},`+
		`"previous_token":{"allow_new_previous":true,"hint":"wat_…2bLm","until":"2026-11-30T23:00:00Z"},"token":{"new":"wat_…9fQx"},"universal":{"new":true}}`,
		string(createdChanges(&c)))
}

// TestCreatedChangesRecordsEveryField: the created event of a key that
// sets every field of keycontent.Fields records each field, with the
// value a change shows, except those listed here, which a created event
// leaves out on purpose. A field added to keycontent.Fields fails here
// until its Created rule says whether the event records it.
func TestCreatedChangesRecordsEveryField(t *testing.T) {
	leftOut := []string{"owner", "revoked_at", "revoked_reason"}
	var full store.Content
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	v := reflect.ValueOf(&full).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Interface().(type) {
		case bool:
			f.SetBool(true)
		case string:
			f.SetString("x")
		case []byte:
			f.SetBytes([]byte(`{"x": 1}`))
		case *time.Time:
			f.Set(reflect.ValueOf(&at))
		default:
			t.Fatalf("Content.%s: a field of an unknown kind", v.Type().Field(i).Name)
		}
	}
	var doc map[string]struct{ New json.RawMessage }
	require.NoError(t, json.Unmarshal(createdChanges(&Change{Action: Create, Row: &store.KeyRow{Content: full}}), &doc))
	for i := range keycontent.Fields {
		f := &keycontent.Fields[i]
		m, ok := doc[f.Name]
		if slices.Contains(leftOut, f.Name) {
			assert.False(t, ok, "the created event leaves out %s", f.Name)
			continue
		}
		if assert.True(t, ok, "the created event records %s", f.Name) {
			want, err := json.Marshal(f.Value(&full))
			require.NoError(t, err)
			assert.JSONEq(t, string(want), string(m.New), f.Name)
		}
		delete(doc, f.Name)
	}
	assert.Empty(t, doc, "members of the created event that are not content fields")
}

// BenchmarkCreatedChanges measures the created event document of one key,
// which an initial apply makes for every key as its row is sent.
func BenchmarkCreatedChanges(b *testing.B) {
	expires := time.Date(2027, 6, 30, 12, 0, 0, 0, time.UTC)
	changes := map[string]Change{
		"typical": {Action: Create,
			Row: &store.KeyRow{Content: store.Content{Name: "Website t0000042",
				Permissions: []byte(`[{"name": "cms.read"}, {"rwd": "r", "name": "wb.page"}]`), Metadata: []byte(`{"team": "web"}`)}},
			Token: &TokenChange{After: "wat_…9fQx"}},
		"every field": {Action: Create,
			Row: &store.KeyRow{Content: store.Content{Universal: true, Name: "Website t0000042", Description: "The website's key",
				Permissions: []byte(`[{"name": "cms.read"}, {"rwd": "r", "name": "wb.page"}]`), Metadata: []byte(`{"team": "web"}`), ExpiresAt: &expires},
				Disabled: store.Disabled{Spec: true}},
			Token: &TokenChange{After: "wat_…9fQx", Previous: "wat_…2bLm", PreviousUntil: &expires}},
	}
	for name, c := range changes {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(createdChanges(&c)) == 0 {
					b.Fatal("empty document")
				}
			}
		})
	}
}
