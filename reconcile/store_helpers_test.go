package reconcile_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testStore is a keyprov store in a database of its own, and a second
// connection for checks and for changes made by hand.
type testStore struct {
	url string
	db  *store.DB
	sql *pgx.Conn
}

func newTestStore(t *testing.T) *testStore {
	t.Helper()
	return newTestStoreWith(t, store.Config{})
}

// newTestStoreWith is newTestStore with cfg's options (URL, Wait and
// LockTimeout are set here).
func newTestStoreWith(t *testing.T, cfg store.Config) *testStore {
	t.Helper()
	u := pgtest.NewDatabase(t)
	ctx := context.Background()
	cfg.URL, cfg.Wait, cfg.LockTimeout = u, 10*time.Second, 10*time.Second
	db, err := store.Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close(context.Background()) })
	conn := pgtest.Connect(t, u)
	_, err = conn.Exec(ctx, "SET TimeZone = 'UTC'")
	require.NoError(t, err)
	return &testStore{url: u, db: db, sql: conn}
}

// apply runs an apply and requires it to succeed.
func (ts *testStore) apply(t *testing.T, s *spec.Spec, opts reconcile.Options) (*reconcile.Result, string) {
	t.Helper()
	ts.checkElidedLoad(t, s, opts)
	runID := reconcile.NewRunID()
	res, err := reconcile.Run(context.Background(), ts.db, s, reconcile.RunOptions{Options: opts, Meta: reconcile.Meta{RunID: runID, Actor: "tester"}})
	require.NoError(t, err)
	require.True(t, res.Applied)
	return res, runID
}

// plan runs a plan (nothing written).
func (ts *testStore) plan(t *testing.T, s *spec.Spec, opts reconcile.Options) *reconcile.Plan {
	t.Helper()
	ts.checkElidedLoad(t, s, opts)
	res, err := reconcile.Run(context.Background(), ts.db, s, reconcile.RunOptions{Options: opts, DryRun: true})
	require.NoError(t, err)
	require.False(t, res.Applied)
	return res.Plan
}

// checkElidedLoad requires that the plan from what Run loads (keys whose
// content digest matches the spec's row are not read) is the plan from
// every key read in full, in one snapshot of the store. Every apply and
// plan of these tests checks it first, on whatever the test made of the
// store: changes by hand, revocations, adoptions, moves.
func (ts *testStore) checkElidedLoad(t *testing.T, s *spec.Spec, opts reconcile.Options) {
	t.Helper()
	ctx := context.Background()
	if v, err := ts.db.Version(ctx); err != nil || v != store.SchemaVersion {
		return // the first apply creates the schema
	}
	require.NoError(t, ts.db.View(ctx, func(tx *store.Tx) error {
		full, err := tx.Load(ctx)
		require.NoError(t, err)
		fullKnown, err := tx.LookupDigests(ctx, reconcile.CandidateDigests(s, full))
		require.NoError(t, err)
		elided, known, read, err := reconcile.LoadForDiff(ctx, tx, s)
		require.NoError(t, err)
		require.LessOrEqual(t, read, len(full.Keys))
		byAddress := map[string]*store.Key{}
		for _, k := range full.Keys {
			byAddress[k.Tenant+"/"+k.Slug] = k
		}
		for _, k := range elided.Keys {
			require.Equal(t, byAddress[k.Tenant+"/"+k.Slug], k, "%s/%s: every key as a full load reads it", k.Tenant, k.Slug)
		}
		require.Equal(t, reconcile.Diff(s, full, fullKnown, opts), reconcile.Diff(s, elided, known, opts),
			"the plan from the elided load (%d keys read) is the plan from the full one", read)
		return nil
	}))
}

// exec runs SQL on the checking connection.
func (ts *testStore) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	_, err := ts.sql.Exec(context.Background(), sql, args...)
	require.NoError(t, err, sql)
}

// strings returns the first column of every row of a query.
func (ts *testStore) strings(t *testing.T, sql string, args ...any) []string {
	t.Helper()
	rows, err := ts.sql.Query(context.Background(), sql, args...)
	require.NoError(t, err, sql)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err, sql)
	return out
}

