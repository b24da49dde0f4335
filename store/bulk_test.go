package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/store"
)

// indexCatalog describes everything about the indexes of keyprov's tables
// that a rebuild could lose: definitions, names, constraints (with their
// deferrability), validity, CLUSTER and replica identity marks, comments,
// and the foreign keys that use them.
func indexCatalog(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	return queryStrings(t, conn, `
SELECT concat_ws(' | ', c.relname, ic.relname, pg_get_indexdef(i.indexrelid),
       'constraint: ' || con.conname || ' ' || pg_get_constraintdef(con.oid) || ' deferrable=' || con.condeferrable || ' deferred=' || con.condeferred,
       'valid=' || i.indisvalid, 'clustered=' || i.indisclustered, 'replident=' || i.indisreplident,
       'comment: ' || obj_description(i.indexrelid, 'pg_class'),
       'constraint comment: ' || obj_description(con.oid, 'pg_constraint'),
       'options: ' || array_to_string(ic.reloptions, ','))
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
WHERE c.relnamespace = 'keyprov'::regnamespace AND c.relname NOT IN ('changes', 'inputs', 'owners') -- the counter's one row, the input records, the owners' settings: never bulk-loaded
UNION ALL
SELECT concat_ws(' | ', conrelid::regclass::text, conname, pg_get_constraintdef(oid), conindid::regclass::text)
FROM pg_constraint WHERE contype = 'f'
ORDER BY 1`)
}

// openBulk opens a migrated store in a database of its own that bulk-loads
// batches of more than above rows.
func openBulk(t *testing.T, above int) (*store.DB, *pgx.Conn) {
	t.Helper()
	return openBulkMode(t, above, "")
}

// openBulkMode is openBulk with a query mode (a key of store.QueryModes).
func openBulkMode(t *testing.T, above int, mode string) (*store.DB, *pgx.Conn) {
	t.Helper()
	u := pgtest.NewDatabase(t)
	db := open(t, store.Config{URL: u, BulkLoadAbove: above, LockTimeout: time.Minute, QueryMode: mode})
	_, err := db.Migrate(context.Background())
	require.NoError(t, err)
	return db, pgtest.Connect(t, u)
}

// execAll runs each statement on conn, failing the test on the first error.
func execAll(t *testing.T, conn *pgx.Conn, statements ...string) {
	t.Helper()
	for _, q := range statements {
		_, err := conn.Exec(context.Background(), q)
		require.NoError(t, err, q)
	}
}

func write(t *testing.T, db *store.DB, b *store.Batch) (store.WriteStats, error) {
	t.Helper()
	var st store.WriteStats
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		res, err := tx.Write(context.Background(), b)
		st = res.WriteStats
		return err
	})
	return st, err
}

func rowCounts(t *testing.T, conn *pgx.Conn) string {
	t.Helper()
	return queryStrings(t, conn, `SELECT concat_ws(' ', (SELECT count(*) FROM keyprov.keys),
		(SELECT count(*) FROM keyprov.tokens), (SELECT count(*) FROM keyprov.events))`)[0]
}

func requireUniqueViolation(t *testing.T, err error, constraint string) {
	t.Helper()
	var pe *pgconn.PgError
	require.True(t, errors.As(err, &pe), "want a unique violation of %s, got %v", constraint, err)
	assert.Equal(t, "23505", pe.Code, "%v", err)
	assert.Equal(t, constraint, pe.ConstraintName, "%v", err)
}

