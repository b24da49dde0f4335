package store_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/internal/testutil"
	"github.com/keyprov/keyprov/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t *testing.T, cfg store.Config) *store.DB {
	t.Helper()
	if cfg.Wait == 0 {
		cfg.Wait = 10 * time.Second
	}
	db, err := store.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close(context.Background()) })
	return db
}

// openMigrated opens the database at url and migrates keyprov's schema.
func openMigrated(t *testing.T, url string) *store.DB {
	t.Helper()
	db := open(t, store.Config{URL: url})
	_, err := db.Migrate(context.Background())
	require.NoError(t, err)
	return db
}

func queryStrings(t *testing.T, conn *pgx.Conn, sql string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql, args...)
	require.NoError(t, err, sql)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err, sql)
	return out
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	db := open(t, store.Config{URL: u})

	v, err := db.Version(ctx)
	require.NoError(t, err)
	assert.Zero(t, v, "no schema yet")
	assert.ErrorIs(t, db.CheckVersion(ctx), store.ErrSchemaMissing)

	n, err := db.Migrate(ctx)
	require.NoError(t, err)
	assert.Equal(t, int(store.SchemaVersion), n)
	n, err = db.Migrate(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "a second migration has nothing to do")

	v, err = db.Version(ctx)
	require.NoError(t, err)
	assert.Equal(t, store.SchemaVersion, v)
	assert.NoError(t, db.CheckVersion(ctx))

	conn := pgtest.Connect(t, u)
	assert.Equal(t, []string{fmt.Sprint(store.SchemaVersion)}, queryStrings(t, conn, "SELECT version::text FROM keyprov.schema_version"),
		"the version table has one row")
	assert.Equal(t, []string{"changes", "events", "inputs", "keys", "owners", "schema_version", "tokens"},
		queryStrings(t, conn, "SELECT tablename::text FROM pg_tables WHERE schemaname = 'keyprov' ORDER BY 1"))
	assert.Equal(t, []string{"keyprov"}, queryStrings(t, conn,
		"SELECT DISTINCT schemaname::text FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"),
		"keyprov creates nothing outside its schema")
}

// TestMigrateEventsToJSON upgrades a store written at version 1, when
// events.changes was jsonb: the events keep their content, and history
// renders them as before.
func TestMigrateEventsToJSON(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	db := open(t, store.Config{URL: u})
	n, err := db.MigrateTo(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, 1, n)

	conn := pgtest.Connect(t, u)
	const doc = `{"token": {"new": "wat_…9fQx"}, "metadata": {"new": {"team": "web"}}, "permissions": {"new": [{"name": "cms.read"}]}}`
	_, err = conn.Exec(ctx, `INSERT INTO keyprov.events (run_id, key_id, tenant, slug, action, changes, owner)
VALUES (gen_random_uuid(), 1, 'acme', 'site', 'created', $1::jsonb, 'platform'),
	(gen_random_uuid(), 1, 'acme', 'site', 'moved', DEFAULT, 'platform')`, doc)
	require.NoError(t, err)

	n, err = db.Migrate(ctx)
	require.NoError(t, err)
	assert.Equal(t, int(store.SchemaVersion)-1, n)
	assert.Equal(t, []string{"json"}, queryStrings(t, conn,
		"SELECT data_type::text FROM information_schema.columns WHERE table_schema = 'keyprov' AND table_name = 'events' AND column_name = 'changes'"))

	var got []string
	require.NoError(t, db.History(ctx, store.HistoryFilter{Tenant: "acme", Slug: "site"}, func(e *store.EventRow) error {
		got = append(got, e.Action+" "+string(e.Changes))
		return nil
	}))
	assert.Equal(t, []string{"moved {}", "created " + doc}, got, "jsonb's text of the documents, as before the migration")

	// A document written after the migration is stored as written.
	_, err = conn.Exec(ctx, `INSERT INTO keyprov.events (run_id, key_id, tenant, slug, action, changes, owner)
VALUES (gen_random_uuid(), 1, 'acme', 'site', 'updated', '{"name":{"old":"a","new":"b"}}', 'platform')`)
	require.NoError(t, err)
	assert.Equal(t, []string{`{"name":{"old":"a","new":"b"}}`}, queryStrings(t, conn, "SELECT changes::text FROM keyprov.events WHERE action = 'updated'"))
	_, err = conn.Exec(ctx, `INSERT INTO keyprov.events (run_id, tenant, slug, action, changes, owner)
VALUES (gen_random_uuid(), 'acme', 'site', 'updated', '{"name":', 'platform')`)
	require.Error(t, err, "the column still only takes JSON")
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	const n = 8
	dbs := make([]*store.DB, n)
	for i := range dbs {
		dbs[i] = open(t, store.Config{URL: u})
	}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		ran   atomic.Int64
		errs  = make([]error, n)
	)
	for i, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			m, err := db.Migrate(ctx)
			ran.Add(int64(m))
			errs[i] = err
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "connection %d", i)
	}
	assert.Equal(t, int64(store.SchemaVersion), ran.Load(), "the migrations ran once in all")
	conn := pgtest.Connect(t, u)
	assert.Equal(t, []string{fmt.Sprint(store.SchemaVersion)}, queryStrings(t, conn, "SELECT version::text FROM keyprov.schema_version"))
}

