package view_test

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/view"
)

var opAt = time.Date(2026, 3, 1, 13, 0, 0, 0, time.FixedZone("CET", 3600))

func TestWriteRevoked(t *testing.T) {
	tests := map[string]struct {
		r    store.Revocation
		want string
	}{
		"revoked now": {
			r: store.Revocation{RevokedAt: opAt.UTC(), Retired: []string{"wat_…9yC2", "wat_…\x1b[2J"}},
			want: `Revoked acme/web at 2026-03-01T12:00:00Z. Retired 2 tokens: wat_…9yC2, wat_…\x1b[2J.` + "\n" +
				"The token can never be used again: set a new token in the spec's secret before the key can be restored.\n",
		},
		"already": {
			r: store.Revocation{RevokedAt: opAt.UTC(), AlreadyRevoked: true},
			want: "acme/web was already revoked at 2026-03-01T12:00:00Z.\n" +
				"The token can never be used again: set a new token in the spec's secret before the key can be restored.\n",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, view.WriteRevoked(&b, "acme/web", &tt.r))
			assert.Equal(t, tt.want, b.String())
		})
	}
}

func TestWriteSwitch(t *testing.T) {
	op := &store.OperatorHold{At: opAt, Actor: "eve\u202e", Reason: "unpaid\r"}
	tests := map[string]struct {
		write func(*bytes.Buffer, string, *store.Switch) error
		sw    store.Switch
		want  string
	}{
		"disabled": {
			write: wrap(view.WriteDisabled),
			sw:    store.Switch{Changed: true, After: store.Disabled{Operator: op}},
			want:  "Disabled acme/web at 2026-03-01T12:00:00Z. Its tokens are kept: keyprov enable acme/web restores them; no apply does.\n",
		},
		"disabled, held by the spec too": {
			write: wrap(view.WriteDisabled),
			sw:    store.Switch{Changed: true, Before: store.Disabled{Spec: true}, After: store.Disabled{Spec: true, Operator: op}},
			want: "Disabled acme/web at 2026-03-01T12:00:00Z. Its tokens are kept: keyprov enable acme/web restores them; no apply does.\n" +
				"It was disabled already by the spec (disabled = true: remove it from the spec); it stays disabled until both are lifted.\n",
		},
		"already disabled": {
			write: wrap(view.WriteDisabled),
			sw:    store.Switch{Before: store.Disabled{Operator: op}, After: store.Disabled{Operator: op}},
			want:  `acme/web was already disabled by eve\u202e at 2026-03-01T12:00:00Z: unpaid\r.` + "\n",
		},
		"disable a revoked key": {
			write: wrap(view.WriteDisabled),
			sw:    store.Switch{RevokedAt: &opAt},
			want:  "acme/web is revoked (at 2026-03-01T12:00:00Z): its tokens can never be used again. Nothing to disable.\n",
		},
		"enabled": {
			write: wrap(view.WriteEnabled),
			sw:    store.Switch{Changed: true, Before: store.Disabled{Operator: op}},
			want:  "Enabled acme/web: its tokens work again.\n",
		},
		"enabled, revoked": {
			write: wrap(view.WriteEnabled),
			sw:    store.Switch{Changed: true, RevokedAt: &opAt},
			want:  "Enabled acme/web: its tokens work again.\nIt is revoked, though (at 2026-03-01T12:00:00Z): its tokens can never be used again.\n",
		},
		"lifted, held by a prune": {
			write: wrap(view.WriteEnabled),
			sw:    store.Switch{Changed: true, After: store.Disabled{Prune: true}},
			want:  "Lifted the operator's disable of acme/web; it stays disabled by a prune (the spec no longer declares it: declare it again).\n",
		},
		"not disabled": {
			write: wrap(view.WriteEnabled),
			sw:    store.Switch{},
			want:  "acme/web is not disabled.\n",
		},
		"held by the spec only: the command refuses": {
			write: wrap(view.WriteEnabled),
			sw:    store.Switch{After: store.Disabled{Spec: true}},
			want:  "",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, tt.write(&b, "acme/web", &tt.sw))
			assert.Equal(t, tt.want, b.String())
		})
	}
	assert.Equal(t, "by the spec (disabled = true: remove it from the spec) and by a prune (the spec no longer declares it: declare it again)",
		view.HoldersBesidesOperator(store.Disabled{Spec: true, Prune: true, Operator: op}))
}

