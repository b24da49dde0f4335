package verify_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/token"
	"github.com/keyprov/keyprov/verify"
)

// standardSpec declares one key in each state. With rotated, it is the
// second apply: acme/website rolls to a new token keeping the old one as
// previous until now+1h, and globex/rolled rotates without a previous token.
func standardSpec(now time.Time, rotated bool) string {
	website := `token = env("WEBSITE")`
	rolled := `token = env("ROTATED1")`
	if rotated {
		website = fmt.Sprintf(`token = env("WEBSITE2")
  previous_token = env("WEBSITE")
  previous_until = %q`, rfc(now.Add(time.Hour)))
		rolled = `token = env("ROTATED2")`
	}
	return fmt.Sprintf(`settings {
  owner = "platform"
}

universal_key "frontend" {
  name        = "Front end"
  token       = env("FRONTEND")
  permissions = [{ name = "*" }]
  metadata    = { team = "web" }
}

tenant_key "website" {
  tenant      = "acme"
  name        = "Website"
  %s
  permissions = ["cms.read", { name = "wb.page", rwd = "r" }]
  expires     = %q
}

tenant_key "old" {
  tenant  = "acme"
  name    = "Old"
  token   = env("EXPIRED")
  expires = %q
}

tenant_key "gone" {
  tenant  = "acme"
  name    = "Gone"
  token   = env("REVOKED")
  revoked = true
}

tenant_key "rolled" {
  tenant = "globex"
  name   = "Rolled"
  %s
}
`, website, rfc(now.Add(30*24*time.Hour)), rfc(now.Add(-time.Hour)), rolled)
}

// standardFixture applies standardSpec twice (the second time rotated).
func standardFixture(t testing.TB) (*fixture, time.Time) {
	f := newFixture(t)
	now := time.Now().UTC().Truncate(time.Second)
	f.apply(standardSpec(now, false))
	f.apply(standardSpec(now, true))
	return f, now
}

func TestVerify(t *testing.T) {
	f, now := standardFixture(t)
	v, err := verify.New(f.pool)
	require.NoError(t, err)

	tests := map[string]struct {
		tok     string
		want    error // nil: verifies
		address string
		state   verify.TokenState
	}{
		"universal key":                    {tok: tokFrontend, address: "root/frontend", state: verify.Active},
		"active token after a roll":        {tok: tokWebsite2, address: "acme/website", state: verify.Active},
		"previous token before its cutoff": {tok: tokWebsite, address: "acme/website", state: verify.Previous},
		"active token after a rotation":    {tok: tokRotated2, address: "globex/rolled", state: verify.Active},
		"expired key":                      {tok: tokExpired, want: verify.ErrExpired, address: "acme/old"},
		"revoked key":                      {tok: tokRevoked, want: verify.ErrRevoked, address: "acme/gone"},
		"rotated-out token":                {tok: tokRotated1, want: verify.ErrRetired, address: "globex/rolled"},
		"unknown token":                    {tok: tokUnknown, want: verify.ErrUnknown},
		"weak but well-formed token":       {tok: "wat_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", want: verify.ErrUnknown},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := f.queries.Load()
			key, err := v.Verify(context.Background(), tc.tok)
			assert.Equal(t, int64(1), f.queries.Load()-before, "queries")
			if tc.want == nil {
				require.NoError(t, err)
				assert.Equal(t, tc.address, key.Address)
				assert.Equal(t, tc.state, key.Token)
				assert.Equal(t, token.Hint(tc.tok, token.DefaultPrefix), key.TokenHint)
				return
			}
			require.Error(t, err)
			assert.Nil(t, key)
			assert.ErrorIs(t, err, tc.want)
			var verr *verify.Error
			require.ErrorAs(t, err, &verr)
			assert.Equal(t, tc.address, verr.Address)
			assert.NotEmpty(t, verify.Code(err))
			assertNoToken(t, err.Error())
		})
	}

	t.Run("key fields", func(t *testing.T) {
		key, err := v.Verify(context.Background(), tokWebsite)
		require.NoError(t, err)
		assert.Equal(t, "acme", key.Tenant)
		assert.Equal(t, "website", key.Slug)
		assert.Equal(t, "Website", key.Name)
		assert.False(t, key.Universal)
		assert.Equal(t, []verify.Permission{
			{Name: "cms.read"},
			{Name: "wb.page", Attributes: map[string]any{"rwd": "r"}},
		}, key.Permissions)
		assert.Equal(t, map[string]string{}, key.Metadata)
		require.NotNil(t, key.ExpiresAt)
		assert.True(t, key.ExpiresAt.Equal(now.Add(30*24*time.Hour)), "expires %s", key.ExpiresAt)
		require.NotNil(t, key.ValidUntil)
		assert.True(t, key.ValidUntil.Equal(now.Add(time.Hour)), "valid until %s", key.ValidUntil)
		p, ok := key.Permission("wb.page")
		assert.True(t, ok)
		assert.Equal(t, "r", p.Attributes["rwd"])
		_, ok = key.Permission("wb")
		assert.False(t, ok)

		key, err = v.Verify(context.Background(), tokFrontend)
		require.NoError(t, err)
		assert.True(t, key.Universal)
		assert.Equal(t, "root", key.Tenant)
		assert.Equal(t, []verify.Permission{{Name: "*"}}, key.Permissions)
		assert.Equal(t, map[string]string{"team": "web"}, key.Metadata)
		assert.Nil(t, key.ExpiresAt)
		assert.Nil(t, key.ValidUntil)
	})
}

