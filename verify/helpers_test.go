package verify_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Test tokens: random base62 bodies that pass the token rules.
const (
	tokFrontend = "wat_hxv3CP6YzO9wEqO4nv6tQOW9smVeqHZS"
	tokWebsite  = "wat_5U2atTF2m4NwfDGTeOlRSLT07WtRk4TX"
	tokWebsite2 = "wat_zxnYfxZ7d9kP2FKDrwk0WVpVyJHBYVtM"
	tokExpired  = "wat_mueNQafTVRqnjnUK5WyRBmH2WYyDy6Er"
	tokRevoked  = "wat_Iz6ybIRQZN8izjsCubGBJsYJuFCm0tw0"
	tokRotated1 = "wat_xVUdsfF15esH1PknZX85hzFTPD04B5SO"
	tokRotated2 = "wat_qPxwWVBXuv2PImzrrVQbi5oDYCnUo9Hv"
	tokUnknown  = "wat_ZHkpWtIQ0dFPr6x9q5flPCN33bQ0HmN9"
	tokExtra1   = "wat_uPULTOfNJLoeZwQvKkFqGqp3w8ZJVaAY"
	tokExtra2   = "wat_PTXiFSCeEE9wuybQr7xlzNQsCqqetV9g"
)

// allTokens are scanned for in every error message.
var allTokens = []string{tokFrontend, tokWebsite, tokWebsite2, tokExpired, tokRevoked, tokRotated1, tokRotated2, tokUnknown, tokExtra1, tokExtra2}

// env maps the variables the test specs read to the test tokens.
var env = map[string]string{
	"FRONTEND": tokFrontend, "WEBSITE": tokWebsite, "WEBSITE2": tokWebsite2, "EXPIRED": tokExpired,
	"REVOKED": tokRevoked, "ROTATED1": tokRotated1, "ROTATED2": tokRotated2,
	"EXTRA1": tokExtra1, "EXTRA2": tokExtra2,
}

// fixture is a fresh database with keyprov's schema, a pool whose queries
// are counted, and a way to apply specs.
type fixture struct {
	t       testing.TB
	url     string
	db      *store.DB
	pool    *pgxpool.Pool
	queries *queryCounter
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	u := pgtest.NewDatabase(t)
	ctx := context.Background()
	db, err := store.Open(ctx, store.Config{URL: u, Wait: 10 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close(context.Background()) })
	cfg, err := pgxpool.ParseConfig(u)
	require.NoError(t, err)
	qc := &queryCounter{}
	cfg.ConnConfig.Tracer = qc
	cfg.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return &fixture{t: t, url: u, db: db, pool: pool, queries: qc}
}

// apply evaluates src with the test tokens and applies it.
func (f *fixture) apply(src string) *reconcile.Plan {
	f.t.Helper()
	return f.applyTo(f.db, src)
}

// applyTo is apply to another store (another schema).
func (f *fixture) applyTo(db *store.DB, src string) *reconcile.Plan {
	f.t.Helper()
	s, diags := spec.Evaluate([]spec.Source{{Name: "keys.hcl", Dir: ".", Bytes: []byte(src)}}, spec.Options{
		Secrets: true,
		LookupEnv: func(name string) (string, bool) {
			v, ok := env[name]
			return v, ok
		},
	})
	require.False(f.t, diags.HasErrors(), "spec: %s", diags.Error())
	res, err := reconcile.Run(context.Background(), db, s, reconcile.RunOptions{
		Meta: reconcile.Meta{RunID: "6f1c2a4e-0b7d-4c8e-9a51-3d2f7e8b9c10", Actor: "verify test"},
	})
	require.NoError(f.t, err)
	require.True(f.t, res.Applied)
	return res.Plan
}

// exec runs a statement on the fixture's database, outside the counted pool.
func (f *fixture) exec(sql string, args ...any) {
	f.t.Helper()
	_, err := f.db.Conn().Exec(context.Background(), sql, args...)
	require.NoError(f.t, err)
}

// queryCounter counts the queries made through the pool: the lookups of
// tokens (keyprov.verify_token), and all of them (a Verifier also polls
// the change counter in the background).
type queryCounter struct{ lookups, uses, all atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	q.all.Add(1)
	if strings.Contains(d.SQL, ".verify_token(") {
		q.lookups.Add(1)
	}
	if strings.Contains(d.SQL, ".record_use(") {
		q.uses.Add(1)
	}
	return ctx
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Load returns the number of token lookups.
func (q *queryCounter) Load() int64 { return q.lookups.Load() }

// Uses returns the number of last_used_at writes (keyprov.record_use).
func (q *queryCounter) Uses() int64 { return q.uses.Load() }

// All returns the number of queries of any kind.
func (q *queryCounter) All() int64 { return q.all.Load() }

// clock is a settable clock for WithClock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(t time.Time) *clock { return &clock{now: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// rfc formats t for a spec.
func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// assertNoToken fails when s contains a test token.
func assertNoToken(t testing.TB, s string) {
	t.Helper()
	for _, tok := range allTokens {
		assert.False(t, strings.Contains(s, tok), "output contains test token %s…: %s", tok[:8], s)
	}
}
