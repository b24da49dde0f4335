package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/store"
)

// ReadBoot reads in one query whether the schema is ready, the store's
// position, the time and the input records; RecordInputs writes a record
// only while the counter is the one the apply read, and writes no row when
// the record is already so.
func TestInputRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	conn := pgtest.Connect(t, u)
	db := open(t, store.Config{URL: u})

	b, err := db.ReadBoot(ctx)
	require.NoError(t, err, "no schema yet is not an error")
	assert.False(t, b.Ready)

	_, err = db.MigrateTo(ctx, store.SchemaVersion-1)
	require.NoError(t, err)
	b, err = db.ReadBoot(ctx)
	require.NoError(t, err, "an older schema is not an error")
	assert.False(t, b.Ready)

	_, err = db.Migrate(ctx)
	require.NoError(t, err)
	b, err = db.ReadBoot(ctx)
	require.NoError(t, err)
	require.True(t, b.Ready)
	assert.NotEmpty(t, b.StoreID)
	assert.Equal(t, int64(1), b.Counter)
	assert.Empty(t, b.Records)
	assert.WithinDuration(t, time.Now(), b.Now, time.Minute)

	until := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := &store.InputRecord{Owner: "platform", Digest: []byte{1, 2, 3}, ValidUntil: &until,
		Names: json.RawMessage(`[{"kind": "env", "name": "A"}]`), Plan: json.RawMessage(`{"Owner": "platform", "Unlisted": 3}`), Keyprov: "test",
		RunID: "6f1c3c1e-7a53-4b8e-9a52-2a4f6a1a0b11"}
	record := func(expected *int64) (current, written bool) {
		t.Helper()
		require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
			var err error
			current, written, err = tx.RecordInputs(ctx, rec, expected)
			return err
		}))
		return current, written
	}
	counter := b.Counter
	current, written := record(&counter)
	assert.True(t, current)
	assert.True(t, written)
	b, err = db.ReadBoot(ctx)
	require.NoError(t, err)
	require.Len(t, b.Records, 1)
	got := b.Records[0]
	assert.Equal(t, "platform", got.Owner)
	assert.Equal(t, []byte{1, 2, 3}, got.Digest)
	assert.Equal(t, counter, got.Counter)
	assert.True(t, until.Equal(*got.ValidUntil))
	assert.JSONEq(t, `[{"kind": "env", "name": "A"}]`, string(got.Names))
	assert.JSONEq(t, `{"Owner": "platform", "Unlisted": 3}`, string(got.Plan))
	assert.Equal(t, rec.RunID, got.RunID)

	version := queryStrings(t, conn, "SELECT xmin::text FROM keyprov.inputs")
	current, written = record(&counter)
	assert.True(t, current, "the same record again")
	assert.False(t, written, "the same record again")
	assert.Equal(t, version, queryStrings(t, conn, "SELECT xmin::text FROM keyprov.inputs"), "no row written")

	_, err = conn.Exec(ctx, `INSERT INTO keyprov.keys (tenant, slug, name, owner) VALUES ('acme', 'a', 'A', 'o')`)
	require.NoError(t, err)
	rec.Digest = []byte{4, 5, 6}
	current, written = record(&counter)
	assert.False(t, current, "the counter moved since the apply read it")
	assert.False(t, written, "the counter moved since the apply read it")
	b, err = db.ReadBoot(ctx)
	require.NoError(t, err)
	assert.Equal(t, counter+1, b.Counter)
	assert.Equal(t, []byte{1, 2, 3}, b.Records[0].Digest, "the record stays the earlier one")

	// Holding the counter, the record takes the counter as this
	// transaction's own writes left it.
	require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
		p, err := tx.LockPosition(ctx)
		require.NoError(t, err)
		assert.Equal(t, b.Position, p)
		current, written, err := tx.RecordInputs(ctx, rec, nil)
		assert.True(t, current)
		assert.True(t, written)
		return err
	}))
	b, err = db.ReadBoot(ctx)
	require.NoError(t, err)
	assert.Equal(t, []byte{4, 5, 6}, b.Records[0].Digest)
	assert.Equal(t, b.Counter, b.Records[0].Counter)

	// A schema the ownership check would refuse is not ready: the full
	// path says why.
	_, err = conn.Exec(ctx, `CREATE FUNCTION public.f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER audit AFTER INSERT ON keyprov.keys FOR EACH STATEMENT EXECUTE FUNCTION public.f()`)
	require.NoError(t, err)
	b, err = db.ReadBoot(ctx)
	require.NoError(t, err)
	assert.False(t, b.Ready, "a trigger keyprov did not create")
}
