package reconcile

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
