package store_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/store"
)

// The change counter moves with every write to keys or tokens that
// changes a row, whoever makes it, and with nothing else: not with a
// verifier's last_used_at, not with a statement that changes no row, and a
// statement moves it once, not once per row.
func TestChangeCounter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	db := openMigrated(t, u)
	conn := pgtest.Connect(t, u)

	counter := func() int64 {
		t.Helper()
		var n int64
		require.NoError(t, db.View(ctx, func(tx *store.Tx) error {
			var err error
			n, err = tx.ChangeCounter(ctx)
			return err
		}))
		return n
	}
	exec := func(sql string) {
		t.Helper()
		_, err := conn.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}
	steps := []struct {
		name  string
		sql   string
		moves bool
	}{
		{"insert two keys in one statement", `INSERT INTO keyprov.keys (tenant, slug, name, owner) VALUES ('acme', 'a', 'A', 'o'), ('acme', 'b', 'B', 'o')`, true},
		{"insert a token", `INSERT INTO keyprov.tokens (digest, key_id, hint, state) SELECT '\x01', id, 'wat_…0001', 'active' FROM keyprov.keys WHERE slug = 'a'`, true},
		{"a verifier's last_used_at", `UPDATE keyprov.keys SET last_used_at = now()`, false},
		{"an update of no row", `UPDATE keyprov.keys SET name = 'x' WHERE false`, false},
		{"an update to the same values", `UPDATE keyprov.keys SET name = name, description = description`, false},
		{"a delete of no row", `DELETE FROM keyprov.tokens WHERE false`, false},
		{"a name changed by hand", `UPDATE keyprov.keys SET name = 'A2' WHERE slug = 'a'`, true},
		{"last_used_at with a change", `UPDATE keyprov.keys SET last_used_at = now(), revoked_at = now(), revoked_reason = 'r' WHERE slug = 'b'`, true},
		{"a token's state", `UPDATE keyprov.tokens SET state = 'retired', retired_at = now()`, true},
		{"a token deleted", `DELETE FROM keyprov.tokens`, true},
		{"a key's id", `UPDATE keyprov.keys SET id = id + 1000 WHERE slug = 'b'`, true},
		{"truncate", `TRUNCATE keyprov.tokens`, true},
		{"a key deleted", `DELETE FROM keyprov.keys WHERE slug = 'b'`, true},
	}
	for _, s := range steps {
		before := counter()
		exec(s.sql)
		after := counter()
		if s.moves {
			assert.Equal(t, before+1, after, "%s: the counter moves once", s.name)
		} else {
			assert.Equal(t, before, after, "%s: the counter stays", s.name)
		}
	}

	// A change is seen with the counter that counts it, not before: a
	// reader that sees the old counter sees the old row.
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE keyprov.keys SET name = 'A3' WHERE slug = 'a'`)
	require.NoError(t, err)
	before := counter()
	require.NoError(t, tx.Commit(ctx))
	assert.Equal(t, before+1, counter())
}

// A role that may write keys' last_used_at and nothing else (a verifier)
// writes it without any privilege on the counter, and a role that may
// update keys moves the counter through keyprov's own functions.
func TestChangeCounterPrivileges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	openMigrated(t, u)
	conn := pgtest.Connect(t, u)
	var dbname string
	require.NoError(t, conn.QueryRow(ctx, "SELECT current_database()").Scan(&dbname))
	role := "counter_writer_" + dbname
	for _, sql := range []string{
		"CREATE ROLE " + pgx.Identifier{role}.Sanitize(),
		"GRANT USAGE ON SCHEMA keyprov TO " + pgx.Identifier{role}.Sanitize(),
		"GRANT SELECT, UPDATE ON keyprov.keys TO " + pgx.Identifier{role}.Sanitize(),
		`INSERT INTO keyprov.keys (tenant, slug, name, owner) VALUES ('acme', 'a', 'A', 'o')`,
	} {
		_, err := conn.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}
	t.Cleanup(func() {
		c := pgtest.Connect(t, u)
		_, _ = c.Exec(context.Background(), "DROP OWNED BY "+pgx.Identifier{role}.Sanitize())
		_, _ = c.Exec(context.Background(), "DROP ROLE "+pgx.Identifier{role}.Sanitize())
	})
	read := func() (n int64) {
		require.NoError(t, conn.QueryRow(ctx, "SELECT counter FROM keyprov.changes").Scan(&n))
		return n
	}
	as := func(sql string) {
		t.Helper()
		tx, err := conn.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, "SET LOCAL ROLE "+pgx.Identifier{role}.Sanitize())
		require.NoError(t, err)
		_, err = tx.Exec(ctx, sql)
		require.NoError(t, err, sql)
		require.NoError(t, tx.Commit(ctx))
	}
	n := read()
	as(`UPDATE keyprov.keys SET last_used_at = now()`)
	assert.Equal(t, n, read())
	as(`UPDATE keyprov.keys SET name = 'B'`)
	assert.Equal(t, n+1, read())
}
