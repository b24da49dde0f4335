package faults

import (
	"context"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
)

// indexes lists the indexes of keyprov's tables with their definitions and
// whether they are valid and ready.
func indexes(t *testing.T, u string) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u) // closed at once: a database with sessions cannot be copied
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows := mustQuery(t, conn, `SELECT pg_get_indexdef(i.indexrelid) || ' valid=' || (i.indisvalid AND i.indisready)
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
WHERE c.relnamespace = 'keyprov'::regnamespace AND c.relname IN ('keys', 'tokens', 'events') ORDER BY 1`)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// TestKillDuringBulkLoad kills keyprov (SIGKILL) during each statement of
// the bulk load of a first apply large enough for it: the indexes of the
// empty tables are dropped, the rows copied, and the indexes built again,
// all in the apply's transaction. The kill comes when the server shows the
// statement running; the store is then still empty with every index in
// place, valid, and the next apply converges.
func TestKillDuringBulkLoad(t *testing.T) {
	keys := setting("KEYPROV_FAULT_BULK_KEYS", 15000) // above store.DefaultBulkLoadAbove
	admin := pgtest.AdminURL(t)
	base := pgtest.NewDatabase(t)
	// An empty spec creates the schema and writes nothing.
	none := writeSpec(t, specOpts{Keys: 0, Gen: "empty"})
	require.EqualValues(t, 0, mustRun(t, 0, none.dir, baseEnv(base), "apply").rowsWritten())
	empty := takeSnapshot(t, base)
	require.Empty(t, empty.Keys)
	wantIndexes := indexes(t, base)
	require.Len(t, wantIndexes, 6)

	g := writeSpec(t, specOpts{Keys: keys, Gen: "bulk"})
	ref, drop := cloneDatabase(t, admin, base)
	whole := mustRun(t, 0, g.dir, baseEnv(ref), "apply")
	require.EqualValues(t, 3*keys, whole.rowsWritten())
	require.EqualValues(t, 6, whole.summary()["indexes_rebuilt"], "the first apply builds the six indexes after the rows")
	full := takeSnapshot(t, ref)
	require.Len(t, full.Keys, keys)
	assert.Equal(t, wantIndexes, indexes(t, ref))
	drop()

	// The statements of the bulk load, as pg_stat_activity shows them
	// (a table's rebuild is one query string of its statements).
	steps := []struct{ name, like string }{
		{"copying the keys", `COPY "keyprov"."keys" %`},
		{"building the keys' indexes", `ALTER TABLE "keyprov"."keys" ADD CONSTRAINT %`},
		{"copying the tokens", `COPY "keyprov"."tokens" %`},
		{"building the tokens' indexes", `CREATE UNIQUE INDEX tokens_one_active %`},
		{"copying the events", `COPY "keyprov"."events" %`},
		{"building the events' indexes", `CREATE INDEX events_key %`},
	}
	activity := connect(t, admin)
	ctx := context.Background()
	tries := 0
	for _, step := range steps {
		// A short statement can end between two looks: try again.
		hit := false
		for attempt := 0; attempt < 5 && !hit; attempt++ {
			tries++
			u, drop := cloneDatabase(t, admin, base)
			db := dbName(t, u)
			p := start(t, g.dir, baseEnv(u), "apply")
			for !hit && !p.exited() {
				require.NoError(t, activity.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
					WHERE datname = $1 AND application_name = 'keyprov' AND state = 'active' AND query LIKE $2)`,
					db, step.like).Scan(&hit))
				if hit {
					p.signal(t, syscall.SIGKILL)
				}
			}
			r := p.wait(t)
			if !hit || r.signal != syscall.SIGKILL {
				require.Equal(t, 0, r.code, "stderr:\n%s", tail(r.stderr, 3000))
				hit = false
				drop()
				continue
			}
			waitSessionsGone(t, admin, db)
			state, why := outcome(takeSnapshot(t, u), empty, full, keys)
			require.Equal(t, "old", state, "killed while %s, before the commit: the store is still empty; %s", step.name, why)
			assert.Equal(t, wantIndexes, indexes(t, u), "killed while %s: every index is there, valid", step.name)

			next := mustRun(t, 0, g.dir, baseEnv(u), "apply")
			assert.EqualValues(t, 3*keys, next.rowsWritten(), "the apply after the kill writes the whole spec")
			assert.EqualValues(t, 6, next.summary()["indexes_rebuilt"], "and bulk-loads it")
			again, why := outcome(takeSnapshot(t, u), empty, full, keys)
			require.Equal(t, "new", again, "one apply after the kill converges: %s", why)
			assert.Equal(t, wantIndexes, indexes(t, u))
			assert.EqualValues(t, 0, mustRun(t, 0, g.dir, baseEnv(u), "apply").rowsWritten(), "then a no-op")
			assertNoLockLeft(t, admin, db)
			t.Logf("killed while %s: the store was empty, with every index; one apply converged", step.name)
			drop()
		}
		require.True(t, hit, "never saw keyprov %s in 5 applies", step.name)
	}
	figure("1 sigkill bulk", "SIGKILL during each of the %d statements of the first apply of %d keys (rows copied, then indexes built): %d applies started, %d killed; each left the store empty with every index, and converged in one apply, then a no-op",
		len(steps), keys, tries, len(steps))
}
