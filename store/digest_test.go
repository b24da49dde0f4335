package store_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/store"
)

// variedRows are key rows with every kind of content: empty and non-ASCII
// strings, quotes and backslashes in JSON, times with and without
// sub-microsecond parts, revoked keys. Their JSON is canonical, as the
// spec's always is: the text PostgreSQL prints for the jsonb value.
func variedRows() []store.KeyRow {
	at := time.Date(2027, 6, 30, 12, 30, 45, 123456789, time.UTC)
	before2000 := time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.FixedZone("x", 3600))
	return []store.KeyRow{
		{Name: "plain", Permissions: []byte(`[]`), Metadata: []byte(`{}`), Owner: "platform"},
		{Universal: true, Name: "", Description: "", Permissions: []byte(`[{"name": "*"}]`), Metadata: []byte(`{}`), Owner: "p"},
		{Name: "Ünïcödé 名前 🗝", Description: "line\nbreak\ttab \"quoted\" back\\slash", Permissions: []byte(`[{"name": "cms.read"}, {"rwd": "r", "name": "wb.page"}]`),
			Metadata: []byte(`{"a": "\"x\"", "path": "C:\\dir", "team": "wéb"}`), Owner: "ownér"},
		{Name: "expiring", Permissions: []byte(`[]`), Metadata: []byte(`{}`), ExpiresAt: &at, Owner: "platform"},
		{Name: "old", Permissions: []byte(`[]`), Metadata: []byte(`{}`), ExpiresAt: &before2000, Owner: "platform"},
		{Name: "revoked", Permissions: []byte(`[]`), Metadata: []byte(`{}`), Owner: "platform", RevokedAt: &at, RevokedReason: "leaked"},
		{Name: "revoked without reason", Permissions: []byte(`[]`), Metadata: []byte(`{}`), Owner: "platform", RevokedAt: &at},
	}
}

func writeRows(t *testing.T, db *store.DB, rows []store.KeyRow) {
	t.Helper()
	b := &store.Batch{RunID: "00000000-0000-4000-8000-000000000001", Owner: "o", Actor: "tester", Now: time.Now()}
	for i := range rows {
		r := rows[i]
		r.Tenant, r.Slug = "acme", fmt.Sprintf("k%02d", i)
		b.Keys = append(b.Keys, store.KeyWrite{Create: true, Tenant: r.Tenant, Slug: r.Slug, Key: &r})
	}
	require.NoError(t, db.Update(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Write(context.Background(), b)
		return err
	}))
}

// storedDigests reads keys.content_digest by slug, "NULL" for none.
func storedDigests(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	rows, err := db.Conn().Query(context.Background(), "SELECT slug, coalesce(encode(content_digest, 'hex'), 'NULL') FROM keyprov.keys")
	require.NoError(t, err)
	for rows.Next() {
		var slug, d string
		require.NoError(t, rows.Scan(&slug, &d))
		out[slug] = d
	}
	require.NoError(t, rows.Err())
	return out
}

// fullRows reads every key in full, by slug, as rows.
func fullRows(t *testing.T, db *store.DB) map[string]*store.KeyRow {
	t.Helper()
	out := map[string]*store.KeyRow{}
	require.NoError(t, db.View(context.Background(), func(tx *store.Tx) error {
		st, err := tx.Load(context.Background())
		for _, k := range st.Keys {
			out[k.Slug] = &store.KeyRow{Universal: k.Universal, Name: k.Name, Description: k.Description,
				Permissions: k.Permissions, Metadata: k.Metadata, ExpiresAt: k.ExpiresAt, Owner: k.Owner,
				RevokedAt: k.RevokedAt, RevokedReason: k.RevokedReason}
		}
		return err
	}))
	return out
}

func hexDigest(r *store.KeyRow) string {
	d := store.ContentDigest(r)
	return hex.EncodeToString(d[:])
}