// keyRow is a row of keyprov.keys.
type keyRow struct {
	ID            int64
	Tenant, Slug  string
	Universal     bool
	Name          string
	Description   string
	Permissions   string
	Metadata      string
	ExpiresAt     *time.Time
	Owner         string
	RevokedAt     *time.Time
	RevokedReason *string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (ts *testStore) keys(t *testing.T) []keyRow {
	t.Helper()
	rows, err := ts.sql.Query(context.Background(), `SELECT id, tenant, slug, universal, name, description,
	permissions::text AS permissions, metadata::text AS metadata, expires_at, owner, revoked_at, revoked_reason, created_at, updated_at
FROM keyprov.keys ORDER BY tenant, slug`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[keyRow])
	require.NoError(t, err)
	for i := range out {
		k := &out[i]
		k.ExpiresAt, k.RevokedAt = utc(k.ExpiresAt), utc(k.RevokedAt)
		k.CreatedAt, k.UpdatedAt = k.CreatedAt.UTC(), k.UpdatedAt.UTC()
	}
	return out
}

// tokenRow is a row of keyprov.tokens.
type tokenRow struct {
	KeyID         int64
	Digest        []byte
	Scheme        string
	Hint          string
	State         string
	ValidUntil    *time.Time
	CreatedAt     time.Time
	RetiredAt     *time.Time
	RetiredReason *string
}

func (ts *testStore) tokens(t *testing.T) []tokenRow {
	t.Helper()
	rows, err := ts.sql.Query(context.Background(), `SELECT key_id, digest, scheme, hint, state, valid_until, created_at, retired_at, retired_reason
FROM keyprov.tokens ORDER BY created_at, key_id, state DESC`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[tokenRow])
	require.NoError(t, err)
	for i := range out {
		tok := &out[i]
		tok.ValidUntil, tok.RetiredAt, tok.CreatedAt = utc(tok.ValidUntil), utc(tok.RetiredAt), tok.CreatedAt.UTC()
	}
	return out
}

// eventRow is a row of keyprov.events.
type eventRow struct {
	ID      int64
	At      time.Time
	RunID   string
	KeyID   *int64
	Tenant  string
	Slug    string
	Action  string
	Changes string
	Owner   string
	Actor   string
	Reason  *string
}

func (ts *testStore) events(t *testing.T) []eventRow {
	t.Helper()
	rows, err := ts.sql.Query(context.Background(), `SELECT id, at, run_id::text, key_id, tenant, slug, action, changes::jsonb::text, owner, actor, reason
FROM keyprov.events ORDER BY id`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[eventRow])
	require.NoError(t, err)
	for i := range out {
		out[i].At = out[i].At.UTC()
	}
	return out
}

// utc returns t in UTC, so that rows compare with assert.Equal.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// rowVersions identifies the stored version of every row of keyprov's
// tables: an UPDATE gives a row a new xmin and ctid, an INSERT or DELETE
// adds or removes an entry.
func (ts *testStore) rowVersions(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, table := range []string{"keys", "tokens", "events", "schema_version"} {
		out = append(out, ts.strings(t, fmt.Sprintf(`SELECT '%s ' || ctid::text || ' ' || xmin::text FROM keyprov.%s`, table, table))...)
	}
	sort.Strings(out)
	return out
}

// tupleWrites returns n_tup_ins + n_tup_upd + n_tup_del of each of
// keyprov's tables, as PostgreSQL's statistics count them, including the
// writes of the store's own connection: its pending statistics are flushed
// first.
func (ts *testStore) tupleWrites(t *testing.T) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	conn := ts.db.Conn()
	// The flush happens when the session goes idle after this statement,
	// that is before the next one on the same connection.
	_, err := conn.Exec(ctx, "SELECT pg_stat_force_next_flush()")
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "SELECT pg_stat_clear_snapshot()")
	require.NoError(t, err)
	rows, err := conn.Query(ctx, `SELECT relname::text, n_tup_ins + n_tup_upd + n_tup_del
FROM pg_stat_user_tables WHERE schemaname = 'keyprov'`)
	require.NoError(t, err)
	out := map[string]int64{}
	for rows.Next() {
		var (
			name string
			n    int64
		)
		require.NoError(t, rows.Scan(&name, &n))
		out[name] = n
	}
	require.NoError(t, rows.Err())
	return out
}
