package faults

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
)

// TestDatabaseRestart runs applies against a database that is down when
// they start, and one that stops (immediate and fast shutdown) in the
// middle of their writes.
func TestDatabaseRestart(t *testing.T) {
	old := writeSpec(t, specOpts{Keys: 200, Gen: "old"})
	changed := writeSpec(t, specOpts{Keys: 200, Gen: "new"})
	// What an apply of changed over old leaves, on the shared server.
	ref := pgtest.NewDatabase(t)
	mustRun(t, 0, old.dir, baseEnv(ref), "apply")
	mustRun(t, 0, changed.dir, baseEnv(ref), "apply")
	want := takeSnapshot(t, ref)
	restarts := 0

	t.Run("down at start", func(t *testing.T) {
		c := privateCluster(t)
		u := newDatabaseOn(t, c.URL("postgres"))
		require.NoError(t, c.Stop(false))
		p := start(t, old.dir, with(baseEnv(u), "KEYPROV_WAIT", "3m", "KEYPROV_CONNECT_TIMEOUT", "2s"), "apply")
		p.waitStderr(t, "database not reachable yet, retrying")
		require.NoError(t, c.Restart(durable), "the database comes up while keyprov waits")
		restarts++
		r := p.wait(t)
		require.Equal(t, 0, r.code, "stderr:\n%s", tail(r.stderr, 3000))
		assert.Contains(t, r.stderr, `"message":"database reachable"`)
		assert.Len(t, takeSnapshot(t, u).Keys, 200)
		assertNoTokens(t, r, old)
	})

	for mode, stop := range map[string]func(c *pgtest.Cluster) error{
		"immediate": (*pgtest.Cluster).Kill,
		"fast":      func(c *pgtest.Cluster) error { return c.Stop(false) },
	} {
		t.Run("stopped during apply/"+mode, func(t *testing.T) {
			c := privateCluster(t)
			admin := c.URL("postgres")
			u := newDatabaseOn(t, admin)
			mustRun(t, 0, old.dir, baseEnv(u), "apply")
			before := takeSnapshot(t, u)
			stall(t, u)
			p := start(t, changed.dir, baseEnv(u), "apply")
			waitBackend(t, p, admin, dbName(t, u), "relation")
			require.NoError(t, stop(c), "pg_ctl stop -m %s", mode)
			r := p.wait(t)
			assert.Equal(t, 3, r.code, "stderr:\n%s", tail(r.stderr, 3000))
			assert.Contains(t, r.stderr, "keyprov: apply failed: store: the connection to the database was lost: ")
			assert.Contains(t, r.stderr, "the transaction was rolled back: nothing was written")
			assert.Empty(t, r.stdout)
			assertNoTokens(t, r, old, changed)

			require.NoError(t, c.Restart(durable))
			restarts++
			after := takeSnapshot(t, u)
			assert.Empty(t, keysDiff(after, before), "nothing partial after the restart")
			assert.Equal(t, before.Events, after.Events)
			assertNoLockLeft(t, admin, dbName(t, u))
			next := mustRun(t, 0, changed.dir, with(baseEnv(u), "KEYPROV_LOCK_TIMEOUT", "2s"), "apply")
			assert.EqualValues(t, 5*200, next.rowsWritten())
			assert.Empty(t, keysDiff(takeSnapshot(t, u), want), "the run after the restart applies the whole change")
			noop := mustRun(t, 0, changed.dir, baseEnv(u), "apply")
			assert.EqualValues(t, 0, noop.rowsWritten())
		})
	}
	figure("4 restart", "database restarts: down at start then up within KEYPROV_WAIT (applied), stopped mid-apply with pg_ctl stop -m immediate and -m fast (exit 3, nothing partial, the next run applied): %d restarts", restarts)
}
