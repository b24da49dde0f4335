package verify_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/token"
	"github.com/keyprov/keyprov/verify"
)

// contractSQL is what the README gives applications in other languages:
// keyprov.verify_token, with $1 the SHA-256 digest of the token's UTF-8
// bytes (bytea) and $2 the tenant, or NULL. It returns exactly one row.
const contractSQL = `SELECT status, tenant, slug, universal, permissions, metadata, expires_at, key_id, token_state, valid_until
FROM keyprov.verify_token($1, $2)`

// TestSQLContract checks that keyprov.verify_token decides as Verify (and
// Key.Allows) do on the standard fixture; cmd/keyprov's
// TestVerifyTokenDecidesForAll does the same for every state, scope case
// and client.
func TestSQLContract(t *testing.T) {
	f, now := standardFixture(t)
	// A previous token retired at its cutoff by an apply.
	f.exec(`UPDATE keyprov.tokens SET valid_until = now() - interval '1 minute' WHERE state = 'previous'`)
	f.apply(standardSpecCutoff(now))
	// A disabled key (issue 18): its token is kept, and answers disabled.
	f.exec(`UPDATE keyprov.keys SET disabled_at = now(), disabled_spec = true WHERE slug = 'frontend'`)
	v, err := verify.New(f.pool)
	require.NoError(t, err)
	defer v.Close(context.Background())

	toks := map[string]string{ // token → the status the README documents
		tokFrontend: "disabled", tokWebsite2: "valid", tokRotated2: "valid",
		tokWebsite: "previous_expired", tokExpired: "expired", tokRevoked: "revoked",
		tokRotated1: "retired", tokUnknown: "unknown",
	}
	for tok, want := range toks {
		for _, tenant := range []*string{nil, ptr("acme"), ptr("globex")} {
			name := want + " " + token.Hint(tok, "wat_")
			if tenant != nil {
				name += " in " + *tenant
			}
			t.Run(name, func(t *testing.T) {
				d := token.DigestOf(tok)
				var (
					status, state           *string
					tenantCol, slug         *string
					universal               *bool
					perms, meta, exp, until any
					id                      *int64
				)
				require.NoError(t, f.db.Conn().QueryRow(context.Background(), contractSQL, d[:], tenant).
					Scan(&status, &tenantCol, &slug, &universal, &perms, &meta, &exp, &id, &state, &until))
				require.NotNil(t, status)
				if want == "unknown" {
					assert.Nil(t, slug, "nothing about an unknown token")
				}

				key, err := v.Verify(context.Background(), tok)
				if err == nil && tenant != nil {
					err = key.Allows(*tenant)
				}
				code := verify.Code(err)
				if code == "" {
					require.NoError(t, err)
					code = "valid"
					assert.Equal(t, key.Tenant+"/"+key.Slug, *tenantCol+"/"+*slug)
					assert.Equal(t, key.ID, *id)
				}
				assert.Equal(t, *status, code, "the SQL contract and Verify agree")
				if tenant == nil {
					assert.Equal(t, want, *status)
				}
			})
		}
	}
}

func ptr(s string) *string { return &s }