func TestMalformedTokensMakeNoQuery(t *testing.T) {
	f := newFixture(t)
	f.apply(standardSpec(time.Now(), false))
	v, err := verify.New(f.pool, verify.WithCache(time.Minute, 100))
	require.NoError(t, err)

	tests := map[string]struct {
		tok  string
		rule error
	}{
		"empty":              {tok: "", rule: token.ErrPrefix},
		"wrong prefix":       {tok: "sk_" + tokFrontend[4:], rule: token.ErrPrefix},
		"bearer scheme kept": {tok: "Bearer " + tokFrontend, rule: token.ErrWhitespace},
		"trailing newline":   {tok: tokFrontend + "\n", rule: token.ErrWhitespace},
		"too short":          {tok: tokFrontend[:20], rule: token.ErrTooShort},
		"bad character":      {tok: tokFrontend[:10] + "!" + tokFrontend[11:], rule: token.ErrCharset},
		"non-ASCII":          {tok: tokFrontend + "é", rule: token.ErrCharset},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := f.queries.Load()
			key, err := v.Verify(context.Background(), tc.tok)
			assert.Nil(t, key)
			require.ErrorIs(t, err, verify.ErrMalformed)
			assert.ErrorIs(t, err, tc.rule)
			assert.Equal(t, verify.CodeMalformed, verify.Code(err))
			assert.Equal(t, int64(0), f.queries.Load()-before, "queries")
			assertNoToken(t, err.Error())
			if len(tc.tok) > 8 {
				assert.NotContains(t, err.Error(), tc.tok[4:12])
			}
		})
	}
}

func TestWithPrefix(t *testing.T) {
	f := newFixture(t)
	f.apply(standardSpec(time.Now(), false))
	v, err := verify.New(f.pool, verify.WithPrefix("sk_"))
	require.NoError(t, err)
	before := f.queries.Load()
	_, err = v.Verify(context.Background(), tokFrontend)
	assert.ErrorIs(t, err, verify.ErrMalformed)
	assert.ErrorContains(t, err, `"sk_"`)
	assert.Equal(t, before, f.queries.Load())
}

