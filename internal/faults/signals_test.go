package faults

import (
	"context"
	"hash/fnv"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
)

// lockKey is the advisory lock key of a keyprov schema, computed as
// store.lockKey computes it: a holder of this key stops every apply.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("keyprov:" + schema))
	return int64(h.Sum64())
}

// holdLock takes keyprov's advisory lock in an open transaction, as a
// stuck keyprov would hold it, until release is called.
func holdLock(t *testing.T, u string) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey("keyprov"))
	require.NoError(t, err)
	done := false
	release = func() {
		if !done {
			done = true
			_ = tx.Rollback(ctx)
			_ = conn.Close(ctx)
		}
	}
	t.Cleanup(release)
	return release
}

// interrupted checks how keyprov ended after sig: exit 3, a log line and a
// message saying it was interrupted and wrote nothing, and no secret.
func interrupted(t *testing.T, r result, sig syscall.Signal, g *generatedSpec) {
	t.Helper()
	assert.Equal(t, 3, r.code, "exit status after %s; stderr:\n%s", sig, tail(r.stderr, 3000))
	assert.Contains(t, r.stderr, `"message":"apply interrupted by a signal`, "a log line says so")
	assert.Contains(t, r.stderr, sig.String()+" signal received", "the log names the signal")
	assert.Contains(t, r.stderr, "nothing was written")
	assert.Empty(t, r.stdout, "no plan is printed")
	assertNoTokens(t, r, g)
}

// TestSignals sends SIGTERM and SIGINT to an apply while it waits for the
// database, evaluates a large spec, waits for the lock, and writes: each
// time keyprov logs that it was interrupted, exits 3, writes nothing and
// leaves no lock behind, and the next apply succeeds at once.
func TestSignals(t *testing.T) {
	top := t
	small := writeSpec(t, specOpts{Keys: 200, Gen: "old"})
	changed := writeSpec(t, specOpts{Keys: 200, Gen: "new"})
	// A spec large enough that keyprov is still evaluating it when its
	// first progress line comes out (after a second); it grows on a
	// machine that evaluates it faster.
	big := writeSpec(t, specOpts{Keys: setting("KEYPROV_FAULT_EVAL_KEYS", 50000), Gen: "big"})
	// The next apply must not wait for a lock someone forgot.
	atOnce := func(env map[string]string) map[string]string { return with(env, "KEYPROV_LOCK_TIMEOUT", "2s") }
	admin := pgtest.AdminURL(t)
	n := 0

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Run("database wait", func(t *testing.T) {
				c := privateCluster(t)
				u := newDatabaseOn(t, c.URL("postgres"))
				require.NoError(t, c.Stop(false))
				p := start(t, small.dir, with(baseEnv(u), "KEYPROV_WAIT", "10m", "KEYPROV_CONNECT_TIMEOUT", "2s"), "apply")
				p.waitStderr(t, "database not reachable yet, retrying")
				p.signal(t, sig)
				r := p.wait(t)
				interrupted(t, r, sig, small)
				require.NoError(t, c.Restart(durable))
				assert.Empty(t, takeSnapshot(t, u).Keys)
				assertNoLockLeft(t, c.URL("postgres"), dbName(t, u))
				mustRun(t, 0, small.dir, atOnce(baseEnv(u)), "apply")
				n++
			})

			t.Run("evaluation", func(t *testing.T) {
				var u string
				var p *proc
				for {
					u = pgtest.NewDatabase(t)
					p = start(t, big.dir, with(baseEnv(u), "KEYPROV_MAX_KEYS", "10000000"), "apply")
					// The progress line shows that evaluation is under way.
					if p.sawStderr(`"phase":"evaluating the spec"`) {
						break
					}
					r := p.wait(t)
					require.Equal(t, 0, r.code, "stderr:\n%s", tail(r.stderr, 3000))
					require.Less(t, big.opts.Keys, 400000, "evaluating %d keys takes less than a second: no progress line to signal on", big.opts.Keys)
					// In a directory of the whole test: the next signal's
					// subtest starts from this size.
					big = writeSpecIn(t, top.TempDir(), specOpts{Keys: 2 * big.opts.Keys, Gen: "big"})
				}
				p.signal(t, sig)
				r := p.wait(t)
				interrupted(t, r, sig, big)
				assert.Contains(t, r.stderr, "while evaluating the spec")
				assert.Empty(t, takeSnapshot(t, u).Keys)
				assertNoLockLeft(t, admin, dbName(t, u))
				mustRun(t, 0, small.dir, atOnce(baseEnv(u)), "apply")
				n++
			})

			t.Run("lock wait", func(t *testing.T) {
				u := pgtest.NewDatabase(t)
				mustRun(t, 0, small.dir, baseEnv(u), "apply")
				before := takeSnapshot(t, u)
				release := holdLock(t, u)
				p := start(t, changed.dir, baseEnv(u), "apply")
				waitBackend(t, p, admin, dbName(t, u), "advisory")
				p.signal(t, sig)
				r := p.wait(t)
				interrupted(t, r, sig, changed)
				release()
				assert.Empty(t, keysDiff(takeSnapshot(t, u), before))
				assertNoLockLeft(t, admin, dbName(t, u))
				mustRun(t, 0, changed.dir, atOnce(baseEnv(u)), "apply")
				n++
			})

			t.Run("writing", func(t *testing.T) {
				u := pgtest.NewDatabase(t)
				mustRun(t, 0, small.dir, baseEnv(u), "apply")
				before := takeSnapshot(t, u)
				// The apply stops in the middle of its writes: keys and
				// tokens written, events waiting for a table lock.
				release := stall(t, u)
				p := start(t, changed.dir, baseEnv(u), "apply")
				waitBackend(t, p, admin, dbName(t, u), "relation")
				p.signal(t, sig)
				r := p.wait(t)
				interrupted(t, r, sig, changed)
				release()
				after := takeSnapshot(t, u)
				assert.Empty(t, keysDiff(after, before), "the keys and tokens written before the signal were rolled back")
				assert.Equal(t, before.Events, after.Events)
				assertNoLockLeft(t, admin, dbName(t, u))
				next := mustRun(t, 0, changed.dir, atOnce(baseEnv(u)), "apply")
				assert.EqualValues(t, 5*200, next.rowsWritten(), "the next apply writes the whole change")
				n++
			})
		})
	}
	figure("3 signals", "signals: SIGTERM and SIGINT while waiting for the database, evaluating %d keys, waiting for the lock and writing: %d interrupted applies exited 3 with nothing written and no lock left", big.opts.Keys, n)
}
