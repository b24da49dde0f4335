package verify_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/token"
	"github.com/keyprov/keyprov/verify"
)

// Tokens with a keyprov checksum (keyprov token new).
const (
	tokSum1  = "wat_ehbnzpbMmHzuoodjgANAmzh6KM8o5On43Io9Ia"
	tokSum2  = "wat_G5mB0TIblwxqVgPdrsYlaCKUYiWTID8G0w2k7g"
	tokSum3  = "wat_OSulBjCE3gRzArDg9TSo0RdEHkdEvmUK26E1Ie" // never provisioned
	tokSumSK = "sk_8xXleR0zpCTZ9INsALGdcGjDkkzzxeLw0AFCcd"
	// tokSKPlain has the prefix sk_ and no checksum.
	tokSKPlain = "sk_Hc6Tn2Wq9Lb4Vx8Rm1Kz5Pd3Yf7Gs0Ja"
)

func init() {
	for name, tok := range map[string]string{"SUM1": tokSum1, "SUM2": tokSum2, "SUMSK": tokSumSK, "SKPLAIN": tokSKPlain} {
		env[name] = tok
		allTokens = append(allTokens, tok)
	}
	allTokens = append(allTokens, tokSum3)
}

// A Verifier takes the token prefixes from the store, where each apply
// records its spec's settings.token_prefix: no WithPrefix is needed, and a
// token with none of them is malformed, without a query.
func TestPrefixesFromTheStore(t *testing.T) {
	f := newFixture(t)
	f.apply(`settings {
  owner        = "search"
  token_prefix = "sk_"
}
tenant_key "index" {
  tenant = "acme"
  name   = "Index"
  token  = env("SKPLAIN")
}
`)
	v, err := verify.New(f.pool)
	require.NoError(t, err)
	defer v.Close(context.Background())
	ctx := context.Background()
	key, err := v.Verify(ctx, tokSKPlain)
	require.NoError(t, err)
	assert.Equal(t, "acme/index", key.Address)
	before := f.queries.Load()
	_, err = v.Verify(ctx, tokFrontend)
	assert.ErrorIs(t, err, verify.ErrMalformed)
	assert.ErrorIs(t, err, token.ErrPrefix)
	assert.ErrorContains(t, err, `"sk_"`)
	assert.Equal(t, before, f.queries.Load(), "no lookup")

	// A second owner with the default prefix, in the same store: both
	// prefixes verify, and the error names both.
	f.apply(`settings {
  owner = "platform"
}
universal_key "frontend" {
  name  = "Front end"
  token = env("FRONTEND")
}
`)
	require.Eventually(t, func() bool {
		key, err := v.Verify(ctx, tokFrontend)
		return err == nil && key.Address == "root/frontend"
	}, 2*verify.Staleness, 10*time.Millisecond, "the new prefix is learnt within a second")
	_, err = v.Verify(ctx, tokSKPlain)
	require.NoError(t, err)
	_, err = v.Verify(ctx, "pk_"+tokFrontend[4:])
	assert.ErrorIs(t, err, verify.ErrMalformed)
	assert.ErrorContains(t, err, `tokens must start with "sk_" or "wat_"`)

	// WithPrefix still overrides the store.
	only, err := verify.New(f.pool, verify.WithPrefix("sk_"))
	require.NoError(t, err)
	_, err = only.Verify(ctx, tokFrontend)
	assert.ErrorIs(t, err, verify.ErrMalformed)
}

// A store where no keyprov recorded an owner (keys made by hand, or by a
// keyprov that did not record them): the default prefix.
func TestPrefixDefaultsWithoutOwners(t *testing.T) {
	f, _ := standardFixture(t)
	f.exec("DELETE FROM keyprov.owners")
	v, err := verify.New(f.pool)
	require.NoError(t, err)
	defer v.Close(context.Background())
	_, err = v.Verify(context.Background(), tokFrontend)
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), "sk_"+tokFrontend[4:])
	assert.ErrorIs(t, err, token.ErrPrefix)
}

// When every live token of a prefix carries a checksum, which the store
// knows, a token of that prefix with a wrong one is rejected without a
// query; while one live token may have none (a previous_token kept through
// a rotation towards checksums, a token written by hand), it is looked up.
func TestBadChecksumWithoutAQuery(t *testing.T) {
	f := newFixture(t)
	apply := func(previous bool) {
		t.Helper()
		prev := ""
		if previous {
			prev = "  previous_token = env(\"FRONTEND\")\n  previous_until = \"2099-01-01T00:00:00Z\"\n"
		}
		f.apply("settings {\n  owner          = \"platform\"\n  token_checksum = true\n}\n" +
			"universal_key \"frontend\" {\n  name  = \"Front end\"\n  token = env(\"SUM1\")\n" + prev + "}\n" +
			"tenant_key \"website\" {\n  tenant = \"acme\"\n  name   = \"Website\"\n  token  = env(\"SUM2\")\n}\n")
	}
	ctx := context.Background()
	// keyprov apply first: the frontend rotates from a token without a
	// checksum (FRONTEND) to one with (SUM1), keeping the old one.
	f.apply("settings {\n  owner = \"platform\"\n}\nuniversal_key \"frontend\" {\n  name  = \"Front end\"\n  token = env(\"FRONTEND\")\n}\n")
	apply(true)
	v, err := verify.New(f.pool)
	require.NoError(t, err)
	defer v.Close(context.Background())

	bad := tokSum3[:len(tokSum3)-1] + "x" // well-formed, wrong checksum
	require.False(t, token.HasChecksum(bad, "wat_"))
	lookups := func(tok string) (int64, error) {
		before := f.queries.Load()
		_, err := v.Verify(ctx, tok)
		return f.queries.Load() - before, err
	}
	n, err := lookups(bad)
	assert.ErrorIs(t, err, verify.ErrUnknown, "a live previous token has no checksum: looked up")
	assert.Equal(t, int64(1), n)
	_, err = v.Verify(ctx, tokFrontend)
	require.NoError(t, err, "the previous token without a checksum verifies")

	// The previous token is dropped: every live token carries a checksum.
	apply(false)
	require.Eventually(t, func() bool {
		n, err := lookups(bad)
		return n == 0 && verify.Code(err) == verify.CodeMalformed
	}, 2*verify.Staleness, 10*time.Millisecond, "a bad checksum is rejected without a lookup")
	_, err = v.Verify(ctx, bad)
	assert.ErrorContains(t, err, `no valid checksum, which every live token of prefix "wat_" carries`)
	assertNoToken(t, err.Error())
	n, err = lookups(tokSum3)
	assert.ErrorIs(t, err, verify.ErrUnknown, "a good checksum is looked up")
	assert.Equal(t, int64(1), n)
	for _, tok := range []string{tokSum1, tokSum2} {
		_, err := v.Verify(ctx, tok)
		require.NoError(t, err)
	}

	// A token written by hand, checksum unknown: looked up again.
	f.exec(`INSERT INTO keyprov.tokens (digest, key_id, hint, state, valid_until)
SELECT sha256('wat_handmade'), id, 'wat_…made', 'previous', now() + interval '1 day' FROM keyprov.keys WHERE slug = 'website'`)
	require.Eventually(t, func() bool {
		n, err := lookups(bad)
		return n == 1 && verify.Code(err) == verify.CodeUnknown
	}, 2*verify.Staleness, 10*time.Millisecond, "looked up once a live token may lack a checksum")
}