func TestWithSchema(t *testing.T) {
	f := newFixture(t)
	// keyprov apply with KEYPROV_SCHEMA=keys_elsewhere.
	db, err := store.Open(context.Background(), store.Config{URL: f.url, Schema: "keys_elsewhere", Wait: 10 * time.Second})
	require.NoError(t, err)
	defer db.Close(context.Background())
	f.applyTo(db, standardSpec(time.Now(), false))
	v, err := verify.New(f.pool, verify.WithSchema("keys_elsewhere"))
	require.NoError(t, err)
	key, err := v.Verify(context.Background(), tokFrontend)
	require.NoError(t, err)
	assert.Equal(t, "root/frontend", key.Address)

	v, err = verify.New(f.pool)
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), tokFrontend)
	require.Error(t, err, "the default schema no longer exists")
	var verr *verify.Error
	assert.False(t, errors.As(err, &verr), "a database error is not a verification failure")
	assert.Empty(t, verify.Code(err))
	assertNoToken(t, err.Error())
}

func TestNewRejectsBadOptions(t *testing.T) {
	f := newFixture(t)
	tests := map[string]verify.Option{
		"empty schema":     verify.WithSchema(""),
		"zero cache TTL":   verify.WithCache(0, 10),
		"zero cache size":  verify.WithCache(time.Second, 0),
		"zero last-used":   verify.WithLastUsed(0),
		"nil clock":        verify.WithClock(nil),
		"negative TTL":     verify.WithCache(-time.Second, 10),
		"negative last-us": verify.WithLastUsed(-time.Minute),
	}
	for name, opt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := verify.New(f.pool, opt)
			assert.Error(t, err)
		})
	}
	_, err := verify.New(nil)
	assert.Error(t, err)
}

func TestRevokedWithoutCacheIsImmediate(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	f.apply(standardSpec(now, false))
	v, err := verify.New(f.pool)
	require.NoError(t, err)

	_, err = v.Verify(context.Background(), tokFrontend)
	require.NoError(t, err)

	f.apply(strings.Replace(standardSpec(now, false), `metadata    = { team = "web" }`, `metadata    = { team = "web" }
  revoked     = true`, 1))
	key, err := v.Verify(context.Background(), tokFrontend)
	assert.Nil(t, key)
	assert.ErrorIs(t, err, verify.ErrRevoked)
	assert.ErrorContains(t, err, "root/frontend")
	assert.ErrorContains(t, err, "revoked = true in spec")
}

func TestRevokedByEmergencyRevoke(t *testing.T) {
	f, _ := standardFixture(t)
	v, err := verify.New(f.pool)
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), tokWebsite)
	require.NoError(t, err)

	// What keyprov revoke acme/website --reason "leaked in build log" does.
	require.NoError(t, f.db.Update(context.Background(), func(tx *store.Tx) error {
		_, err := tx.RevokeKey(context.Background(), "acme", "website", "leaked in build log",
			store.EventMeta{RunID: "6f1c2a4e-0b7d-4c8e-9a51-3d2f7e8b9c11", Actor: "verify test"})
		return err
	}))
	for _, tok := range []string{tokWebsite, tokWebsite2} {
		_, err = v.Verify(context.Background(), tok)
		require.ErrorIs(t, err, verify.ErrRevoked)
		assert.ErrorContains(t, err, "leaked in build log")
		assertNoToken(t, err.Error())
	}
}

// The cache keeps an answer for at most its TTL, and answers from memory
// meanwhile while the store does not change.
func TestCacheTTL(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	f.apply(standardSpec(now, false))
	clk := newClock(now)
	const ttl = 10 * time.Second
	v, err := verify.New(f.pool, verify.WithCache(ttl, 100), verify.WithClock(clk.Now))
	require.NoError(t, err)
	defer v.Close(context.Background())
	ctx := context.Background()

	_, err = v.Verify(ctx, tokFrontend)
	require.NoError(t, err)
	before := f.queries.Load()
	clk.Add(ttl - time.Millisecond)
	key, err := v.Verify(ctx, tokFrontend)
	require.NoError(t, err)
	assert.Equal(t, "root/frontend", key.Address)
	assert.Equal(t, before, f.queries.Load(), "a cache hit makes no query")
	clk.Add(time.Millisecond)
	_, err = v.Verify(ctx, tokFrontend)
	require.NoError(t, err)
	assert.Equal(t, before+1, f.queries.Load(), "past the TTL, the token is looked up again")
}

