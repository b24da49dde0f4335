package faults

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
)

// crashFixture is a store holding spec old (a large spec), and spec new,
// which changes the name and the token of every key, with the store an
// apply of new over old yields, measured once.
type crashFixture struct {
	admin    string
	base     string // the database holding old; only ever copied
	old, new *generatedSpec
	// before and after are the store before and after an apply of new.
	before, after snapshot
	// newRunEvents and newRows are what an apply of new over old records and writes.
	newRunEvents int
	newRows      int64
	// eval and total are the mean evaluation and whole run of the full
	// applies of new over old seen so far (runs of them), txn the mean
	// time they spent in their transaction.
	eval, total, txn time.Duration
	runs             int
}

func newCrashFixture(t *testing.T, keys int) *crashFixture {
	t.Helper()
	f := &crashFixture{admin: pgtest.AdminURL(t), base: pgtest.NewDatabase(t)}
	f.old = writeSpec(t, specOpts{Keys: keys, Gen: "old"})
	f.new = writeSpec(t, specOpts{Keys: keys, Gen: "new"})

	first := mustRun(t, 0, f.old.dir, baseEnv(f.base), "apply")
	require.EqualValues(t, 2*keys+keys, first.rowsWritten(), "creating the old spec writes a key, a token and an event per key")
	f.before = takeSnapshot(t, f.base)
	require.Len(t, f.before.Keys, keys)

	// Measure one apply of the new spec on a copy: its duration spreads
	// the kills, and its outcome is what a converged store must equal.
	ref, drop := cloneDatabase(t, f.admin, f.base)
	defer drop()
	measured := mustRun(t, 0, f.new.dir, baseEnv(ref), "apply")
	f.after = takeSnapshot(t, ref)
	f.newRows = measured.rowsWritten()
	f.measure(measured)
	require.Len(t, f.after.Keys, keys)
	require.Len(t, f.after.Events, len(f.before.Events)+1)
	for run, n := range f.after.Events {
		if _, ok := f.before.Events[run]; !ok {
			f.newRunEvents = n
		}
	}
	require.Equal(t, 2*keys, f.newRunEvents, "every key is renamed and rotated: two events per key")
	require.NotEmpty(t, keysDiff(f.after, f.before), "the new spec changes the keys")
	noop := mustRun(t, 0, f.new.dir, baseEnv(ref), "apply")
	require.EqualValues(t, 0, noop.rowsWritten(), "a second apply of the same spec writes nothing")
	t.Logf("an apply of %d changed keys: %s in all, %s evaluating, %d rows written", keys, f.total.Round(time.Millisecond), f.eval.Round(time.Millisecond), f.newRows)
	return f
}

// waitSessionsGone waits until no session of a keyprov process is left in
// database db: a session whose client died may still be finishing a
// statement, and only then rolls back.
func waitSessionsGone(t *testing.T, admin, db string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	require.NoError(t, err)
	defer conn.Close(ctx)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'keyprov'", db).Scan(&n))
		return n == 0
	}, 2*time.Minute, 20*time.Millisecond, "sessions of dead keyprov processes remain in %s", db)
}

// measure adds a full apply of the new spec over the old one to the
// estimates of its phases, which the next kills are spread over: runs
// under load take longer than the first measurement.
func (f *crashFixture) measure(r result) {
	f.runs++
	n := time.Duration(f.runs)
	f.eval += (r.ms("eval_ms") - f.eval) / n
	f.total += (r.duration - f.total) / n
	txn := r.ms("lock_ms") + r.ms("load_ms") + r.ms("diff_ms") + r.ms("write_ms")
	f.txn += (txn - f.txn) / n
}

// checkConverges checks the store u after a fault: it is the old or the new
// spec exactly; the next apply succeeds and leaves exactly the new spec;
// the one after writes nothing. It returns "old" or "new".
func (f *crashFixture) checkConverges(t *testing.T, u string) string {
	t.Helper()
	waitSessionsGone(t, f.admin, dbName(t, u))
	got := takeSnapshot(t, u)
	state, why := outcome(got, f.before, f.after, f.newRunEvents)
	require.NotEmpty(t, state, why)

	next := mustRun(t, 0, f.new.dir, baseEnv(u), "apply")
	if state == "old" {
		assert.Equal(t, f.newRows, next.rowsWritten(), "the apply after the fault writes the whole change")
		f.measure(next)
	} else {
		assert.EqualValues(t, 0, next.rowsWritten(), "the change was committed before the fault: nothing left to write")
	}
	converged := takeSnapshot(t, u)
	again, why := outcome(converged, f.before, f.after, f.newRunEvents)
	require.Equal(t, "new", again, "one apply after the fault converges: %s", why)

	noop := mustRun(t, 0, f.new.dir, baseEnv(u), "apply")
	assert.EqualValues(t, 0, noop.rowsWritten(), "the second apply after the fault writes nothing")
	last := takeSnapshot(t, u)
	assert.Empty(t, keysDiff(last, converged))
	assert.Equal(t, converged.Events, last.Events, "a no-op apply records no event")
	assertNoLockLeft(t, f.admin, dbName(t, u))
	return state
}