func TestMigrateTooNew(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	db := openMigrated(t, u)
	_, err := db.Conn().Exec(ctx, "UPDATE keyprov.schema_version SET version = version + 1")
	require.NoError(t, err)

	assert.ErrorIs(t, db.CheckVersion(ctx), store.ErrSchemaTooNew)
	_, err = db.Migrate(ctx)
	require.ErrorIs(t, err, store.ErrSchemaTooNew)
	assert.Contains(t, err.Error(), "upgrade keyprov")
}

func TestMigrateOtherSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	a := open(t, store.Config{URL: u, Schema: "team_a"})
	b := open(t, store.Config{URL: u, Schema: "team_b"})
	for _, db := range []*store.DB{a, b} {
		n, err := db.Migrate(ctx)
		require.NoError(t, err)
		assert.Equal(t, int(store.SchemaVersion), n, db.Schema())
	}
	conn := pgtest.Connect(t, u)
	assert.Equal(t, []string{"team_a", "team_b"}, queryStrings(t, conn,
		"SELECT DISTINCT schemaname::text FROM pg_tables WHERE tablename = 'keys' ORDER BY 1"))

	// Each schema has its own lock: a transaction on one does not block the other.
	err := a.Update(ctx, func(*store.Tx) error {
		return b.Update(ctx, func(*store.Tx) error { return nil })
	})
	assert.NoError(t, err)
}

func TestOpenInvalidConfig(t *testing.T) {
	t.Parallel()
	u := pgtest.NewDatabase(t)
	tests := map[string]struct {
		cfg  store.Config
		want string
	}{
		"schema with a capital": {store.Config{URL: u, Schema: "Keys"}, `invalid schema name "Keys"`},
		"schema with a quote":   {store.Config{URL: u, Schema: `k"; DROP`}, "invalid schema name"},
		"schema with a dash":    {store.Config{URL: u, Schema: "a-b"}, "invalid schema name"},
		"schema too long":       {store.Config{URL: u, Schema: strings.Repeat("k", 64)}, "invalid schema name"},
		"query mode":            {store.Config{URL: u, QueryMode: "prepared"}, `invalid query mode "prepared"`},
		"url":                   {store.Config{URL: "postgres://bob:Sup3rSecretPw@localhost:99999999/db"}, "invalid database URL"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := store.Open(context.Background(), tc.cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.False(t, errors.Is(err, store.ErrUnavailable), "a configuration error is not an unavailable store")
			assert.NotContains(t, err.Error(), "Sup3rSecretPw")
		})
	}
}

