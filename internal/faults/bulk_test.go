package faults

import (
	"context"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

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
WHERE c.relnamespace = 'keyprov'::regnamespace ORDER BY 1`)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// TestKillDuringBulkLoad kills keyprov (SIGKILL) at random moments of the
// first apply of a spec large enough to be bulk-loaded: the indexes of
// the empty tables are dropped, the rows copied, and the indexes built
// again, all in the apply's transaction. Each time, the store is still
// empty with all its indexes, or holds the whole spec; the next apply
// converges.
func TestKillDuringBulkLoad(t *testing.T) {
	keys := setting("KEYPROV_FAULT_BULK_KEYS", 15000) // above store.DefaultBulkLoadAbove
	kills := setting("KEYPROV_FAULT_BULK_KILLS", 5)
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
	measured := mustRun(t, 0, g.dir, baseEnv(ref), "apply")
	require.EqualValues(t, 3*keys, measured.rowsWritten())
	require.EqualValues(t, 6, measured.summary()["indexes_rebuilt"], "the first apply builds the six indexes after the rows")
	full := takeSnapshot(t, ref)
	require.Len(t, full.Keys, keys)
	assert.Equal(t, wantIndexes, indexes(t, ref))
	drop()
	// The first run reads a cold binary and spec; time a second one.
	ref, drop = cloneDatabase(t, admin, base)
	measured = mustRun(t, 0, g.dir, baseEnv(ref), "apply")
	drop()
	// The kills are spread over the write phase of the measured run (and a
	// little past it): while the rows are copied and the indexes built.
	from := measured.ms("eval") + measured.ms("migrate") + measured.ms("lock") + measured.ms("load") + measured.ms("diff")
	to := from + measured.ms("write")*6/5

	counts := map[string]int{}
	// What the session was doing when its process died: how many kills hit
	// the bulk load itself (a COPY, an index build) is a figure of the
	// run, not something a test of timing could require.
	activity := connect(t, admin)
	during := map[string]int{}
	for i := 0; i < kills; i++ {
		at := from + time.Duration((float64(i)+rand.Float64())/float64(kills)*float64(to-from))
		u, drop := cloneDatabase(t, admin, base)
		p := start(t, g.dir, baseEnv(u), "apply")
		time.Sleep(time.Until(p.started.Add(at)))
		if !p.exited() {
			var doing string
			require.NoError(t, activity.QueryRow(context.Background(), `SELECT coalesce(max(CASE
				WHEN query LIKE 'COPY %' THEN 'copying rows'
				WHEN query LIKE 'ALTER TABLE % ADD CONSTRAINT %' OR query LIKE 'CREATE %INDEX %' THEN 'building indexes'
				ELSE 'elsewhere' END), 'not connected')
				FROM pg_stat_activity WHERE datname = $1 AND application_name = 'keyprov' AND state = 'active'`, dbName(t, u)).Scan(&doing))
			p.signal(t, syscall.SIGKILL)
			during[doing]++
		}
		r := p.wait(t)
		if r.signal != syscall.SIGKILL {
			require.Equal(t, 0, r.code, "an apply that ended before the kill succeeded; stderr:\n%s", tail(r.stderr, 3000))
		}
		waitSessionsGone(t, admin, dbName(t, u))
		state, why := outcome(takeSnapshot(t, u), empty, full, keys)
		require.NotEmpty(t, state, why)
		assert.Equal(t, wantIndexes, indexes(t, u), "after a kill, every index is there, valid")

		next := mustRun(t, 0, g.dir, baseEnv(u), "apply")
		if state == "old" {
			assert.EqualValues(t, 3*keys, next.rowsWritten(), "the apply after the kill writes the whole spec")
			assert.EqualValues(t, 6, next.summary()["indexes_rebuilt"])
		} else {
			assert.EqualValues(t, 0, next.rowsWritten(), "the spec was committed before the kill")
		}
		again, why := outcome(takeSnapshot(t, u), empty, full, keys)
		require.Equal(t, "new", again, "one apply after the kill converges: %s", why)
		assert.Equal(t, wantIndexes, indexes(t, u))
		assert.EqualValues(t, 0, mustRun(t, 0, g.dir, baseEnv(u), "apply").rowsWritten(), "then a no-op")
		assertNoLockLeft(t, admin, dbName(t, u))
		if state == "old" {
			state = "empty"
		} else {
			state = "whole spec"
		}
		counts[state]++
		t.Logf("kill %d at %s: the store was %s", i+1, at.Round(time.Millisecond), state)
		drop()
	}
	figure("1 sigkill bulk", "SIGKILL during the first apply of %d keys (indexes built after the rows): %d kills (%d while copying rows, %d while building indexes; %d left the store empty, %d whole); every index in place each time, each converged in one apply, then a no-op",
		keys, kills, during["copying rows"], during["building indexes"], counts["empty"], counts["whole spec"])
}
