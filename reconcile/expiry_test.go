package reconcile

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/keyprov/keyprov/spec"
)

func TestExpiryWarning(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	addr := spec.Address{Tenant: "acme", Slug: "web"}
	day := 24 * time.Hour
	tests := map[string]struct {
		field EndField
		end   time.Time
		warn  time.Duration
		kind  string // "" for no warning
		msg   string
	}{
		"expired long ago": {Expires, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 14 * day, WarnExpired,
			"expired at 2026-01-01T00:00:00Z; it no longer verifies"},
		"expires now":          {Expires, now, 14 * day, WarnExpired, "expired at 2026-12-02T00:00:00Z; it no longer verifies"},
		"expired, no window":   {Expires, now.Add(-time.Hour), 0, WarnExpired, "expired at 2026-12-01T23:00:00Z; it no longer verifies"},
		"within the window":    {Expires, now.Add(8 * day), 14 * day, WarnExpiring, "expires at 2026-12-10T00:00:00Z, in 8 days"},
		"at the window's edge": {Expires, now.Add(14 * day), 14 * day, WarnExpiring, "expires at 2026-12-16T00:00:00Z, in 14 days"},
		"past the window":      {Expires, now.Add(15 * day), 14 * day, "", ""},
		"no window":            {Expires, now.Add(time.Hour), 0, "", ""},
		"previous past": {PreviousUntil, now.Add(-2 * day), 14 * day, WarnPreviousExpired,
			"previous_until (2026-11-30T00:00:00Z) has passed: the previous token no longer works; remove previous_token and previous_until from the spec"},
		"previous soon": {PreviousUntil, now.Add(3 * time.Hour), 14 * day, WarnPreviousExpiring,
			"the previous token stops working at 2026-12-02T03:00:00Z (previous_until), in 3 hours"},
		"previous later": {PreviousUntil, now.Add(30 * day), 14 * day, "", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w, ok := ExpiryWarning(addr, tc.field, tc.end, now, tc.warn)
			assert.Equal(t, tc.kind != "", ok)
			if tc.kind == "" {
				assert.Zero(t, w)
				return
			}
			assert.Equal(t, Warning{Address: "acme/web", Kind: tc.kind, Message: tc.msg}, w)
		})
	}
}

func TestKeyExpiryWarnings(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	past, soon := now.Add(-time.Hour), now.Add(time.Hour)
	k := &spec.Key{Address: spec.Address{Tenant: "acme", Slug: "web"}, Expires: &past,
		Previous: &spec.PreviousToken{Until: soon}}
	var kinds []string
	for _, w := range KeyExpiryWarnings(k, now, time.Hour) {
		kinds = append(kinds, w.Kind)
	}
	assert.Equal(t, []string{WarnExpired, WarnPreviousExpiring}, kinds)

	k.Revoked = true
	assert.Empty(t, KeyExpiryWarnings(k, now, time.Hour), "a revoked key grants nothing: no warning")
	assert.Empty(t, KeyExpiryWarnings(&spec.Key{}, now, time.Hour), "no end date, no warning")
}
