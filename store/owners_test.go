package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/store"
)

// RecordOwner writes an owner's token settings when they change, and
// nothing otherwise; each write moves the change counter, which verifiers
// poll to read the prefixes again.
func TestRecordOwner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	db := openMigrated(t, u)
	conn := pgtest.Connect(t, u)
	record := func(o store.Owner) (wrote bool, counter int64) {
		t.Helper()
		require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
			var err error
			if wrote, err = tx.RecordOwner(ctx, o); err != nil {
				return err
			}
			counter, err = tx.ChangeCounter(ctx)
			return err
		}))
		return wrote, counter
	}
	platform := store.Owner{Name: "platform", TokenPrefix: "wat_"}
	wrote, c1 := record(platform)
	assert.True(t, wrote, "a new owner")
	version := queryStrings(t, conn, "SELECT xmin::text FROM keyprov.owners")
	wrote, c2 := record(platform)
	assert.False(t, wrote, "the same settings")
	assert.Equal(t, c1, c2, "nothing written, the counter stays")
	assert.Equal(t, version, queryStrings(t, conn, "SELECT xmin::text FROM keyprov.owners"), "the row keeps its version")

	wrote, c3 := record(store.Owner{Name: "platform", TokenPrefix: "wat_", TokenChecksum: true})
	assert.True(t, wrote)
	assert.Greater(t, c3, c2)
	wrote, _ = record(store.Owner{Name: "search", TokenPrefix: "sk_"})
	assert.True(t, wrote)

	var owners map[string]store.Owner
	require.NoError(t, db.View(ctx, func(tx *store.Tx) error {
		var err error
		owners, err = tx.Owners(ctx)
		return err
	}))
	assert.Equal(t, map[string]store.Owner{
		"platform": {Name: "platform", TokenPrefix: "wat_", TokenChecksum: true},
		"search":   {Name: "search", TokenPrefix: "sk_"},
	}, owners)
	assert.Equal(t, []string{"sk_ t", "wat_ t"}, queryStrings(t, conn,
		"SELECT prefix || ' ' || left(checksums::text, 1) FROM keyprov.token_prefixes()"), "no live token yet")
}

// The store keeps whether each token carries a checksum, as the apply
// that wrote it says; keyprov.token_prefixes says, for each owner's
// prefix, whether every live token that may have it carries one.
func TestTokenChecksums(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	db := openMigrated(t, u)
	conn := pgtest.Connect(t, u)
	b := createBatch(3, 0)
	b.Keys[0].NewTokens[0].Checksum = true
	b.Keys[1].NewTokens[0].Checksum = true
	_, err := write(t, db, b)
	require.NoError(t, err)
	assert.Equal(t, []string{"k0000 true", "k0001 true", "k0002 false"}, queryStrings(t, conn,
		`SELECT k.slug || ' ' || t.checksum::text FROM keyprov.tokens t JOIN keyprov.keys k ON k.id = t.key_id ORDER BY 1`))

	require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.RecordOwner(ctx, store.Owner{Name: "o", TokenPrefix: "wat_"})
		return err
	}))
	prefixes := func() []string {
		return queryStrings(t, conn, "SELECT prefix || ' ' || checksums::text FROM keyprov.token_prefixes()")
	}
	assert.Equal(t, []string{"wat_ false"}, prefixes(), "k0002's token has none")
	execAll(t, conn, "UPDATE keyprov.tokens SET state = 'retired', retired_at = now() WHERE hint = 'wat_…k0002'")
	assert.Equal(t, []string{"wat_ true"}, prefixes(), "a retired token does not count")
	execAll(t, conn, "UPDATE keyprov.tokens SET checksum = NULL WHERE hint = 'wat_…k0001'")
	assert.Equal(t, []string{"wat_ false"}, prefixes(), "unknown counts as none")
	execAll(t, conn, "UPDATE keyprov.tokens SET hint = 'sk_…k0001' WHERE hint = 'wat_…k0001'")
	assert.Equal(t, []string{"wat_ true"}, prefixes(), "a token of another prefix does not count")
	execAll(t, conn, "UPDATE keyprov.tokens SET hint = '…k0001' WHERE hint = 'sk_…k0001'")
	assert.Equal(t, []string{"wat_ false"}, prefixes(), "a token whose hint shows no prefix counts for every prefix")
}
