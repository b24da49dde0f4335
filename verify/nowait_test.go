package verify_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/verify"
)

// An apply that has written keys holds the row of keyprov's change
// counter until it commits. Neither a Verifier's poll of the counter nor
// its last_used_at flush waits for it: the poll reads a snapshot, and
// writing last_used_at alone does not move the counter.
func TestNothingWaitsForARunningApply(t *testing.T) {
	f, _ := standardFixture(t)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Second).Add(time.Minute)
	v, err := verify.New(f.pool, verify.WithCache(time.Hour, 100), verify.WithLastUsed(time.Hour),
		verify.WithClock(func() time.Time { return t0 }))
	require.NoError(t, err)
	defer v.Close(ctx)
	_, err = v.Verify(ctx, tokFrontend)
	require.NoError(t, err)

	// The apply: a change to another key, not committed yet.
	tx, err := f.db.Conn().Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, "UPDATE keyprov.keys SET name = 'Renamed' WHERE slug = 'rolled'")
	require.NoError(t, err)
	var locked bool
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
WHERE c.relname = 'changes' AND l.mode = 'RowExclusiveLock' AND l.granted)`).Scan(&locked))
	require.True(t, locked, "the apply holds the counter")

	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// Past Staleness the Verifier asks for the counter itself.
	time.Sleep(verify.Staleness + 100*time.Millisecond)
	key, err := v.Verify(wctx, tokFrontend)
	require.NoError(t, err, "reading the counter does not wait")
	assert.Equal(t, "root/frontend", key.Address)
	_, err = v.Verify(wctx, tokWebsite2)
	require.NoError(t, err)
	require.NoError(t, v.Flush(wctx), "the flush does not wait for the counter")
	assertTime(t, t0, f.lastUsed("acme", "website"))
	assertTime(t, t0, f.lastUsed("root", "frontend"))
}
