package faults

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
)

// applyDoc is the part of `apply -o json` the fleet tests read.
type applyDoc struct {
	Applied bool   `json:"applied"`
	RunID   string `json:"run_id"`
	Summary struct {
		Create    int `json:"create"`
		Unchanged int `json:"unchanged"`
	} `json:"summary"`
}

// fleet starts one `apply -o json` per spec, all at once, waits for all
// of them and requires each to exit 0. It returns their outputs.
func fleet(t *testing.T, env map[string]string, specs ...*generatedSpec) []applyDoc {
	t.Helper()
	ps := make([]*proc, len(specs))
	for i, g := range specs {
		ps[i] = start(t, g.dir, env, "apply", "-o", "json")
	}
	docs := make([]applyDoc, len(specs))
	for i, p := range ps {
		r := p.wait(t)
		require.Equal(t, 0, r.code, "process %d of %d: stderr:\n%s", i+1, len(ps), tail(r.stderr, 3000))
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &docs[i]), "process %d: %s", i+1, tail(r.stdout, 2000))
		assert.True(t, docs[i].Applied)
		assertNoTokens(t, r, specs[i])
	}
	return docs
}

// queryInt runs a query that returns one integer.
func queryInt(t *testing.T, conn *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, conn.QueryRow(context.Background(), sql, args...).Scan(&n), sql)
	return n
}

// assertCreatedOnce checks a store where the specs were applied by fleets
// on an empty store: every key exists once with its owner and one active
// token, and carries exactly one event, "created", by one run per spec.
func assertCreatedOnce(t *testing.T, u string, specs ...*generatedSpec) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), u)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	total := 0
	for _, g := range specs {
		total += g.opts.Keys
		assert.Equal(t, g.opts.Keys, queryInt(t, conn, "SELECT count(*) FROM keyprov.keys WHERE owner = $1", g.opts.Owner), "keys of %s", g.opts.Owner)
		assert.Equal(t, 1, queryInt(t, conn, "SELECT count(DISTINCT run_id) FROM keyprov.events WHERE owner = $1", g.opts.Owner),
			"one run created the keys of %s", g.opts.Owner)
	}
	assert.Equal(t, total, queryInt(t, conn, "SELECT count(*) FROM keyprov.keys"))
	assert.Equal(t, total, queryInt(t, conn, "SELECT count(DISTINCT (tenant, slug)) FROM keyprov.keys"))
	assert.Equal(t, total, queryInt(t, conn, "SELECT count(*) FROM keyprov.tokens WHERE state = 'active'"))
	assert.Equal(t, total, queryInt(t, conn, "SELECT count(*) FROM keyprov.tokens"))
	assert.Equal(t, total, queryInt(t, conn, "SELECT count(*) FROM keyprov.events"), "one event per key")
	assert.Equal(t, total, queryInt(t, conn, `SELECT count(*) FROM keyprov.events e JOIN keyprov.keys k ON k.id = e.key_id
WHERE e.action = 'created' AND e.owner = k.owner AND (e.tenant, e.slug) = (k.tenant, k.slug)`), "each key's event is its creation")
	assert.Equal(t, len(specs), queryInt(t, conn, "SELECT count(DISTINCT run_id) FROM keyprov.events"))
	assert.Equal(t, 1, queryInt(t, conn, "SELECT count(*) FROM keyprov.schema_version"))
	for _, g := range specs {
		for _, i := range []int{0, g.opts.Keys / 2, g.opts.Keys - 1} {
			assert.Equal(t, 1, queryInt(t, conn, "SELECT count(*) FROM keyprov.keys WHERE tenant || '/' || slug = $1 AND owner = $2", g.address(i), g.opts.Owner), g.address(i))
		}
	}
}

