package verify_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/verify"
)

// lastUsed reads keys.last_used_at of a key (nil when never recorded).
func (f *fixture) lastUsed(tenant, slug string) *time.Time {
	f.t.Helper()
	var at *time.Time
	require.NoError(f.t, f.db.Conn().QueryRow(context.Background(),
		"SELECT last_used_at FROM keyprov.keys WHERE tenant = $1 AND slug = $2", tenant, slug).Scan(&at))
	return at
}

func TestLastUsed(t *testing.T) {
	f, now := standardFixture(t)
	t0 := time.Now().UTC().Truncate(time.Second).Add(time.Minute)
	clk := newClock(t0)
	// An hour-long interval: the background writer never runs during the
	// test, Flush writes.
	v, err := verify.New(f.pool, verify.WithLastUsed(time.Hour), verify.WithClock(clk.Now))
	require.NoError(t, err)
	ctx := context.Background()

	for range 3 {
		_, err := v.Verify(ctx, tokFrontend)
		require.NoError(t, err)
		clk.Add(time.Second)
	}
	_, err = v.Verify(ctx, tokWebsite2)
	require.NoError(t, err)
	_, err = v.Verify(ctx, tokWebsite) // previous token of the same key, later
	require.NoError(t, err)
	_, err = v.Verify(ctx, tokRevoked) // fails: not recorded
	require.ErrorIs(t, err, verify.ErrRevoked)
	assert.Nil(t, f.lastUsed("root", "frontend"), "nothing is written before a flush")

	before := f.queries.Uses()
	require.NoError(t, v.Flush(ctx))
	assert.Equal(t, before+1, f.queries.Uses(), "one statement for every key used")
	assertTime(t, t0.Add(2*time.Second), f.lastUsed("root", "frontend"))
	assertTime(t, t0.Add(3*time.Second), f.lastUsed("acme", "website"))
	assert.Nil(t, f.lastUsed("acme", "gone"))
	assert.Nil(t, f.lastUsed("globex", "rolled"))

	// Nothing used since: no statement.
	before = f.queries.Uses()
	require.NoError(t, v.Flush(ctx))
	assert.Equal(t, before, f.queries.Uses())

	// A later time written by another process is kept.
	f.exec("UPDATE keyprov.keys SET last_used_at = $1 WHERE slug = 'frontend'", t0.Add(time.Hour))
	_, err = v.Verify(ctx, tokFrontend)
	require.NoError(t, err)
	require.NoError(t, v.Flush(ctx))
	assertTime(t, t0.Add(time.Hour), f.lastUsed("root", "frontend"))

	// last_used_at is not a change of the key's content.
	var updated time.Time
	require.NoError(t, f.db.Conn().QueryRow(ctx, "SELECT updated_at FROM keyprov.keys WHERE slug = 'frontend'").Scan(&updated))
	assert.True(t, updated.Before(t0), "updated_at stays the apply's time")
	plan := f.apply(standardSpec(now, true))
	assert.False(t, plan.HasChanges(), "an apply after recording uses changes nothing")
}

func TestLastUsedCloseFlushes(t *testing.T) {
	f, _ := standardFixture(t)
	t0 := time.Now().UTC().Truncate(time.Second).Add(time.Minute)
	v, err := verify.New(f.pool, verify.WithLastUsed(time.Hour), verify.WithClock(func() time.Time { return t0 }))
	require.NoError(t, err)
	ctx := context.Background()
	_, err = v.Verify(ctx, tokRotated2)
	require.NoError(t, err)
	require.NoError(t, v.Close(ctx))
	assertTime(t, t0, f.lastUsed("globex", "rolled"))

	// After Close, Verify works and records nothing; Close again is harmless.
	_, err = v.Verify(ctx, tokFrontend)
	require.NoError(t, err)
	require.NoError(t, v.Close(ctx))
	assert.Nil(t, f.lastUsed("root", "frontend"))
}

func TestLastUsedBackground(t *testing.T) {
	f, _ := standardFixture(t)
	// The background writer runs every millisecond; the test waits for the
	// row to be written, it asserts no duration.
	v, err := verify.New(f.pool, verify.WithLastUsed(time.Millisecond))
	require.NoError(t, err)
	defer v.Close(context.Background())
	_, err = v.Verify(context.Background(), tokFrontend)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var at *time.Time
		err := f.pool.QueryRow(context.Background(), "SELECT last_used_at FROM keyprov.keys WHERE slug = 'frontend'").Scan(&at)
		return err == nil && at != nil
	}, time.Minute, time.Millisecond, "the background writer wrote nothing")
}

func TestLastUsedSkipsLockedRows(t *testing.T) {
	f, _ := standardFixture(t)
	t0 := time.Now().UTC().Truncate(time.Second).Add(time.Minute)
	var flushErrs []error
	v, err := verify.New(f.pool, verify.WithLastUsed(time.Hour), verify.WithClock(func() time.Time { return t0 }),
		verify.WithFlushErrors(func(err error) { flushErrs = append(flushErrs, err) }))
	require.NoError(t, err)
	ctx := context.Background()
	for _, tok := range []string{tokFrontend, tokWebsite2} {
		_, err := v.Verify(ctx, tok)
		require.NoError(t, err)
	}

	// Another transaction (an apply, say) holds the frontend row.
	tx, err := f.db.Conn().Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "SELECT 1 FROM keyprov.keys WHERE slug = 'frontend' FOR UPDATE")
	require.NoError(t, err)

	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, v.Flush(fctx), "the flush does not wait for the lock")
	require.NoError(t, tx.Rollback(ctx))
	assertTime(t, t0, f.lastUsed("acme", "website"))
	assert.Nil(t, f.lastUsed("root", "frontend"), "the locked row was skipped")

	// The next flush writes the skipped row.
	require.NoError(t, v.Flush(ctx))
	assertTime(t, t0, f.lastUsed("root", "frontend"))
	assert.Empty(t, flushErrs)
}

func TestLastUsedKeepsUsesWhenTheFlushFails(t *testing.T) {
	f, _ := standardFixture(t)
	t0 := time.Now().UTC().Truncate(time.Second).Add(time.Minute)
	v, err := verify.New(f.pool, verify.WithLastUsed(time.Hour), verify.WithClock(func() time.Time { return t0 }))
	require.NoError(t, err)
	ctx := context.Background()
	_, err = v.Verify(ctx, tokFrontend)
	require.NoError(t, err)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, v.Flush(cancelled), context.Canceled)
	require.NoError(t, v.Flush(ctx))
	assertTime(t, t0, f.lastUsed("root", "frontend"))
}

func assertTime(t *testing.T, want time.Time, got *time.Time) {
	t.Helper()
	if assert.NotNil(t, got) {
		assert.True(t, want.Equal(*got), "want %s, got %s", want, got)
	}
}
