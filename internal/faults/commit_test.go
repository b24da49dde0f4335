package faults

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// holdCommits makes every COMMIT on the server of admin wait for a
// synchronous standby that does not exist: the commit is written locally
// and the session waits (wait event SyncRep) until release is called.
func holdCommits(t *testing.T, admin string) (release func()) {
	t.Helper()
	setStandbys(t, admin, "nobody")
	done := false
	release = func() {
		if !done {
			done = true
			// With no synchronous standby named, the waiting commits return.
			setStandbys(t, admin, "")
		}
	}
	t.Cleanup(release)
	return release
}

func setStandbys(t *testing.T, admin, names string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "ALTER SYSTEM SET synchronous_standby_names = '"+names+"'")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "SELECT pg_reload_conf()")
	require.NoError(t, err)
	// The reload reaches the server processes asynchronously; a new
	// session shows when it has.
	require.Eventually(t, func() bool {
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			return false
		}
		defer c.Close(ctx)
		var v string
		return c.QueryRow(ctx, "SHOW synchronous_standby_names").Scan(&v) == nil && v == names
	}, time.Minute, 20*time.Millisecond)
}

// waitSignalSeen waits until keyprov logs that a signal came while its
// COMMIT was under way; the test fails if that takes long.
func waitSignalSeen(t *testing.T, p *proc) {
	t.Helper()
	const seen = `"message":"interrupted during COMMIT: letting it finish"`
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(p.stderr.String(), seen); {
		if time.Now().After(deadline) || p.exited() {
			t.Fatalf("keyprov did not log the signal during COMMIT; stderr:\n%s", tail(p.stderr.String(), 3000))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCommitWindow breaks an apply while its COMMIT is under way (held by
// a synchronous standby that never answers): a terminated session leaves
// the outcome unknown and keyprov says so; a signal does not interrupt
// COMMIT, and the apply completes.
func TestCommitWindow(t *testing.T) {
	old := writeSpec(t, specOpts{Keys: 200, Gen: "old"})
	changed := writeSpec(t, specOpts{Keys: 200, Gen: "new"})
	runs := 0

	t.Run("session terminated", func(t *testing.T) {
		c := privateCluster(t)
		admin := c.URL("postgres")
		u := newDatabaseOn(t, admin)
		mustRun(t, 0, old.dir, baseEnv(u), "apply")
		before := takeSnapshot(t, u)
		release := holdCommits(t, admin)
		p := start(t, changed.dir, baseEnv(u), "apply")
		waitBackend(t, p, admin, dbName(t, u), "SyncRep")
		conn := connect(t, admin)
		var terminated int
		require.NoError(t, conn.QueryRow(context.Background(), terminateSQL, dbName(t, u)).Scan(&terminated))
		require.Equal(t, 1, terminated)
		r := p.wait(t)
		release()
		assert.Equal(t, 3, r.code, "stderr:\n%s", tail(r.stderr, 3000))
		assert.Contains(t, r.stderr, "keyprov: apply failed: store: the connection to the database was lost during COMMIT: the outcome of the commit is unknown")
		assert.Contains(t, r.stderr, "run it again: it converges")
		assert.NotContains(t, r.stderr, "nothing was written")

		// The commit was written locally before the wait: the change is there.
		after := takeSnapshot(t, u)
		assert.NotEmpty(t, keysDiff(after, before))
		assert.Len(t, after.Events, len(before.Events)+1)
		next := mustRun(t, 0, changed.dir, baseEnv(u), "apply")
		assert.EqualValues(t, 0, next.rowsWritten(), "the run again converges: nothing left to write")
		runs++
	})

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			c := privateCluster(t)
			admin := c.URL("postgres")
			u := newDatabaseOn(t, admin)
			mustRun(t, 0, old.dir, baseEnv(u), "apply")
			before := takeSnapshot(t, u)
			release := holdCommits(t, admin)
			p := start(t, changed.dir, baseEnv(u), "apply")
			waitBackend(t, p, admin, dbName(t, u), "SyncRep")
			p.signal(t, sig)
			// The commit is released once keyprov says the signal came
			// while COMMIT was under way, not after a guess at how long
			// the signal takes.
			waitSignalSeen(t, p)
			release()
			r := p.wait(t)
			assert.Equal(t, 0, r.code, "a signal during COMMIT lets it finish; stderr:\n%s", tail(r.stderr, 3000))
			assert.Contains(t, r.stdout, "Apply complete")
			after := takeSnapshot(t, u)
			assert.Len(t, after.Events, len(before.Events)+1)
			assert.Equal(t, before.events()+2*changed.opts.Keys, after.events())
			next := mustRun(t, 0, changed.dir, baseEnv(u), "apply")
			assert.EqualValues(t, 0, next.rowsWritten())
			runs++
		})
	}
	// The first apply on an empty store migrates in its own transaction
	// first: a signal during that COMMIT lets it finish too, so the run
	// stops with the schema in place and says so.
	t.Run("SIGTERM during the migration's COMMIT", func(t *testing.T) {
		c := privateCluster(t)
		admin := c.URL("postgres")
		u := newDatabaseOn(t, admin)
		release := holdCommits(t, admin)
		p := start(t, changed.dir, baseEnv(u), "apply")
		waitBackend(t, p, admin, dbName(t, u), "SyncRep")
		p.signal(t, syscall.SIGTERM)
		waitSignalSeen(t, p) // as above
		release()
		r := p.wait(t)
		assert.Equal(t, 3, r.code, "stderr:\n%s", tail(r.stderr, 3000))
		assert.NotContains(t, r.stderr, "outcome of the commit is unknown")
		// Interrupted, the migration's COMMIT failed with "migrating the
		// schema: context canceled" on a closed connection, though the
		// schema had been committed; now the run stops after it.
		assert.NotContains(t, r.stderr, "migrating the schema", "the migration's COMMIT is not interrupted")
		assert.Regexp(t, `keyprov: the schema was migrated \(\d+ migrations?, committed\) before the failure\n`, r.stderr)
		assert.Contains(t, r.stderr, "keyprov: apply interrupted: nothing was written\n")
		conn := connect(t, u)
		var version, keys int
		require.NoError(t, conn.QueryRow(context.Background(), "SELECT version FROM keyprov.schema_version").Scan(&version),
			"the migration committed; stderr:\n%s", tail(r.stderr, 3000))
		require.NoError(t, conn.QueryRow(context.Background(), "SELECT count(*) FROM keyprov.keys").Scan(&keys))
		assert.Positive(t, version)
		assert.Zero(t, keys, "the apply itself wrote nothing")
		next := mustRun(t, 0, changed.dir, baseEnv(u), "apply")
		assert.EqualValues(t, 3*changed.opts.Keys, next.rowsWritten(), "the next run applies everything")
		runs++
	})
	figure("3b commit", "COMMIT held by a synchronous standby that never answers: a terminated session exited 3 saying the outcome is unknown (it was committed; the next run wrote nothing); SIGTERM and SIGINT let COMMIT finish (exit 0), the migration's too: %d runs", runs)
}
