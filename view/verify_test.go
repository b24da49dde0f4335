package view_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/verify"
	"github.com/keyprov/keyprov/view"
)

func verifiedKey() *verify.Key {
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600))
	return &verify.Key{ID: 7, Address: "acme/web\x1b[2J", Tenant: "acme", Slug: "web", Name: "Web\u202esite",
		Permissions: []verify.Permission{{Name: "wb.page", Attributes: map[string]any{"rwd": "r"}}, {Name: "cms.read"}},
		Metadata:    map[string]string{"team": "web\r", "a": "1"}, ExpiresAt: &exp,
		Token: verify.Active, TokenHint: "wat_…9yC2"}
}

func TestWriteVerifyText(t *testing.T) {
	tests := map[string]struct {
		res  view.VerifyResult
		want string
	}{
		"valid, with a tenant": {
			res: view.NewVerifyResult(verifiedKey(), nil, "acme"),
			want: `Valid: acme/web\x1b[2J (tenant key), active token wat_…9yC2
  name:        Web\u202esite
  tenant:      acme
  permissions: wb.page {"rwd":"r"}, cms.read
  metadata:    a="1", team="web\r"
  expires:     2026-12-31T23:00:00Z
  scope:       reaches tenant acme
`,
		},
		"revoked": {
			res: view.NewVerifyResult(verifiedKey(), &verify.Error{Err: verify.ErrRevoked, Address: "acme/web", Detail: "leaked\x07"}, ""),
			want: `Invalid (revoked): acme/web: leaked\a
The token belongs to acme/web\x1b[2J (tenant key), active token wat_…9yC2
  name:        Web\u202esite
  tenant:      acme
  permissions: wb.page {"rwd":"r"}, cms.read
  metadata:    a="1", team="web\r"
  expires:     2026-12-31T23:00:00Z
`,
		},
		"unknown": {
			res:  view.NewVerifyResult(nil, &verify.Error{Err: verify.ErrUnknown}, ""),
			want: "Invalid (unknown): no key in the store has this token\n",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, view.WriteVerifyText(&b, tt.res))
			assert.Equal(t, tt.want, b.String())
		})
	}
}

func TestWriteVerifyJSON(t *testing.T) {
	var b bytes.Buffer
	res := view.NewVerifyResult(nil, &verify.Error{Err: verify.ErrDisabled, Address: "acme/w\u009b", Detail: "by x"}, "t")
	require.NoError(t, view.WriteVerifyJSON(&b, res))
	want := `{
  "format_version": "1",
  "valid": false,
  "reason": "disabled",
  "address": "acme/w\u009b",
  "message": "` + verify.ErrDisabled.Error() + `: acme/w\u009b (by x)",
  "tenant": "t"
}
`
	assert.Equal(t, want, b.String())

	b.Reset()
	require.NoError(t, view.WriteVerifyJSON(&b, view.NewVerifyResult(verifiedKey(), nil, "")))
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &doc))
	assert.Equal(t, true, doc["valid"])
	assert.Equal(t, "wat_…9yC2", doc["key"].(map[string]any)["token_hint"])
	assert.NotContains(t, b.String(), "\x1b")
	assert.NotContains(t, b.String(), "\u202e")
}
