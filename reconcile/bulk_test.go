package reconcile_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/token"
)

// statementCounter is a TCP proxy in front of PostgreSQL that counts the
// statements clients send: simple Query and Parse messages of the
// PostgreSQL wire protocol.
type statementCounter struct {
	ln     net.Listener
	target string
	n      atomic.Int64
	wg     sync.WaitGroup
}

func newStatementCounter(t *testing.T, target string) *statementCounter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c := &statementCounter{ln: ln, target: target}
	c.wg.Add(1)
	go c.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		c.wg.Wait()
	})
	return c
}

func (c *statementCounter) serve() {
	defer c.wg.Done()
	for {
		client, err := c.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", c.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		c.wg.Add(2)
		go func() {
			defer c.wg.Done()
			_, _ = io.Copy(client, server)
			_ = client.Close()
		}()
		go func() {
			defer c.wg.Done()
			c.relay(client, server)
			_ = server.Close()
		}()
	}
}

// relay forwards the client's messages, counting Query ('Q') and Parse ('P').
func (c *statementCounter) relay(client io.Reader, server io.Writer) {
	var head [5]byte
	// The startup message has a length and no type byte.
	if _, err := io.ReadFull(client, head[:4]); err != nil {
		return
	}
	n := binary.BigEndian.Uint32(head[:4])
	if _, err := server.Write(head[:4]); err != nil {
		return
	}
	if _, err := io.CopyN(server, client, int64(n)-4); err != nil {
		return
	}
	for {
		if _, err := io.ReadFull(client, head[:]); err != nil {
			return
		}
		if head[0] == 'Q' || head[0] == 'P' {
			c.n.Add(1)
		}
		if _, err := server.Write(head[:]); err != nil {
			return
		}
		if _, err := io.CopyN(server, client, int64(binary.BigEndian.Uint32(head[1:]))-4); err != nil {
			return
		}
	}
}

// URL returns u pointing at the proxy, without TLS so that the proxy can read.
func (c *statementCounter) URL(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	require.NoError(t, err)
	p.Host = c.ln.Addr().String()
	q := p.Query()
	q.Set("sslmode", "disable")
	p.RawQuery = q.Encode()
	return p.String()
}

// bulkSpec declares n keys over a few tenants; name and the token variant
// change between calls.
func bulkSpec(t *testing.T, n int, name string, tokens []string) *spec.Spec {
	t.Helper()
	var src strings.Builder
	src.WriteString("settings {\n  owner = \"platform\"\n}\n")
	env := map[string]string{}
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("TOKEN_%d", i)
		env[v] = tokens[i]
		fmt.Fprintf(&src, "tenant_key \"key-%d\" {\n  tenant = \"tenant-%d\"\n  name = \"%s %d\"\n  token = env(%q)\n  permissions = [\"cms.read\"]\n}\n", i, i%7, name, i, v)
	}
	s, diags := spec.Evaluate([]spec.Source{{Name: "keys.hcl", Dir: ".", Bytes: []byte(src.String())}},
		spec.Options{Secrets: true, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	require.False(t, diags.HasErrors(), "%v", diags)
	return s
}

func generateTokens(t *testing.T, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		s, err := token.Generate(token.DefaultPrefix)
		require.NoError(t, err)
		out[i] = s.Reveal()
	}
	return out
}

// TestRunWritesInBulk counts the statements an apply sends: creating,
// updating or rotating 3 keys or 400 keys takes the same number of
// statements, so nothing is done per key.
func TestRunWritesInBulk(t *testing.T) {
	t.Parallel()
	type counts struct{ create, update, rotate, noop int64 }
	measure := func(t *testing.T, n int) counts {
		u := pgtest.NewDatabase(t)
		p, err := url.Parse(u)
		require.NoError(t, err)
		proxy := newStatementCounter(t, p.Host)
		ctx := context.Background()
		db, err := store.Open(ctx, store.Config{URL: proxy.URL(t, u), Wait: 10 * time.Second})
		require.NoError(t, err)
		defer db.Close(ctx)
		_, err = db.Migrate(ctx)
		require.NoError(t, err)

		first, second := generateTokens(t, n), generateTokens(t, n)
		run := func(s *spec.Spec, want reconcile.Summary) int64 {
			before := proxy.n.Load()
			res, err := reconcile.Run(ctx, db, s, reconcile.RunOptions{Meta: reconcile.Meta{RunID: reconcile.NewRunID(), Actor: "tester"}})
			require.NoError(t, err)
			require.Equal(t, want, res.Plan.Summary())
			return proxy.n.Load() - before
		}
		return counts{
			create: run(bulkSpec(t, n, "Key", first), reconcile.Summary{Created: n}),
			update: run(bulkSpec(t, n, "Renamed", first), reconcile.Summary{Updated: n}),
			rotate: run(bulkSpec(t, n, "Renamed", second), reconcile.Summary{Rotated: n}),
			noop:   run(bulkSpec(t, n, "Renamed", second), reconcile.Summary{Unchanged: n}),
		}
	}
	small, large := measure(t, 3), measure(t, 400)
	t.Logf("statements per apply: %+v", small)
	assert.Equal(t, small, large, "the number of statements does not grow with the number of keys")
	assert.LessOrEqual(t, small.create, int64(20), "a create is a handful of statements")
	assert.LessOrEqual(t, small.noop, small.create, "a no-op sends no more than a write")
}

// TestInitialApplyBuildsIndexesAfterTheRows runs the first apply of a spec
// larger than the bulk-load threshold: the store builds the indexes of its
// empty tables after the rows, and everything after reads and writes it
// like any other store.
func TestInitialApplyBuildsIndexesAfterTheRows(t *testing.T) {
	t.Parallel()
	const n = 40
	ts := newTestStoreWith(t, store.Config{BulkLoadAbove: 10})
	first, second := generateTokens(t, n), generateTokens(t, n)

	res, _ := ts.apply(t, bulkSpec(t, n, "Key", first), reconcile.Options{})
	assert.Equal(t, reconcile.Summary{Created: n}, res.Plan.Summary())
	assert.Equal(t, store.WriteStats{KeysInserted: n, TokensInserted: n, Events: n, IndexesRebuilt: 6}, res.Stats)
	assert.Equal(t, []string{
		"events_key", "events_pkey", "keys_identity", "keys_pkey", "tokens_digest", "tokens_one_active",
	}, ts.strings(t, "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'keyprov' AND tablename NOT IN ('changes', 'inputs', 'owners') ORDER BY 1"))

	assert.Equal(t, reconcile.Summary{Unchanged: n}, ts.plan(t, bulkSpec(t, n, "Key", first), reconcile.Options{}).Summary())
	res, _ = ts.apply(t, bulkSpec(t, n, "Renamed", second), reconcile.Options{})
	assert.Equal(t, reconcile.Summary{Updated: n, Rotated: n}, res.Plan.Summary())
	assert.Zero(t, res.Stats.IndexesRebuilt, "the tables are no longer empty")
	assert.Equal(t, []string{fmt.Sprint(n)}, ts.strings(t, "SELECT count(*)::text FROM keyprov.tokens WHERE state = 'active'"))
	assert.Equal(t, reconcile.Summary{Unchanged: n}, ts.plan(t, bulkSpec(t, n, "Renamed", second), reconcile.Options{}).Summary())
}