// TestRevocationReachesTheCache: a key revoked in the store stops
// verifying within verify.Staleness in a Verifier that cached it for an
// hour, whatever the TTL; the revoked answer is cached in turn.
func TestRevocationReachesTheCache(t *testing.T) {
	f, _ := standardFixture(t)
	v, err := verify.New(f.pool, verify.WithCache(time.Hour, 100))
	require.NoError(t, err)
	defer v.Close(context.Background())
	ctx := context.Background()
	before := f.queries.Load()
	_, err = v.Verify(ctx, tokWebsite2)
	require.NoError(t, err)
	_, err = v.Verify(ctx, tokWebsite2)
	require.NoError(t, err)
	require.Equal(t, before+1, f.queries.Load(), "the second answer comes from the cache")

	took := revokeAndWait(t, f, v, tokWebsite2, "acme", "website")
	t.Logf("revoked answer after %s", took)
	before = f.queries.Load()
	_, err = v.Verify(ctx, tokWebsite2)
	assert.ErrorIs(t, err, verify.ErrRevoked)
	assert.Equal(t, before, f.queries.Load(), "the revoked answer is cached")
}

// revokeAndWait revokes tenant/slug as keyprov revoke does, then asks v
// about tok until it answers revoked, and returns how long that took after
// the commit. The test fails past verify.Staleness.
func revokeAndWait(t *testing.T, f *fixture, v *verify.Verifier, tok, tenant, slug string) time.Duration {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, f.db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.RevokeKey(ctx, tenant, slug, "leaked", store.EventMeta{RunID: "6f1c2a4e-0b7d-4c8e-9a51-3d2f7e8b9c12", Actor: "verify test"})
		return err
	}))
	committed := time.Now()
	for {
		_, err := v.Verify(ctx, tok)
		took := time.Since(committed)
		if errors.Is(err, verify.ErrRevoked) {
			return took
		}
		require.True(t, err == nil, "before the revocation is seen the token verifies: %v", err)
		require.LessOrEqual(t, took, verify.Staleness, "the revocation did not reach the cache in time")
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRollingRotation(t *testing.T) {
	for _, cached := range []bool{false, true} {
		t.Run(fmt.Sprintf("cache=%v", cached), func(t *testing.T) {
			f := newFixture(t)
			now := time.Now().UTC().Truncate(time.Second)
			f.apply(standardSpec(now, false))
			f.apply(standardSpec(now, true)) // website: WEBSITE2 active, WEBSITE previous until now+1h
			cutoff := now.Add(time.Hour)

			clk := newClock(now)
			opts := []verify.Option{verify.WithClock(clk.Now)}
			if cached {
				opts = append(opts, verify.WithCache(24*time.Hour, 100))
			}
			v, err := verify.New(f.pool, opts...)
			require.NoError(t, err)
			ctx := context.Background()

			for _, at := range []time.Time{now, cutoff.Add(-time.Microsecond)} {
				clk.Set(at)
				key, err := v.Verify(ctx, tokWebsite)
				require.NoError(t, err, "previous token at %s", at)
				assert.Equal(t, verify.Previous, key.Token)
				assert.True(t, key.ValidUntil.Equal(cutoff))
				key, err = v.Verify(ctx, tokWebsite2)
				require.NoError(t, err, "active token at %s", at)
				assert.Equal(t, verify.Active, key.Token)
			}

			// At the cutoff the previous token stops, cache or not: the cache
			// keeps rows, and the cutoff is checked on every call.
			clk.Set(cutoff)
			_, err = v.Verify(ctx, tokWebsite)
			require.ErrorIs(t, err, verify.ErrPreviousExpired)
			assert.ErrorContains(t, err, "acme/website")
			assertNoToken(t, err.Error())
			_, err = v.Verify(ctx, tokWebsite2)
			assert.NoError(t, err)
		})
	}
}

// standardSpecCutoff is the rotated standard spec once the previous token's
// cutoff has passed.
func standardSpecCutoff(now time.Time) string {
	return strings.Replace(standardSpec(now, true), rfc(now.Add(time.Hour)), rfc(now.Add(-time.Minute)), 1)
}

func TestPreviousRetiredByApply(t *testing.T) {
	f := newFixture(t)
	now := time.Now().UTC().Truncate(time.Second)
	f.apply(standardSpec(now, false))
	f.apply(standardSpec(now, true))
	// Time passes beyond the cutoff (moved back in the store and the spec
	// alike); the next apply retires the previous token.
	f.exec(`UPDATE keyprov.tokens SET valid_until = now() - interval '1 minute' WHERE state = 'previous'`)
	f.apply(standardSpecCutoff(now))
	var state, reason string
	require.NoError(t, f.db.Conn().QueryRow(context.Background(),
		`SELECT state, retired_reason FROM keyprov.tokens WHERE hint = $1`, token.Hint(tokWebsite, "wat_")).Scan(&state, &reason))
	require.Equal(t, "retired", state)
	require.Equal(t, "previous_until passed", reason)

	v, err := verify.New(f.pool)
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), tokWebsite)
	assert.ErrorIs(t, err, verify.ErrPreviousExpired, "retired with reason %q", reason)
	_, err = v.Verify(context.Background(), tokWebsite2)
	assert.NoError(t, err)
}