// TestBulkLoad covers writing many rows into empty tables, where the
// tables' indexes are built after the rows: every index comes back exactly
// as it was and enforces what it did, and the ordinary way is kept whenever
// the bulk load could lose something or make anyone wait.
func TestBulkLoad(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// In every query mode: the simple protocol (and PgBouncer) too.
	for _, mode := range []string{"exec", "simple", "cache"} {
		t.Run("rebuilds every index of the empty tables/"+mode, func(t *testing.T) {
			t.Parallel()
			db, conn := openBulkMode(t, 10, mode)
			before := indexCatalog(t, conn)
			require.Len(t, before, 6)
			st, err := write(t, db, createBatch(25, 0))
			require.NoError(t, err)
			assert.Equal(t, store.WriteStats{KeysInserted: 25, TokensInserted: 25, Events: 25, IndexesRebuilt: 6}, st)
			assert.Equal(t, int64(75), st.Rows(), "rebuilt indexes are not rows")
			assert.Equal(t, before, indexCatalog(t, conn))
			assert.Equal(t, "25 25 25", rowCounts(t, conn))

			// The rebuilt indexes enforce what they did.
			_, err = conn.Exec(ctx, "INSERT INTO keyprov.keys (tenant, slug, name, owner) VALUES ('acme', 'k0003', 'x', 'o')")
			requireUniqueViolation(t, err, "keys_identity")
			_, err = conn.Exec(ctx, "INSERT INTO keyprov.keys (id, tenant, slug, name, owner) SELECT min(id), 'acme', 'new', 'x', 'o' FROM keyprov.keys")
			requireUniqueViolation(t, err, "keys_pkey")
			_, err = conn.Exec(ctx, "INSERT INTO keyprov.tokens (digest, key_id, hint, state, valid_until) SELECT digest, key_id + 1000, 'h', 'previous', now() FROM keyprov.tokens LIMIT 1")
			requireUniqueViolation(t, err, "tokens_digest")
			_, err = conn.Exec(ctx, "INSERT INTO keyprov.tokens (digest, key_id, hint, state) SELECT '\\x00', key_id, 'h', 'active' FROM keyprov.tokens LIMIT 1")
			requireUniqueViolation(t, err, "tokens_one_active")
			_, err = conn.Exec(ctx, "INSERT INTO keyprov.events (id, run_id, tenant, slug, action, owner) OVERRIDING SYSTEM VALUE SELECT min(id), gen_random_uuid(), 'a', 'b', 'c', 'd' FROM keyprov.events")
			requireUniqueViolation(t, err, "events_pkey")

			// And the store reads back as written.
			var keys int
			require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
				s, err := tx.Load(ctx)
				if err != nil {
					return err
				}
				keys = len(s.Keys)
				for _, k := range s.Keys {
					assert.Len(t, k.Tokens, 1, k.Slug)
				}
				return nil
			}))
			assert.Equal(t, 25, keys)

			// The tables are no longer empty: the next batch is written the ordinary way.
			st, err = write(t, db, createBatch(25, 100))
			require.NoError(t, err)
			assert.Zero(t, st.IndexesRebuilt)
			assert.Equal(t, before, indexCatalog(t, conn))
		})
	}

	t.Run("ids are drawn in one step, and the sequences go on after them", func(t *testing.T) {
		t.Parallel()
		db, conn := openBulk(t, 10)
		// Ids drawn before (by work that rolled back, say) stay unused.
		execAll(t, conn,
			"SELECT nextval('keyprov.keys_id_seq') FROM generate_series(1, 7)",
			"SELECT nextval('keyprov.events_id_seq') FROM generate_series(1, 3)",
		)
		st, err := write(t, db, createBatch(25, 0))
		require.NoError(t, err)
		assert.EqualValues(t, 6, st.IndexesRebuilt)
		assert.Equal(t, []string{"8 32 25"}, queryStrings(t, conn, "SELECT concat_ws(' ', min(id), max(id), count(DISTINCT id)) FROM keyprov.keys"))
		assert.Equal(t, []string{"4 28 25"}, queryStrings(t, conn, "SELECT concat_ws(' ', min(id), max(id), count(DISTINCT id)) FROM keyprov.events"))
		// Each token and event names the key it was written for.
		assert.Equal(t, []string{"25 25"}, queryStrings(t, conn, `SELECT concat_ws(' ',
			(SELECT count(*) FROM keyprov.tokens t JOIN keyprov.keys k ON k.id = t.key_id AND t.hint = 'wat_…' || k.slug),
			(SELECT count(*) FROM keyprov.events e JOIN keyprov.keys k ON k.id = e.key_id AND (e.tenant, e.slug) = (k.tenant, k.slug)))`))
		// The next rows, written by anyone, draw ids after the reserved ones.
		execAll(t, conn,
			"INSERT INTO keyprov.keys (tenant, slug, name, owner) VALUES ('other', 'k', 'x', 'o')",
			"INSERT INTO keyprov.events (run_id, tenant, slug, action, owner) VALUES (gen_random_uuid(), 'other', 'k', 'created', 'o')",
		)
		assert.Equal(t, []string{"33 29"}, queryStrings(t, conn, `SELECT concat_ws(' ',
			(SELECT id FROM keyprov.keys WHERE tenant = 'other'), (SELECT id FROM keyprov.events WHERE tenant = 'other'))`))
		st, err = write(t, db, createBatch(25, 100))
		require.NoError(t, err)
		assert.Zero(t, st.IndexesRebuilt)
		assert.Equal(t, []string{"51 51"}, queryStrings(t, conn, "SELECT concat_ws(' ', count(DISTINCT id), count(*)) FROM keyprov.keys"))
	})

	t.Run("a sequence that does not count by one, the ordinary ids", func(t *testing.T) {
		t.Parallel()
		db, conn := openBulk(t, 10)
		execAll(t, conn,
			"ALTER TABLE keyprov.keys ALTER COLUMN id SET INCREMENT BY 5",
			"ALTER TABLE keyprov.events ALTER COLUMN id SET INCREMENT BY 5",
		)
		st, err := write(t, db, createBatch(25, 0))
		require.NoError(t, err)
		assert.EqualValues(t, 6, st.IndexesRebuilt, "still loaded in bulk")
		// Every id is one the sequence handed out.
		for _, table := range []string{"keys", "events"} {
			assert.Equal(t, []string{"25 25"}, queryStrings(t, conn,
				"SELECT concat_ws(' ', count(DISTINCT id), count(*) FILTER (WHERE id % 5 = 1)) FROM keyprov."+table), table)
		}
		_, err = conn.Exec(ctx, "INSERT INTO keyprov.keys (tenant, slug, name, owner) VALUES ('other', 'k', 'x', 'o')")
		require.NoError(t, err)
	})

	t.Run("a sequence without room for the ids fails and writes nothing", func(t *testing.T) {
		t.Parallel()
		db, conn := openBulk(t, 10)
		_, err := conn.Exec(ctx, "ALTER TABLE keyprov.keys ALTER COLUMN id SET MAXVALUE 24")
		require.NoError(t, err)
		before := indexCatalog(t, conn)
		_, err = write(t, db, createBatch(25, 0))
		var pe *pgconn.PgError
		require.True(t, errors.As(err, &pe), "%v", err)
		assert.Equal(t, "2200H", pe.Code, "sequence_generator_limit_exceeded: %v", err)
		assert.Equal(t, "0 0 0", rowCounts(t, conn))
		assert.Equal(t, before, indexCatalog(t, conn))
	})

	t.Run("up to the threshold, the ordinary way", func(t *testing.T) {
		t.Parallel()
		db, conn := openBulk(t, 25)
		st, err := write(t, db, createBatch(25, 0))
		require.NoError(t, err)
		assert.Zero(t, st.IndexesRebuilt)
		assert.Equal(t, "25 25 25", rowCounts(t, conn))
	})

	t.Run("never when disabled", func(t *testing.T) {
		t.Parallel()
		db, _ := openBulk(t, -1)
		st, err := write(t, db, createBatch(25, 0))
		require.NoError(t, err)
		assert.Zero(t, st.IndexesRebuilt)
	})

	t.Run("a table in use is not waited for", func(t *testing.T) {
		t.Parallel()
		db, conn := openBulk(t, 10)
		before := indexCatalog(t, conn)
		// A reader in the middle of a transaction holds a lock on keys,
		// and keeps it until the write is done. Waiting for it would time
		// out after a minute (the store's lock_timeout) and fail the write.
		reader, err := conn.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = reader.Rollback(ctx) }()
		var n int
		require.NoError(t, reader.QueryRow(ctx, "SELECT count(*) FROM keyprov.keys").Scan(&n))
		done := make(chan error, 1)
		go func() {
			st, err := write(t, db, createBatch(25, 0))
			if err == nil && st.IndexesRebuilt != 4 {
				err = errors.New("want the indexes of tokens and events rebuilt, not those of keys")
			}
			done <- err
		}()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("the write waited for the reader's lock")
		}
		require.NoError(t, reader.Commit(ctx))
		assert.Equal(t, before, indexCatalog(t, conn))
		assert.Equal(t, "25 25 25", rowCounts(t, conn))
	})

	t.Run("indexes a rebuild would change are kept", func(t *testing.T) {
		t.Parallel()
		db, conn := openBulk(t, 10)
		execAll(t, conn,
			// A comment on an index of someone else's.
			"CREATE INDEX keys_by_name ON keyprov.keys (name) WITH (fillfactor = 70)",
			"COMMENT ON INDEX keyprov.keys_by_name IS 'for the admin UI'",
			// A foreign key that uses keys' primary key.
			"CREATE TABLE public.app_keys (key_id bigint REFERENCES keyprov.keys (id))",
			// A CLUSTER mark.
			"ALTER TABLE keyprov.events CLUSTER ON events_key",
			// An index keyprov does not know, deferrable.
			"ALTER TABLE keyprov.tokens ADD CONSTRAINT tokens_hint UNIQUE (hint) DEFERRABLE INITIALLY DEFERRED",
		)
		before := indexCatalog(t, conn)
		require.Len(t, before, 9)
		st, err := write(t, db, createBatch(25, 0))
		require.NoError(t, err)
		// keys_identity, tokens_digest, tokens_one_active, tokens_hint and
		// events_pkey; not keys_pkey, keys_by_name nor events_key.
		assert.EqualValues(t, 5, st.IndexesRebuilt)
		assert.Equal(t, before, indexCatalog(t, conn))
		_, err = conn.Exec(ctx, "INSERT INTO public.app_keys SELECT min(id) FROM keyprov.keys")
		require.NoError(t, err)
		_, err = conn.Exec(ctx, "INSERT INTO public.app_keys VALUES (-1)")
		require.Error(t, err, "the foreign key still holds")
	})

	t.Run("a failed load changes nothing", func(t *testing.T) {
		t.Parallel()
		db, conn := openBulk(t, 10)
		before := indexCatalog(t, conn)
		b := createBatch(25, 0)
		// Two keys with one token: the tokens' primary key refuses it when
		// it is built.
		b.Keys[20].NewTokens[0].Digest = b.Keys[3].NewTokens[0].Digest
		_, err := write(t, db, b)
		requireUniqueViolation(t, err, "tokens_digest")
		assert.Contains(t, err.Error(), "building the indexes of tokens")
		assert.Equal(t, before, indexCatalog(t, conn))
		assert.Equal(t, "0 0 0", rowCounts(t, conn))
		// Nothing is left behind: the same batch, fixed, loads.
		st, err := write(t, db, createBatch(25, 0))
		require.NoError(t, err)
		assert.EqualValues(t, 6, st.IndexesRebuilt)
	})

	t.Run("DDL refused by the server, the ordinary way", func(t *testing.T) {
		t.Parallel()
		db, conn := openBulk(t, 10)
		execAll(t, conn,
			`CREATE FUNCTION public.no_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$
			 BEGIN RAISE EXCEPTION 'DDL only in migrations'; END $$`,
			`CREATE EVENT TRIGGER no_ddl ON ddl_command_start WHEN TAG IN ('DROP INDEX', 'ALTER TABLE') EXECUTE FUNCTION public.no_ddl()`,
		)
		before := indexCatalog(t, conn)
		st, err := write(t, db, createBatch(25, 0))
		require.NoError(t, err)
		assert.Zero(t, st.IndexesRebuilt)
		assert.Equal(t, before, indexCatalog(t, conn))
		assert.Equal(t, "25 25 25", rowCounts(t, conn))
	})

	t.Run("a role that does not own the tables, nor may read the events, the ordinary way", func(t *testing.T) {
		t.Parallel()
		admin := pgtest.AdminURL(t)
		u := pgtest.NewDatabase(t)
		openMigrated(t, u)
		// Roles belong to the server: this one has a name of its own.
		name := fmt.Sprintf("keyprov_writer_%d", time.Now().UnixNano())
		role := pgx.Identifier{name}.Sanitize()
		adminConn := pgtest.Connect(t, admin)
		_, err := adminConn.Exec(ctx, "CREATE ROLE "+role+" LOGIN PASSWORD 'Wr1ter-pass'")
		require.NoError(t, err)
		t.Cleanup(func() {
			conn := pgtest.Connect(t, u)
			_, _ = conn.Exec(context.Background(), "DROP OWNED BY "+role)
			t.Cleanup(func() { _, _ = pgtest.Connect(t, admin).Exec(context.Background(), "DROP ROLE IF EXISTS "+role) })
		})
		conn := pgtest.Connect(t, u)
		execAll(t, conn,
			"GRANT USAGE ON SCHEMA keyprov TO "+role,
			// UPDATE and DELETE let it take LOCK … ACCESS EXCLUSIVE; only the owner may drop an index.
			"GRANT SELECT, INSERT, UPDATE, DELETE ON keyprov.keys, keyprov.tokens TO "+role,
			// An apply never reads the events: the emptiness check may not either.
			"GRANT INSERT ON keyprov.events TO "+role,
			"GRANT USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA keyprov TO "+role,
		)
		before := indexCatalog(t, conn)
		db := open(t, store.Config{URL: pgtest.WithUser(u, name, "Wr1ter-pass"), BulkLoadAbove: 10})
		st, err := write(t, db, createBatch(25, 0))
		require.NoError(t, err)
		assert.Zero(t, st.IndexesRebuilt)
		assert.Equal(t, before, indexCatalog(t, conn))
		assert.Equal(t, "25 25 25", rowCounts(t, conn))
	})
}