// TestContentDigestMatchesSQL: the digests migration 003 computes in SQL
// for keys written before it are the digests keyprov computes, and both are
// the digests of the rows as stored and as written.
func TestContentDigestMatchesSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	db := open(t, store.Config{URL: u})
	_, err := db.MigrateTo(ctx, 2)
	require.NoError(t, err)
	// Version 2 has no digest column: insert the rows as another tool would.
	rows := variedRows()
	for i, r := range rows {
		var reason *string
		if r.RevokedReason != "" {
			reason = &r.RevokedReason
		}
		_, err := db.Conn().Exec(ctx, `INSERT INTO keyprov.keys (tenant, slug, universal, name, description, permissions, metadata, expires_at, owner, revoked_at, revoked_reason)
VALUES ('acme', $1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9, $10)`,
			fmt.Sprintf("k%02d", i), r.Universal, r.Name, r.Description, string(r.Permissions), string(r.Metadata), r.ExpiresAt, r.Owner, r.RevokedAt, reason)
		require.NoError(t, err)
	}
	_, err = db.Migrate(ctx)
	require.NoError(t, err)

	stored, full := storedDigests(t, db), fullRows(t, db)
	require.Len(t, stored, len(rows))
	for i, r := range rows {
		slug := fmt.Sprintf("k%02d", i)
		assert.Equal(t, hexDigest(&r), stored[slug], "%s: the SQL digest is the digest of the row inserted", slug)
		assert.Equal(t, hexDigest(full[slug]), stored[slug], "%s: and of the row read back", slug)
	}

	// Written by keyprov, the same rows get the same digests.
	_, err = db.Conn().Exec(ctx, "DELETE FROM keyprov.keys")
	require.NoError(t, err)
	writeRows(t, db, rows)
	assert.Equal(t, stored, storedDigests(t, db))
}

// TestContentDigestFollowsContent: the stored digest is always the digest
// of the stored content, or NULL, whoever changes the row.
func TestContentDigestFollowsContent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openMigrated(t, pgtest.NewDatabase(t))
	rows := variedRows()
	writeRows(t, db, rows)
	written := storedDigests(t, db)
	for i := range rows {
		assert.Equal(t, hexDigest(&rows[i]), written[fmt.Sprintf("k%02d", i)])
	}
	exec := func(sql string) {
		t.Helper()
		_, err := db.Conn().Exec(ctx, sql)
		require.NoError(t, err)
	}

	exec("UPDATE keyprov.keys SET last_used_at = now()")
	exec("UPDATE keyprov.keys SET name = name, permissions = permissions::text::jsonb, revoked_reason = revoked_reason")
	exec("UPDATE keyprov.keys SET tenant = 'globex' WHERE slug = 'k00'")
	assert.Equal(t, written, storedDigests(t, db), "no content changed")

	for _, change := range []string{
		"name = 'edited'", "universal = NOT universal", "description = 'x'", `permissions = '[{"name": "x"}]'`,
		`metadata = '{"x": "1"}'`, "expires_at = now()", "owner = 'dba'", "revoked_at = now()", "revoked_reason = 'why'",
	} {
		// Setting only the digest is not a change of content.
		exec(`UPDATE keyprov.keys SET content_digest = '\xaa' WHERE slug = 'k01'`)
		require.Equal(t, "aa", storedDigests(t, db)["k01"])
		exec("UPDATE keyprov.keys SET " + change + " WHERE slug = 'k01'")
		assert.Equal(t, "NULL", storedDigests(t, db)["k01"], "after SET %s", change)
	}
	exec("INSERT INTO keyprov.keys (tenant, slug, name, owner) VALUES ('acme', 'by-hand', 'Made by hand', 'dba')")
	assert.Equal(t, "NULL", storedDigests(t, db)["by-hand"], "a key inserted by another tool")

	// keyprov's own update writes the new digest.
	var id int64
	require.NoError(t, db.Conn().QueryRow(ctx, "SELECT id FROM keyprov.keys WHERE slug = 'k02'").Scan(&id))
	changed := rows[2]
	changed.Tenant, changed.Slug, changed.Name = "acme", "k02", "Renamed"
	require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.Write(ctx, &store.Batch{RunID: "00000000-0000-4000-8000-000000000002", Owner: "o", Now: time.Now(),
			Keys: []store.KeyWrite{{KeyID: id, Tenant: "acme", Slug: "k02", Key: &changed}}})
		return err
	}))
	assert.Equal(t, hexDigest(&changed), storedDigests(t, db)["k02"])
	assert.Equal(t, hexDigest(fullRows(t, db)["k02"]), storedDigests(t, db)["k02"])

	// A revocation by keyprov revoke changes the content without a digest.
	require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.RevokeKey(ctx, "acme", "k03", "leaked", store.EventMeta{RunID: "00000000-0000-4000-8000-000000000003"})
		return err
	}))
	assert.Equal(t, "NULL", storedDigests(t, db)["k03"])
}

