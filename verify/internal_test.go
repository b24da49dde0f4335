package verify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/token"
)

// The retired_reason values Verify tells apart are the ones keyprov writes.
func TestReasonsMatchReconcile(t *testing.T) {
	assert.Equal(t, reconcile.ReasonCutoff, reasonCutoff)
	assert.Equal(t, reconcile.ReasonRevoked, reasonRevoked)
	assert.Equal(t, store.RetiredRevoked, reasonRevoked)
}

// TestLookupUsesIndexes checks that the lookup is an index probe of the
// digest joined by primary key, whatever the size of the tables: with
// sequential scans disabled the plan must name both indexes.
func TestLookupUsesIndexes(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{URL: pgtest.NewDatabase(t), Wait: 10 * time.Second})
	require.NoError(t, err)
	defer db.Close(ctx)
	_, err = db.Migrate(ctx)
	require.NoError(t, err)

	d := token.DigestOf("wat_hxv3CP6YzO9wEqO4nv6tQOW9smVeqHZS")
	var plan []string
	err = pgx.BeginFunc(ctx, db.Conn(), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "EXPLAIN "+lookupSQL("keyprov"), d[:])
		if err != nil {
			return err
		}
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	require.NoError(t, err)
	text := strings.Join(plan, "\n")
	assert.Contains(t, text, "tokens_digest", text)
	assert.Contains(t, text, "keys_pkey", text)
	assert.NotContains(t, text, "Seq Scan", text)
}