func TestParseURLHidesPassword(t *testing.T) {
	const pw = "Sup3rSecretPw"
	for _, u := range []string{
		"postgres://bob:" + pw + "@localhost:99999999/db",
		"postgres://bob:" + pw + "%zz@localhost/db",
		"postgres://bob:" + pw + "@local host/db",
		"postgres://bob:" + pw + "@localhost/db?sslmode=bogus",
		"postgres://bob:" + pw + "@localhost/db?connect_timeout=abc",
		"postgres://bob:" + pw + "@[::1/db",
		"postgres://bob:" + pw + "@localhost:5432:77/db",
		"mysql://bob:" + pw + "@localhost/db",
		"host=localhost password=" + pw + " port=abc",
		"host=localhost password='" + pw + " port=5432",
	} {
		_, err := store.ParseURL(u)
		if assert.Error(t, err, u) {
			assert.Contains(t, err.Error(), "invalid database URL")
			assert.NotContains(t, err.Error(), pw, u)
		}
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	port := testutil.ClosedPort(t)
	attempts := 0
	_, err := store.Open(context.Background(), store.Config{
		URL:  fmt.Sprintf("postgres://keyprov:Sup3rSecretPw@127.0.0.1:%d/keys?sslmode=disable", port),
		Wait: 700 * time.Millisecond, ConnectTimeout: time.Second,
		OnAttempt: func(int, time.Duration) { attempts++ },
	})
	require.ErrorIs(t, err, store.ErrUnavailable)
	assert.Greater(t, attempts, 1, "retried during the wait")
	msg := err.Error()
	assert.Contains(t, msg, fmt.Sprintf("keyprov@127.0.0.1:%d/keys not reachable after %d attempts", port, attempts))
	assert.Contains(t, msg, "KEYPROV_WAIT=700ms")
	assert.NotContains(t, msg, "Sup3rSecretPw")
}

func TestOpenWrongPasswordFailsFast(t *testing.T) {
	t.Parallel()
	u := pgtest.NewDatabase(t)
	p, err := url.Parse(u)
	require.NoError(t, err)
	const wrong = "Wr0ngPassw0rdX"
	p.User = url.UserPassword(p.User.Username(), wrong)
	attempts := 0
	_, err = store.Open(context.Background(), store.Config{URL: p.String(), Wait: time.Minute,
		OnAttempt: func(int, time.Duration) { attempts++ }})
	require.ErrorIs(t, err, store.ErrRejected)
	assert.Equal(t, 1, attempts, "an authentication failure is not retried")
	assert.Contains(t, err.Error(), "password authentication failed")
	assert.Contains(t, err.Error(), p.User.Username()+"@"+p.Host)
	assert.NotContains(t, err.Error(), wrong)
}

func TestOpenStopsWaitingWhenCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	_, err := store.Open(ctx, store.Config{
		URL:  fmt.Sprintf("postgres://keyprov@127.0.0.1:%d/keys?sslmode=disable", testutil.ClosedPort(t)),
		Wait: time.Hour,
		OnAttempt: func(attempt int, _ time.Duration) {
			if attempt == 2 {
				cancel()
			}
		},
	})
	require.ErrorIs(t, err, store.ErrUnavailable)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "interrupted")
}

func TestLockTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	holder := open(t, store.Config{URL: u})
	waiter := open(t, store.Config{URL: u, LockTimeout: 200 * time.Millisecond})

	locked, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- holder.Update(ctx, func(*store.Tx) error {
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	err := waiter.Update(ctx, func(*store.Tx) error {
		t.Error("ran without the lock")
		return nil
	})
	require.ErrorIs(t, err, store.ErrLockTimeout)
	assert.True(t, store.IsLockTimeout(err))
	assert.Contains(t, err.Error(), "KEYPROV_LOCK_TIMEOUT")
	close(release)
	require.NoError(t, <-done)

	// Released at commit: the next transaction gets it.
	assert.NoError(t, waiter.Update(ctx, func(*store.Tx) error { return nil }))
}

func TestLockReleasedWhenTheSessionDies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	holder := open(t, store.Config{URL: u})
	waiter := open(t, store.Config{URL: u, LockTimeout: 10 * time.Second})
	var pid uint32
	locked, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- holder.Update(ctx, func(*store.Tx) error {
			pid = holder.Conn().PgConn().PID()
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	// Kill the holder's backend, as a crashed keyprov would leave it.
	admin := pgtest.Connect(t, u)
	_, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1)", pid)
	require.NoError(t, err)
	assert.NoError(t, waiter.Update(ctx, func(*store.Tx) error { return nil }))
	close(release)
	assert.Error(t, <-done, "the killed transaction did not commit")
}