// TestFillContent: LoadElided then FillContent reads what Load reads, for a
// few keys (found by id) and for many (found by reading them all).
func TestFillContent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openMigrated(t, pgtest.NewDatabase(t))
	writeRows(t, db, variedRows())
	b := createBatch(store.FillScanAbove+10, 100)
	require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.Write(ctx, b)
		return err
	}))
	require.NoError(t, db.View(ctx, func(tx *store.Tx) error {
		full, err := tx.Load(ctx)
		require.NoError(t, err)
		for _, k := range full.Keys {
			require.False(t, k.Elided)
		}
		for _, n := range []int{0, 7, store.FillScanAbove + 1, len(full.Keys)} {
			elided, err := tx.LoadElided(ctx)
			require.NoError(t, err)
			require.Len(t, elided.Keys, len(full.Keys))
			for i, k := range elided.Keys {
				require.True(t, k.Elided)
				require.Equal(t, full.Keys[i].ID, k.ID)
				require.Empty(t, k.Name)
				require.Nil(t, k.Permissions)
			}
			require.NoError(t, tx.FillContent(ctx, elided.Keys[:n]), n)
			for i, k := range elided.Keys {
				if i < n {
					require.Equal(t, full.Keys[i], k, "%d keys filled: key %d", n, i)
				} else {
					require.True(t, k.Elided)
				}
			}
		}
		return nil
	}))
}

// TestContentDigestPinned pins the digests of variedRows as keyprov
// computed and stored them: a change of the encoding would make every
// upgrade rewrite every key (the stored digest would no longer match).
func TestContentDigestPinned(t *testing.T) {
	t.Parallel()
	want := []string{
		"c1e644441330689c737156e95a6de40014352e1132d866243c7a6b673a0f5beb",
		"fb2027f3d3f18427d66ba064def499fd47abcc6286fbcb7fb8107f39a29b9b62",
		"4e9191c5319f768253e2f2c288236b7860b91b1cb97f3a193068122b6cf6d975",
		"3938ec5d62de2be6dc090687957f1a5e8d62422121ccc08135c67d5b713be535",
		"9fea4321ae1bfaf3af3ae67b7c2de9aae6e97e5bf1cef2ccebc13f0018ed3f94",
		"e68eb81783aa928e04b2f7b88ace414f3c923f6ea8f9b947d13e038355b25c5d",
		"9bc47e11219844050f454adecb61cca296232775270986886900cfab800c8ef7",
	}
	rows := variedRows()
	require.Len(t, rows, len(want))
	for i := range rows {
		assert.Equal(t, want[i], hexDigest(&rows[i]), "row %d (%q)", i, rows[i].Name)
	}
	// The disabled state, the id and the address are not content.
	r := rows[0]
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	r.ID, r.Tenant, r.Slug = 42, "acme", "other"
	r.DisabledAt, r.DisabledSpec, r.DisabledPrune = &at, true, true
	assert.Equal(t, want[0], hexDigest(&r))
}