func wrap(f func(w io.Writer, addr string, sw *store.Switch) error) func(*bytes.Buffer, string, *store.Switch) error {
	return func(b *bytes.Buffer, addr string, sw *store.Switch) error { return f(b, addr, sw) }
}

func TestWriteSavedPlanHeader(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, view.WriteSavedPlanHeader(&b, opAt, "0.3.0\x1b[2J", store.Position{StoreID: "s1", Counter: 42}))
	require.NoError(t, view.WriteSavedPlanHeader(&b, opAt, "dev", store.Position{}))
	assert.Equal(t, `Saved plan computed at 2026-03-01T12:00:00Z by keyprov 0.3.0\x1b[2J against store s1 at change counter 42.`+"\n\n"+
		"Saved plan computed at 2026-03-01T12:00:00Z by keyprov dev against a store without keyprov's schema.\n\n", b.String())
}

func TestWriteVersion(t *testing.T) {
	b := view.BuildInfo{FormatVersion: "1", Version: "0.2.0", Commit: "abc", Date: "2026-01-01T00:00:00Z", GoVersion: "go1.26.8",
		Platform: "linux/amd64", Note: "not in JSON", Modules: []view.BuildModule{{Path: "example.com/m\u202e", Version: "v1.0.0"}},
		Settings: map[string]string{"vcs": "git"}}
	var out bytes.Buffer
	require.NoError(t, view.WriteVersionText(&out, b))
	assert.Equal(t, "keyprov 0.2.0 (linux/amd64, go1.26.8; not in JSON)\n", out.String())
	out.Reset()
	require.NoError(t, view.WriteVersionJSON(&out, b))
	assert.NotContains(t, out.String(), "\u202e")
	assert.Contains(t, out.String(), `"path": "example.com/m\u202e"`)
	assert.NotContains(t, out.String(), "not in JSON")
	var doc map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &doc))
	assert.Equal(t, []string{"build_settings", "commit", "date", "format_version", "go_version", "modified", "modules", "platform", "version"},
		slices.Sorted(maps.Keys(doc)))
}

func TestWriteValidText(t *testing.T) {
	states := slices.Values([]view.ChecksumState{
		{Address: "acme/web", Attribute: "token", Hint: "wat_…9yC2", State: "checksum valid"},
		{Address: "acme/web", Attribute: "previous_token", Hint: "wat_…gS0a", State: "no checksum"},
	})
	var b bytes.Buffer
	require.NoError(t, view.WriteValidText(&b, 1, 0, true, states))
	assert.Equal(t, "acme/web: token wat_…9yC2: checksum valid\nacme/web: previous_token wat_…gS0a: no checksum\n"+
		"The spec is valid: 1 key, 0 warnings (secrets read).\n", b.String())
	b.Reset()
	require.NoError(t, view.WriteValidText(&b, 2, 1, false, states))
	assert.Equal(t, "The spec is valid: 2 keys, 1 warning (secrets not read).\n", b.String())
}

func TestWriteFormatChange(t *testing.T) {
	old := []byte("a = 1\nsecret   = \"wat_3kT9pQ7xZr2LmN8vB4cW6yH1jF5dS0gE9yC2\"\n")
	formatted := []byte("a      = 1\nsecret = \"wat_3kT9pQ7xZr2LmN8vB4cW6yH1jF5dS0gE9yC2\"\n")
	var b bytes.Buffer
	require.NoError(t, view.WriteFormatChange(&b, "dir/keys.hcl", old, formatted, true, true, nil))
	assert.Equal(t, "dir/keys.hcl\n--- old/dir/keys.hcl\n+++ new/dir/keys.hcl\n@@ -1,2 +1,2 @@\n-a = 1\n-secret   = \"wat_…9yC2\"\n+a      = 1\n+secret = \"wat_…9yC2\"\n", b.String())
	b.Reset()
	require.NoError(t, view.WriteFormatChange(&b, "keys.hcl", old, formatted, true, false, nil))
	assert.Equal(t, "keys.hcl\n", b.String())
}