// TestFleet starts many keyprov processes at once on an empty store, as
// replicas of a deployment do at boot: they take turns on the lock, one
// creates everything, the others find nothing to do.
func TestFleet(t *testing.T) {
	size := setting("KEYPROV_FAULT_FLEET", 16)

	t.Run("same spec", func(t *testing.T) {
		t.Parallel()
		g := writeSpec(t, specOpts{Keys: 500, Gen: "fleet"})
		u := pgtest.NewDatabase(t)
		specs := make([]*generatedSpec, size)
		for i := range specs {
			specs[i] = g
		}
		docs := fleet(t, baseEnv(u), specs...)
		creators := 0
		for _, d := range docs {
			assert.Contains(t, []int{0, g.opts.Keys}, d.Summary.Create, "a process creates every key or none")
			assert.Equal(t, g.opts.Keys, d.Summary.Create+d.Summary.Unchanged)
			if d.Summary.Create > 0 {
				creators++
			}
		}
		assert.Equal(t, 1, creators, "exactly one process created the keys")
		assertCreatedOnce(t, u, g)
		figure("5 fleet", "fleet: %d processes applying the same spec of %d keys at once: all exited 0, every key created once", size, g.opts.Keys)
	})

	t.Run("two owners", func(t *testing.T) {
		t.Parallel()
		a := writeSpec(t, specOpts{Keys: 300, Owner: "team-a", TenantPrefix: "alpha", Gen: "a"})
		b := writeSpec(t, specOpts{Keys: 300, Owner: "team-b", TenantPrefix: "beta", Gen: "b"})
		u := pgtest.NewDatabase(t)
		var specs []*generatedSpec
		for i := 0; i < size/2; i++ {
			specs = append(specs, a, b)
		}
		docs := fleet(t, baseEnv(u), specs...)
		created := map[string]int{}
		for i, d := range docs {
			created[specs[i].opts.Owner] += d.Summary.Create
		}
		assert.Equal(t, map[string]int{"team-a": 300, "team-b": 300}, created, "each owner's keys were created once")
		assertCreatedOnce(t, u, a, b)
		figure("6 owners", "fleet: 2 specs with different owners, %d processes each, applying to one store at once: all exited 0, every key created once", size/2)
	})
}

// TestLockTimeout holds keyprov's advisory lock in an open transaction, as
// a stuck keyprov would: other applies give up after KEYPROV_LOCK_TIMEOUT
// with exit 3 and write nothing; once the holder goes, an apply succeeds.
func TestLockTimeout(t *testing.T) {
	t.Parallel()
	old := writeSpec(t, specOpts{Keys: 100, Gen: "old"})
	changed := writeSpec(t, specOpts{Keys: 100, Gen: "new"})
	const waiters = 4
	bounded := func(u string) map[string]string { return with(baseEnv(u), "KEYPROV_LOCK_TIMEOUT", "2s") }

	for name, migrated := range map[string]bool{"existing store": true, "empty store": false} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := pgtest.NewDatabase(t)
			if migrated {
				mustRun(t, 0, old.dir, baseEnv(u), "apply")
			}
			before := takeSnapshot(t, u)
			release := holdLock(t, u)
			ps := make([]*proc, waiters)
			for i := range ps {
				ps[i] = start(t, changed.dir, bounded(u), "apply")
			}
			for i, p := range ps {
				r := p.wait(t)
				assert.Equal(t, 3, r.code, "waiter %d: stderr:\n%s", i+1, tail(r.stderr, 3000))
				assert.Contains(t, r.stderr, `store: lock timeout: another keyprov held the lock on schema "keyprov" for more than 2s (KEYPROV_LOCK_TIMEOUT)`)
				assert.Contains(t, r.stderr, `"message":"lock timeout"`)
				assert.Empty(t, r.stdout)
			}
			after := takeSnapshot(t, u)
			assert.Empty(t, keysDiff(after, before), "nothing was written")
			assert.Equal(t, before.Events, after.Events)
			release()
			assertNoLockLeft(t, pgtest.AdminURL(t), dbName(t, u))
			next := mustRun(t, 0, changed.dir, bounded(u), "apply")
			assert.Len(t, takeSnapshot(t, u).Keys, 100, "the holder is gone: the apply went through")
			assert.Positive(t, next.rowsWritten())
		})
	}
	figure("7 lock", "lock timeout: with the advisory lock held by a stuck session, %d applies at a time exited 3 after KEYPROV_LOCK_TIMEOUT=2s, on an empty and on an existing store; the next apply succeeded once it was gone", waiters)
}