func TestPreviousDroppedIsRetired(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	f.apply(standardSpec(now, false))
	f.apply(standardSpec(now, true))
	// The spec drops previous_token before the cutoff.
	dropped := strings.Replace(standardSpec(now, true), `previous_token = env("WEBSITE")`, "", 1)
	dropped = strings.Replace(dropped, fmt.Sprintf("previous_until = %q", rfc(now.Add(time.Hour))), "", 1)
	f.apply(dropped)

	v, err := verify.New(f.pool)
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), tokWebsite)
	assert.ErrorIs(t, err, verify.ErrRetired)
	assert.ErrorContains(t, err, "previous_token removed from spec")
}

func TestExpiryUsesTheClock(t *testing.T) {
	f := newFixture(t)
	now := time.Now().UTC().Truncate(time.Second)
	f.apply(standardSpec(now, false))
	clk := newClock(now)
	v, err := verify.New(f.pool, verify.WithClock(clk.Now), verify.WithCache(time.Hour*24*365, 10))
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), tokWebsite)
	require.NoError(t, err)
	clk.Set(now.Add(30 * 24 * time.Hour))
	_, err = v.Verify(context.Background(), tokWebsite)
	assert.ErrorIs(t, err, verify.ErrExpired, "the cache does not extend an expiry")
	assert.Equal(t, verify.CodeExpired, verify.Code(err))
}

func TestUnknownIsCachedBriefly(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	f.apply(standardSpec(now, false))
	clk := newClock(now)
	v, err := verify.New(f.pool, verify.WithCache(time.Minute, 100), verify.WithClock(clk.Now))
	require.NoError(t, err)
	ctx := context.Background()

	before := f.queries.Load()
	_, err = v.Verify(ctx, tokExtra1)
	assert.ErrorIs(t, err, verify.ErrUnknown)
	_, err = v.Verify(ctx, tokExtra1)
	assert.ErrorIs(t, err, verify.ErrUnknown)
	assert.Equal(t, before+1, f.queries.Load(), "the second miss is answered from the cache")

	// The key is provisioned; after NegativeTTL the token verifies.
	f.apply(standardSpec(now, false) + "\ntenant_key \"new\" {\n  tenant = \"acme\"\n  name = \"New\"\n  token = env(\"EXTRA1\")\n}\n")
	clk.Add(verify.NegativeTTL)
	key, err := v.Verify(ctx, tokExtra1)
	require.NoError(t, err)
	assert.Equal(t, "acme/new", key.Address)
}

