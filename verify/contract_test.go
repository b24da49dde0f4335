package verify_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/token"
	"github.com/keyprov/keyprov/verify"
)

// contractSQL is the query the README gives applications in other
// languages. $1 is the SHA-256 digest of the token's UTF-8 bytes (bytea).
// No row means the token is unknown.
const contractSQL = `SELECT k.tenant, k.slug, k.universal, k.permissions, k.metadata, k.expires_at, t.state,
       CASE
         WHEN k.revoked_at IS NOT NULL THEN 'revoked'
         WHEN k.disabled_at IS NOT NULL THEN 'disabled'
         WHEN k.expires_at IS NOT NULL AND k.expires_at <= now() THEN 'expired'
         WHEN t.state = 'active' THEN 'valid'
         WHEN t.state = 'previous' AND t.valid_until > now() THEN 'valid'
         WHEN t.state = 'previous' OR t.retired_reason = 'previous_until passed' THEN 'previous_expired'
         WHEN t.retired_reason = 'key revoked' THEN 'revoked'
         ELSE 'retired'
       END AS status
FROM keyprov.tokens t
JOIN keyprov.keys k ON k.id = t.key_id
WHERE t.digest = $1 AND t.scheme = 'sha256'`

// TestSQLContract checks that the README's query decides as Verify does.
func TestSQLContract(t *testing.T) {
	f, now := standardFixture(t)
	// A previous token retired at its cutoff by an apply.
	f.exec(`UPDATE keyprov.tokens SET valid_until = now() - interval '1 minute' WHERE state = 'previous'`)
	f.apply(standardSpecCutoff(now))
	// A disabled key (issue 18): its token is kept, and answers disabled.
	f.exec(`UPDATE keyprov.keys SET disabled_at = now(), disabled_spec = true WHERE slug = 'frontend'`)
	v, err := verify.New(f.pool)
	require.NoError(t, err)

	toks := map[string]string{ // token → the status the README documents
		tokFrontend: "disabled", tokWebsite2: "valid", tokRotated2: "valid",
		tokWebsite: "previous_expired", tokExpired: "expired", tokRevoked: "revoked",
		tokRotated1: "retired", tokUnknown: "unknown",
	}
	for tok, want := range toks {
		t.Run(want+" "+token.Hint(tok, "wat_"), func(t *testing.T) {
			d := token.DigestOf(tok)
			var (
				tenant, slug, state, status string
				universal                   bool
				perms, meta                 []byte
				expires                     any
			)
			err := f.db.Conn().QueryRow(context.Background(), contractSQL, d[:]).
				Scan(&tenant, &slug, &universal, &perms, &meta, &expires, &state, &status)
			if errors.Is(err, pgx.ErrNoRows) {
				status = "unknown"
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, want, status)

			key, err := v.Verify(context.Background(), tok)
			code := verify.Code(err)
			if code == "" {
				require.NoError(t, err)
				code = "valid"
				assert.Equal(t, key.Tenant+"/"+key.Slug, tenant+"/"+slug)
			}
			assert.Equal(t, status, code, "the SQL contract and Verify agree")
		})
	}
}
