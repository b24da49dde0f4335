package verify

import (
	"context"
	"os"
	"path/filepath"
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

// The retired_reason values keyprov.verify_token tells apart are the ones
// keyprov writes.
func TestReasonsMatchReconcile(t *testing.T) {
	sql := migrationText(t)
	for _, reason := range []string{reconcile.ReasonCutoff, reconcile.ReasonRevoked, store.RetiredRevoked} {
		assert.Contains(t, sql, "'"+reason+"'")
	}
}

// migrationText returns the text of the migration that creates
// keyprov.verify_token.
func migrationText(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob("../store/migrations/*_verify_functions.sql")
	require.NoError(t, err)
	require.Len(t, files, 1)
	b, err := os.ReadFile(files[0])
	require.NoError(t, err)
	return string(b)
}

// TestLookupUsesIndexes checks that keyprov.verify_token finds a token by
// an index probe of its digest joined to its key by primary key, whatever
// the size of the tables: with sequential scans disabled, the function
// (a SQL function, planned at each call) scans both indexes and no table.
func TestLookupUsesIndexes(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{URL: pgtest.NewDatabase(t), Wait: 10 * time.Second})
	require.NoError(t, err)
	defer db.Close(ctx)
	_, err = db.Migrate(ctx)
	require.NoError(t, err)
	conn := db.Conn()
	_, err = conn.Exec(ctx, `INSERT INTO keyprov.keys (id, tenant, slug, name, owner) VALUES (7, 'acme', 'site', 'Site', 'o');
INSERT INTO keyprov.tokens (digest, key_id, hint, state) VALUES (sha256('wat_hxv3CP6YzO9wEqO4nv6tQOW9smVeqHZS'), 7, 'wat_…qHZS', 'active')`)
	require.NoError(t, err)

	d := token.DigestOf("wat_hxv3CP6YzO9wEqO4nv6tQOW9smVeqHZS")
	var status string
	before, after := map[string]int64{}, map[string]int64{}
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
			return err
		}
		if err := scans(ctx, tx, before); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, lookupSQL("keyprov"), d[:], nil).Scan(&status, new(any), new(any), new(any), new(any),
			new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any), new(any)); err != nil {
			return err
		}
		return scans(ctx, tx, after)
	})
	require.NoError(t, err)
	assert.Equal(t, "valid", status)
	for rel := range after {
		after[rel] -= before[rel]
	}
	assert.Equal(t, map[string]int64{"tokens_digest": 1, "keys_pkey": 1, "tokens": 0, "keys": 0}, after,
		"scans of each relation: indexes count index scans, tables sequential scans")
}

// scans reads the scans this session counted on keyprov's tables and their
// primary indexes and has not yet reported (pg_stat_get_xact_numscans).
func scans(ctx context.Context, tx pgx.Tx, into map[string]int64) error {
	rows, err := tx.Query(ctx, `SELECT relname::text, pg_stat_get_xact_numscans(oid) FROM pg_class
WHERE relnamespace = 'keyprov'::regnamespace AND relname IN ('keys', 'tokens', 'keys_pkey', 'tokens_digest')`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var (
			name string
			n    int64
		)
		if err := rows.Scan(&name, &n); err != nil {
			return err
		}
		into[name] = n
	}
	return rows.Err()
}
