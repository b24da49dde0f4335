package faults

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
)

// dbName is the database of a URL.
func dbName(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	require.NoError(t, err)
	return strings.TrimPrefix(p.Path, "/")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// connect opens a connection for the test's checks, closed when it ends.
func connect(t *testing.T, u string) *pgx.Conn {
	t.Helper()
	return pgtest.Connect(t, u)
}

// cloneDatabase creates a copy of the database at u (which nobody may be
// connected to) on the server of admin. drop drops it; it is dropped when
// the test ends at the latest.
func cloneDatabase(t *testing.T, admin, u string) (clone string, drop func()) {
	t.Helper()
	ctx := context.Background()
	name := "t_faults_clone_" + randomHex(6)
	conn, err := pgx.Connect(ctx, admin)
	require.NoError(t, err)
	defer conn.Close(ctx)
	src := pgx.Identifier{dbName(t, u)}.Sanitize()
	// CREATE DATABASE waits a few seconds for sessions on the template to
	// end; the session of a process that just exited may still be there.
	require.Eventually(t, func() bool {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE "+src+" STRATEGY FILE_COPY")
		return err == nil
	}, time.Minute, 100*time.Millisecond, "copying database %s", src)
	var once sync.Once
	drop = func() { once.Do(func() { dropDatabase(t, admin, name) }) }
	t.Cleanup(drop)
	return pgtest.WithDatabase(u, name), drop
}

func dropDatabase(t *testing.T, admin, name string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Errorf("dropping %s: %v", name, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Errorf("dropping %s: %v", name, err)
	}
}

// snapshot is the full content of a store, in a form two stores can be
// compared in: one line per key with its managed columns and all its tokens
// (digest, hint, state, cutoff, retirement), and the number of events of
// each run. Ids and the times the database stamps are left out.
type snapshot struct {
	Keys   map[string]string
	Events map[string]int
}

func (s snapshot) events() int {
	n := 0
	for _, c := range s.Events {
		n += c
	}
	return n
}

// takeSnapshot reads the store of database u (empty when no apply ran).
func takeSnapshot(t *testing.T, u string) snapshot {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	defer conn.Close(ctx)
	s := snapshot{Keys: map[string]string{}, Events: map[string]int{}}
	var exists bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'keyprov' AND c.relname = 'events')`).Scan(&exists))
	if !exists {
		return s
	}
	_, err = conn.Exec(ctx, "SET TimeZone = 'UTC'")
	require.NoError(t, err)
	rows, err := conn.Query(ctx, `SELECT k.tenant || '/' || k.slug,
	concat_ws(' | ', k.universal, k.name, k.description, k.permissions::text, k.metadata::text,
		coalesce(k.expires_at::text, '-'), k.owner, coalesce(k.revoked_at::text, '-'), coalesce(k.revoked_reason, '-'),
		coalesce(string_agg(concat_ws(':', encode(t.digest, 'hex'), t.hint, t.state, coalesce(t.valid_until::text, '-'),
			t.retired_at IS NOT NULL, coalesce(t.retired_reason, '-')), ' ' ORDER BY t.digest), 'no tokens'))
FROM keyprov.keys k LEFT JOIN keyprov.tokens t ON t.key_id = k.id
GROUP BY k.id`)
	require.NoError(t, err)
	for rows.Next() {
		var addr, line string
		require.NoError(t, rows.Scan(&addr, &line))
		s.Keys[addr] = line
	}
	require.NoError(t, rows.Err())
	rows, err = conn.Query(ctx, "SELECT run_id::text, count(*) FROM keyprov.events GROUP BY 1")
	require.NoError(t, err)
	for rows.Next() {
		var run string
		var n int
		require.NoError(t, rows.Scan(&run, &n))
		s.Events[run] = n
	}
	require.NoError(t, rows.Err())
	return s
}

// keysDiff describes how the keys of two snapshots differ (at most a few
// lines), or returns "" when they are equal.
func keysDiff(got, want snapshot) string {
	var lines []string
	n := 0
	for addr, w := range want.Keys {
		g, ok := got.Keys[addr]
		switch {
		case !ok:
			n++
			if len(lines) < 3 {
				lines = append(lines, "missing "+addr)
			}
		case g != w:
			n++
			if len(lines) < 3 {
				lines = append(lines, fmt.Sprintf("%s:\n    got  %s\n    want %s", addr, g, w))
			}
		}
	}
	for addr := range got.Keys {
		if _, ok := want.Keys[addr]; !ok {
			n++
			if len(lines) < 3 {
				lines = append(lines, "unexpected "+addr)
			}
		}
	}
	if n == 0 {
		return ""
	}
	sort.Strings(lines)
	return fmt.Sprintf("%d keys differ (%d stored, %d expected), e.g.\n  %s", n, len(got.Keys), len(want.Keys), strings.Join(lines, "\n  "))
}

// outcome says which of two states a store is in after a fault: "old"
// (before the apply: exactly old, events included) or "new" (exactly the
// keys of new, old's runs plus one run with as many events as new's last
// run), or "" with a description of the mix.
func outcome(got, old, new snapshot, newRunEvents int) (string, string) {
	if keysDiff(got, old) == "" && equalCounts(got.Events, old.Events) {
		return "old", ""
	}
	d := keysDiff(got, new)
	if d != "" {
		return "", "the store is neither the old spec nor the new one: against the new one, " + d
	}
	extra := map[string]int{}
	for run, n := range got.Events {
		if m, ok := old.Events[run]; ok {
			if m != n {
				return "", fmt.Sprintf("run %s has %d events, had %d", run, n, m)
			}
			continue
		}
		extra[run] = n
	}
	if len(extra) != 1 || len(got.Events) != len(old.Events)+1 {
		return "", fmt.Sprintf("the keys are the new spec's but the events are not one new run: %v (before: %v)", got.Events, old.Events)
	}
	for _, n := range extra {
		if n != newRunEvents {
			return "", fmt.Sprintf("the new run recorded %d events, an apply of the new spec records %d", n, newRunEvents)
		}
	}
	return "new", ""
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// advisoryLocks counts the advisory locks held or awaited in database db.
func advisoryLocks(t *testing.T, admin, db string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
WHERE l.locktype = 'advisory' AND d.datname = $1`, db).Scan(&n))
	return n
}

