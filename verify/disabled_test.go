package verify_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/verify"
)

// disabledSpec declares acme/website (EXTRA1), disabled when disabled is
// true, and acme/old (EXTRA2), which expires at expires.
func disabledSpec(disabled bool, expires time.Time) string {
	return fmt.Sprintf(`settings {
  owner = "platform"
}

tenant_key "website" {
  tenant   = "acme"
  name     = "Website"
  token    = env("EXTRA1")
  disabled = %v
}

tenant_key "old" {
  tenant   = "acme"
  name     = "Old"
  token    = env("EXTRA2")
  expires  = %q
  disabled = %v
}
`, disabled, rfc(expires), disabled)
}

// A disabled key's tokens answer ErrDisabled (code "disabled"), checked
// after revoked and before expired, whoever holds the key disabled; once
// the key is enabled, the same token verifies again (issue 18).
func TestDisabled(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	v, err := verify.New(f.pool)
	require.NoError(t, err)
	check := func(tok string, want error) {
		t.Helper()
		key, err := v.Verify(ctx, tok)
		if want == nil {
			require.NoError(t, err)
			assert.Equal(t, "acme/website", key.Address)
			return
		}
		require.ErrorIs(t, err, want)
		assertNoToken(t, err.Error())
		var verr *verify.Error
		require.ErrorAs(t, err, &verr)
		if want == verify.ErrDisabled {
			assert.Equal(t, verify.CodeDisabled, verify.Code(err))
			assert.Contains(t, verr.Detail, "disabled at ")
		}
	}

	f.apply(disabledSpec(false, now.Add(-time.Hour)))
	check(tokExtra1, nil)
	check(tokExtra2, verify.ErrExpired)

	// By the spec: disabled comes before expired.
	f.apply(disabledSpec(true, now.Add(-time.Hour)))
	check(tokExtra1, verify.ErrDisabled)
	check(tokExtra2, verify.ErrDisabled)

	// Enabled again: the same token verifies.
	f.apply(disabledSpec(false, now.Add(-time.Hour)))
	check(tokExtra1, nil)

	// By an operator.
	require.NoError(t, f.db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.DisableKey(ctx, "acme", "website", "incident", store.EventMeta{RunID: reconcile.NewRunID(), Actor: "ops"})
		return err
	}))
	check(tokExtra1, verify.ErrDisabled)
	require.NoError(t, f.db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.EnableKey(ctx, "acme", "website", "", store.EventMeta{RunID: reconcile.NewRunID(), Actor: "ops"})
		return err
	}))
	check(tokExtra1, nil)

	// Revoked comes before disabled.
	f.apply(disabledSpec(true, now.Add(-time.Hour)))
	f.exec(`UPDATE keyprov.keys SET revoked_at = now(), revoked_reason = 'leaked' WHERE slug = 'website'`)
	check(tokExtra1, verify.ErrRevoked)
}