func TestCacheIsBounded(t *testing.T) {
	f, _ := standardFixture(t)
	clk := newClock(time.Now())
	v, err := verify.New(f.pool, verify.WithCache(time.Hour, 2), verify.WithClock(clk.Now))
	require.NoError(t, err)
	ctx := context.Background()
	verifyAll := func(toks ...string) int64 {
		before := f.queries.Load()
		for _, tok := range toks {
			_, err := v.Verify(ctx, tok)
			require.NoError(t, err)
		}
		return f.queries.Load() - before
	}
	assert.Equal(t, int64(2), verifyAll(tokFrontend, tokWebsite2))
	assert.Equal(t, int64(0), verifyAll(tokFrontend, tokWebsite2))
	// A third entry evicts the least recently used one (frontend).
	assert.Equal(t, int64(1), verifyAll(tokRotated2))
	assert.Equal(t, int64(0), verifyAll(tokWebsite2, tokRotated2))
	assert.Equal(t, int64(1), verifyAll(tokFrontend))

	// Unknown tokens live in their own table and evict no known key.
	before := f.queries.Load()
	for _, tok := range []string{tokUnknown, tokExtra1, tokExtra2} {
		_, err := v.Verify(ctx, tok)
		assert.ErrorIs(t, err, verify.ErrUnknown)
	}
	assert.Equal(t, int64(3), f.queries.Load()-before)
	assert.Equal(t, int64(0), verifyAll(tokFrontend, tokRotated2))
}

func TestAllows(t *testing.T) {
	universal := &verify.Key{Address: "root/frontend", Tenant: "root", Slug: "frontend", Universal: true}
	tenant := &verify.Key{Address: "acme/website", Tenant: "acme", Slug: "website"}
	tests := map[string]struct {
		key    *verify.Key
		tenant string
		ok     bool
	}{
		"universal key, other tenant":    {key: universal, tenant: "acme", ok: true},
		"universal key, root tenant":     {key: universal, tenant: "root", ok: true},
		"tenant key, own tenant":         {key: tenant, tenant: "acme", ok: true},
		"tenant key, other tenant":       {key: tenant, tenant: "globex", ok: false},
		"tenant key, root tenant":        {key: tenant, tenant: "root", ok: false},
		"tenant key, empty tenant":       {key: tenant, tenant: "", ok: false},
		"tenant key, tenant of a prefix": {key: tenant, tenant: "acme2", ok: false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.key.Allows(tc.tenant)
			if tc.ok {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, verify.ErrScopeDenied)
			assert.Equal(t, verify.CodeScopeDenied, verify.Code(err))
			assert.ErrorContains(t, err, "acme/website")
		})
	}
}

func TestAllowsOnVerifiedKeys(t *testing.T) {
	f, _ := standardFixture(t)
	v, err := verify.New(f.pool)
	require.NoError(t, err)
	key, err := v.Verify(context.Background(), tokFrontend)
	require.NoError(t, err)
	assert.NoError(t, key.Allows("globex"))
	key, err = v.Verify(context.Background(), tokWebsite2)
	require.NoError(t, err)
	assert.NoError(t, key.Allows("acme"))
	assert.ErrorIs(t, key.Allows("globex"), verify.ErrScopeDenied)
}

func TestCode(t *testing.T) {
	assert.Empty(t, verify.Code(nil))
	assert.Empty(t, verify.Code(errors.New("connection refused")))
	assert.Equal(t, verify.CodeRetired, verify.Code(fmt.Errorf("checking: %w", &verify.Error{Err: verify.ErrRetired})))
}