// assertNoLockLeft checks that no advisory lock remains in db once the
// sessions of exited processes are gone (the server notices a closed
// connection shortly after the process exits).
func assertNoLockLeft(t *testing.T, admin, db string) {
	t.Helper()
	assert.Eventually(t, func() bool { return advisoryLocks(t, admin, db) == 0 }, 30*time.Second, 50*time.Millisecond,
		"an advisory lock is left in %s", db)
}

// waitBackend waits until a keyprov session of db is inside its locked
// transaction: holding keyprov's advisory lock when waitEvent is empty, or
// waiting for that (a lock of kind "relation" or "advisory", or "SyncRep"
// for a COMMIT waiting for a synchronous standby). It fails if p ends first.
func waitBackend(t *testing.T, p *proc, admin, db, waitEvent string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	require.NoError(t, err)
	defer conn.Close(ctx)
	for {
		var n int
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity a
WHERE a.datname = $1 AND a.application_name = 'keyprov' AND a.xact_start IS NOT NULL
  AND CASE WHEN $2 = '' THEN EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted)
           ELSE a.wait_event = $2 END`, db, waitEvent).Scan(&n))
		if n > 0 {
			return
		}
		if p.exited() {
			r := p.wait(t)
			t.Fatalf("keyprov ended (exit %d) before its session was seen in its transaction (waiting for %q); stderr:\n%s", r.code, waitEvent, tail(r.stderr, 3000))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stall takes an exclusive lock on keyprov.events in a transaction of its
// own, so that an apply stops in the middle of its writes (keys and tokens
// written, events waiting) until release is called.
func stall(t *testing.T, u string) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE keyprov.events IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)
	var once sync.Once
	release = func() {
		once.Do(func() {
			_ = tx.Rollback(ctx)
			_ = conn.Close(ctx)
		})
	}
	t.Cleanup(release)
	return release
}

// newDatabaseOn creates an empty database on the server of admin, dropped
// when the test ends (if the server is up then).
func newDatabaseOn(t *testing.T, admin string) string {
	t.Helper()
	u, drop, err := pgtest.CreateDatabase(admin, t.Name())
	require.NoError(t, err)
	t.Cleanup(func() { _ = drop() })
	return u
}
