package faults

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/verify"
)

// TestRevocationReachesCaches: an application's Verifier with an
// hour-long cache has just verified a key; `keyprov revoke` revokes it,
// and the Verifier answers revoked within verify.Staleness (1 s) of the
// revocation's commit, connected directly and through PgBouncer in
// transaction pooling mode (where LISTEN would lose notifications: the
// Verifier polls keyprov's change counter). Other keys keep verifying from
// the cache meanwhile.
func TestRevocationReachesCaches(t *testing.T) {
	t.Parallel()
	for _, via := range []string{"direct", "pgbouncer"} {
		t.Run(via, func(t *testing.T) {
			t.Parallel()
			u := pgtest.NewDatabase(t)
			g := writeSpec(t, specOpts{Keys: 20})
			env := baseEnv(u)
			mustRun(t, 0, g.dir, env, "apply")

			appURL := u
			if via == "pgbouncer" {
				appURL = startPgBouncer(t, u)
			}
			cfg, err := pgxpool.ParseConfig(appURL)
			require.NoError(t, err)
			// What the README asks of a pool behind PgBouncer.
			cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
			cfg.MaxConns = 2
			ctx := context.Background()
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			require.NoError(t, err)
			defer pool.Close()
			v, err := verify.New(pool, verify.WithCache(time.Hour, 1000))
			require.NoError(t, err)
			defer v.Close(ctx)

			for _, i := range []int{3, 4, 3, 4} {
				key, err := v.Verify(ctx, g.token(i))
				require.NoError(t, err)
				require.Equal(t, g.address(i), key.Address)
			}

			mustRun(t, 0, g.dir, env, "revoke", g.address(3), "--reason", "leaked in a build log")
			// The revoke has committed before its process exits.
			committed := time.Now()
			var took time.Duration
			for {
				_, err := v.Verify(ctx, g.token(3))
				took = time.Since(committed)
				if errors.Is(err, verify.ErrRevoked) {
					break
				}
				require.NoError(t, err, "until the revocation is seen, the cached answer stands")
				require.LessOrEqual(t, took, verify.Staleness, "the revocation did not reach the cache within %s", verify.Staleness)
				time.Sleep(5 * time.Millisecond)
			}
			_, err = v.Verify(ctx, g.token(3))
			assert.ErrorContains(t, err, "leaked in a build log")
			assert.False(t, strings.Contains(err.Error(), g.token(3)), "the token in an error")
			_, err = v.Verify(ctx, g.token(4))
			assert.NoError(t, err, "another key still verifies")
			figure(fmt.Sprintf("9 revocation %s", via), "revocation reached an hour-long cache %s after keyprov revoke (%s; the bound is %s)",
				took.Round(time.Millisecond), via, verify.Staleness)
		})
	}
}
