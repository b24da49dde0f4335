package view_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/view"
)

// listKeys are two listed keys: a plain one, and one whose stored text
// (written by another tool) would drive a terminal and reorder the line.
func listKeys() []view.ListKey {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	until := at.Add(24 * time.Hour)
	return []view.ListKey{
		{
			Address: "acme/website", Tenant: "acme", Slug: "website", Name: "Website",
			Permissions: json.RawMessage(`[{"rwd": "r", "name": "wb.page"}, {"name": "cms.read"}, {"own": true, "name": "search.*", "locales": ["de", "fr"]}, {"name": "x.y"}]`),
			Metadata:    json.RawMessage(`{}`),
			Tokens: []view.ListToken{{Hint: "wat_…9yC2", State: "active"},
				{Hint: "wat_…gS0a", State: "previous", ValidUntil: &until}},
			State: "active", Owner: "platform", UpdatedAt: at, LastUsedAt: &at,
		},
		{
			Address: "root/ops\x1b[2J", Tenant: "root", Slug: "ops", Name: "Ops\u202eevil\tname", Universal: true,
			Permissions: json.RawMessage(`[]`), Metadata: json.RawMessage(`{"note": "\u009b31m"}`),
			Tokens: []view.ListToken{}, State: "disabled", Disabled: &view.ListDisabled{At: at, By: []string{"operator"}, Actor: "eve\x07", Reason: "r"},
			Owner: "other\r", UpdatedAt: at,
		},
	}
}

func TestWriteListText(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, view.WriteListText(&b, listKeys(), 2))
	want := "" +
		"ADDRESS          NAME                 KIND       PERMISSIONS                                                        TOKENS                                                      EXPIRES  STATE                OWNER     UPDATED               LAST USED\n" +
		"acme/website     Website              tenant     wb.page(rwd=r),cms.read,search.*(locales=[\"de\",\"fr\"],own=true) +1  wat_…9yC2, wat_…gS0a (previous until 2026-03-02T12:00:00Z)  never    active               platform  2026-03-01T12:00:00Z  2026-03-01T12:00:00Z\n" +
		`root/ops\x1b[2J  Ops\u202eevil\tname  universal  -                                                                  -                                                           never    disabled (operator)  other\r   2026-03-01T12:00:00Z  never` + "\n" +
		"2 keys; 2 revoked keys hidden (--all shows them).\n"
	assert.Equal(t, want, b.String())
}

func TestWriteListTextEmpty(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, view.WriteListText(&b, nil, 0))
	assert.Equal(t, "No keys.\n", b.String())
	b.Reset()
	require.NoError(t, view.WriteListText(&b, nil, 1))
	assert.Equal(t, "No keys; 1 revoked key hidden (--all shows them).\n", b.String())
}

func TestWriteListJSON(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, view.WriteListJSON(&b, listKeys()[1:]))
	want := `{
  "format_version": "1",
  "keys": [
    {
      "address": "root/ops\u001b[2J",
      "tenant": "root",
      "slug": "ops",
      "name": "Ops\u202eevil\tname",
      "universal": true,
      "permissions": [],
      "metadata": {
        "note": "\u009b31m"
      },
      "tokens": [],
      "expires_at": null,
      "state": "disabled",
      "disabled": {
        "at": "2026-03-01T12:00:00Z",
        "by": [
          "operator"
        ],
        "actor": "eve\u0007",
        "reason": "r"
      },
      "owner": "other\r",
      "updated_at": "2026-03-01T12:00:00Z",
      "last_used_at": null
    }
  ]
}
`
	assert.Equal(t, want, b.String())

	// Permissions are shown name first, whatever order jsonb stored.
	b.Reset()
	require.NoError(t, view.WriteListJSON(&b, listKeys()[:1]))
	var doc struct {
		Keys []struct {
			Permissions json.RawMessage `json:"permissions"`
		} `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(b.Bytes(), &doc))
	require.Len(t, doc.Keys, 1)
	var shown bytes.Buffer
	require.NoError(t, json.Compact(&shown, doc.Keys[0].Permissions))
	assert.Equal(t, `[{"name":"wb.page","rwd":"r"},{"name":"cms.read"},{"name":"search.*","locales":["de","fr"],"own":true},{"name":"x.y"}]`, shown.String())
	// The caller's keys are left as they were.
	assert.Equal(t, `[{"rwd": "r", "name": "wb.page"}, {"name": "cms.read"}, {"own": true, "name": "search.*", "locales": ["de", "fr"]}, {"name": "x.y"}]`,
		string(listKeys()[0].Permissions))
	// An empty list is an empty array.
	b.Reset()
	require.NoError(t, view.WriteListJSON(&b, nil))
	assert.Equal(t, "{\n  \"format_version\": \"1\",\n  \"keys\": []\n}\n", b.String())
}

func TestPermissionForms(t *testing.T) {
	tests := map[string]struct {
		doc  string
		want []string
	}{
		"none":       {`[]`, []string{}},
		"bare":       {`[{"name": "cms.read"}]`, []string{"cms.read"}},
		"attributes": {`[{"rwd": "rw", "name": "wb.page", "max": 10}]`, []string{"wb.page(max=10,rwd=rw)"}},
		"not a word": {`[{"name": "a", "note": "two words"}]`, []string{`a(note="two words")`}},
		"object":     {`[{"name": "a", "o": {"b": [1, 2]}}]`, []string{`a(o={"b":[1,2]})`}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, view.PermissionForms([]byte(tt.doc)))
		})
	}
}