// TestCrashMidApply kills keyprov (SIGKILL) at random moments of a large
// apply, and terminates its database session in the middle of the
// transaction: each time the store holds the old spec or the new one
// exactly, and one apply converges.
func TestCrashMidApply(t *testing.T) {
	keys := setting("KEYPROV_FAULT_KEYS", 20000)
	f := newCrashFixture(t, keys)

	t.Run("SIGKILL", func(t *testing.T) {
		kills := setting("KEYPROV_FAULT_KILLS", 8)
		// Moments spread over the measured apply, from the middle of the
		// evaluation to a little past its end: one random moment in each
		// of kills equal slices.
		// What happened, not what was attempted: an apply may end before
		// its moment comes, and is then no kill survived.
		counts := map[string]int{} // of the killed applies, by the spec the store held
		killed, inEval, ended := 0, 0, 0
		for i := 0; i < kills; i++ {
			from, to := f.eval/2, f.total+f.total/10
			at := from + time.Duration((float64(i)+rand.Float64())/float64(kills)*float64(to-from))
			u, drop := cloneDatabase(t, f.admin, f.base)
			p := start(t, f.new.dir, baseEnv(u), "apply")
			time.Sleep(time.Until(p.started.Add(at)))
			if !p.exited() {
				// The apply may end in between: a signal to an ended
				// process is no error here, and the exit status tells.
				if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
					require.NoError(t, err)
				}
			}
			r := p.wait(t)
			state := f.checkConverges(t, u)
			if r.signal != syscall.SIGKILL {
				require.Equal(t, 0, r.code, "an apply that ended before the kill succeeded; stderr:\n%s", tail(r.stderr, 3000))
				ended++
				t.Logf("apply %d ended before its kill at %s", i+1, at.Round(time.Millisecond))
				drop()
				continue
			}
			killed++
			counts[state]++
			if at < f.eval {
				inEval++
			}
			t.Logf("apply %d killed at %s: the store held the %s spec", i+1, at.Round(time.Millisecond), state)
			drop()
		}
		require.Positive(t, killed, "every apply ended before its kill: nothing was tested")
		figure("1 sigkill", "SIGKILL during an apply of %d changed keys: %d applies started, %d killed (%d left the old spec, %d the new one; %d during evaluation), %d ended before their kill; each converged in one apply, then a no-op",
			keys, kills, killed, counts["old"], counts["new"], inEval, ended)
	})

	t.Run("backend terminated", func(t *testing.T) {
		want := setting("KEYPROV_FAULT_TERMINATIONS", 4)
		ctx := context.Background()
		// The session is terminated at a random moment of the transaction.
		window := f.txn
		counts := map[string]int{}
		done, missed := 0, 0
		conn := connect(t, f.admin)
		for attempt := 0; done < want; attempt++ {
			require.Less(t, attempt, 3*want+5, "the terminations kept missing the transaction")
			u, drop := cloneDatabase(t, f.admin, f.base)
			db := dbName(t, u)
			p := start(t, f.new.dir, baseEnv(u), "apply")
			waitBackend(t, p, f.admin, db, "")
			time.Sleep(time.Duration(rand.Float64() * float64(window)))
			var terminated int
			require.NoError(t, conn.QueryRow(ctx, terminateSQL, db).Scan(&terminated))
			r := p.wait(t)
			if terminated == 0 {
				// The transaction was over before the termination: not a
				// fault. Aim earlier next time.
				require.Equal(t, 0, r.code, "stderr:\n%s", tail(r.stderr, 3000))
				missed++
				window = window * 2 / 3
				drop()
				continue
			}
			state := f.checkConverges(t, u)
			switch state {
			case "old":
				assert.Equal(t, 3, r.code, "exit status of an apply whose session was terminated; stderr:\n%s", tail(r.stderr, 3000))
				assert.Contains(t, r.stderr, "keyprov: apply failed: store: the connection to the database was lost: ")
				assert.Contains(t, r.stderr, "the transaction was rolled back: nothing was written")
			case "new":
				// Terminated after COMMIT: either keyprov heard the commit
				// (exit 0) or it lost the answer and says so (exit 3).
				if r.code != 0 {
					assert.Equal(t, 3, r.code)
					assert.Contains(t, r.stderr, "the outcome of the commit is unknown")
				}
			}
			assertNoTokens(t, r, f.new, f.old)
			counts[state]++
			done++
			drop()
		}
		figure("2 terminate", "pg_terminate_backend during an apply of %d changed keys: %d sessions terminated (%d left the old spec with exit 3, %d the new one), %d missed the transaction",
			keys, done, counts["old"], counts["new"], missed)
	})
}

// terminateSQL terminates the sessions of keyprov processes of database $1
// that are inside a transaction. The CTE is materialized so that the
// filter runs before pg_terminate_backend: in a plain WHERE clause the
// planner may call it first, on every session of the server.
const terminateSQL = `WITH victims AS MATERIALIZED (
	SELECT pid FROM pg_stat_activity
	WHERE datname = $1 AND application_name = 'keyprov' AND state IN ('active', 'idle in transaction')
)
SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM victims`

// assertNoTokens checks a sample of the specs' tokens against the output.
func assertNoTokens(t *testing.T, r result, specs ...*generatedSpec) {
	t.Helper()
	out := r.stdout + r.stderr
	for _, g := range specs {
		for i := 0; i < min(50, g.opts.Keys); i++ {
			tok := g.token(i)
			if strings.Contains(out, tok) || strings.Contains(out, tok[4:]) {
				t.Errorf("the output holds the token of %s", g.address(i))
			}
		}
	}
}
