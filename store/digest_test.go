package store_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
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
		{Content: store.Content{Name: "plain", Permissions: []byte(`[]`), Metadata: []byte(`{}`), Owner: "platform"}},
		{Content: store.Content{Universal: true, Name: "", Description: "", Permissions: []byte(`[{"name": "*"}]`), Metadata: []byte(`{}`), Owner: "p"}},
		{Content: store.Content{Name: "Ünïcödé 名前 🗝", Description: "line\nbreak\ttab \"quoted\" back\\slash", Permissions: []byte(`[{"name": "cms.read"}, {"rwd": "r", "name": "wb.page"}]`),
			Metadata: []byte(`{"a": "\"x\"", "path": "C:\\dir", "team": "wéb"}`), Owner: "ownér"}},
		{Content: store.Content{Name: "expiring", Permissions: []byte(`[]`), Metadata: []byte(`{}`), ExpiresAt: &at, Owner: "platform"}},
		{Content: store.Content{Name: "old", Permissions: []byte(`[]`), Metadata: []byte(`{}`), ExpiresAt: &before2000, Owner: "platform"}},
		{Content: store.Content{Name: "revoked", Permissions: []byte(`[]`), Metadata: []byte(`{}`), Owner: "platform", RevokedAt: &at, RevokedReason: "leaked"}},
		{Content: store.Content{Name: "revoked without reason", Permissions: []byte(`[]`), Metadata: []byte(`{}`), Owner: "platform", RevokedAt: &at}},
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
			out[k.Slug] = &store.KeyRow{Content: k.Content}
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

// contentOf is the content of a loaded key, as a row.
// digestsByID reads keys.content_digest of every key, by id.
func digestsByID(t *testing.T, db *store.DB) map[int64][]byte {
	t.Helper()
	rows, err := db.Conn().Query(context.Background(), "SELECT id, content_digest FROM keyprov.keys")
	require.NoError(t, err)
	out := map[int64][]byte{}
	for rows.Next() {
		var (
			id int64
			d  []byte
		)
		require.NoError(t, rows.Scan(&id, &d))
		out[id] = d
	}
	require.NoError(t, rows.Err())
	return out
}

func contentOf(k *store.Key) store.KeyRow {
	return store.KeyRow{Tenant: k.Tenant, Slug: k.Slug, Content: k.Content}
}

// expectRows is a store.Expected of rows sorted by address.
func expectRows(rows []store.KeyRow) store.Expected {
	slices.SortFunc(rows, func(x, y store.KeyRow) int {
		return cmp.Or(strings.Compare(x.Tenant, y.Tenant), strings.Compare(x.Slug, y.Slug))
	})
	return store.Expected{N: len(rows),
		Address: func(i int) (string, string) { return rows[i].Tenant, rows[i].Slug },
		Row:     func(i int) store.KeyRow { return rows[i] }}
}

// TestLoadExpected: LoadExpected returns what Load returns, in address
// order, and reads the content of exactly the keys whose stored digest is
// not the digest of the row expected at their address: for a few keys
// (found by id) and for many (found by reading them all).
func TestLoadExpected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openMigrated(t, pgtest.NewDatabase(t))
	writeRows(t, db, variedRows())
	require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.Write(ctx, createBatch(store.FillScanAbove+10, 100))
		return err
	}))
	// Two keys without a digest: one changed by another tool, one
	// inserted by it.
	_, err := db.Conn().Exec(ctx, "UPDATE keyprov.keys SET name = 'edited by hand' WHERE slug = 'k0101'")
	require.NoError(t, err)
	_, err = db.Conn().Exec(ctx, `INSERT INTO keyprov.keys (tenant, slug, name, permissions, metadata, owner) VALUES ('acme', 'by-hand', 'By hand', '[]', '{}', 'dba')`)
	require.NoError(t, err)

	require.NoError(t, db.View(ctx, func(tx *store.Tx) error {
		full, err := tx.Load(ctx)
		require.NoError(t, err)
		require.Equal(t, len(full.Keys), full.ContentRead, "Load reads every key's content")
		digests := digestsByID(t, db)
		byAddress := map[string]*store.Key{}
		var stored []store.KeyRow
		for _, k := range full.Keys {
			byAddress[k.Tenant+"/"+k.Slug] = k
			stored = append(stored, contentOf(k))
		}
		changed := func(every int) []store.KeyRow {
			rows := slices.Clone(stored)
			for i := range rows {
				if i%every == 0 {
					rows[i].Name += " (changed)"
				}
			}
			return rows
		}
		notStored := store.KeyRow{Tenant: "zeta", Slug: "new", Content: store.Content{Name: "New", Permissions: []byte("[]"), Metadata: []byte("{}")}}
		// The keys whose content LoadExpected reads: those without a
		// row at their address, or whose stored digest is not its digest.
		toRead := func(rows []store.KeyRow) int {
			want := map[string][32]byte{}
			for i := range rows {
				want[rows[i].Tenant+"/"+rows[i].Slug] = store.ContentDigest(&rows[i])
			}
			n := 0
			for _, k := range full.Keys {
				d, ok := want[k.Tenant+"/"+k.Slug]
				if !ok || !bytes.Equal(d[:], digests[k.ID]) {
					n++
				}
			}
			return n
		}
		require.Equal(t, 2, toRead(stored), "k0101 and by-hand have no digest")
		for name, tc := range map[string]struct {
			want []store.KeyRow
			read int
		}{
			"as stored":                  {want: stored, read: 2},
			"as stored, and a new key":   {want: append(slices.Clone(stored), notStored), read: 2},
			"a few changed (by id)":      {want: changed(1000), read: toRead(changed(1000))},
			"nothing expected (scan)":    {want: nil, read: len(stored)},
			"every key changed (scan)":   {want: changed(1), read: len(stored)},
			"half changed, half as kept": {want: changed(2), read: toRead(changed(2))},
		} {
			st, err := tx.LoadExpected(ctx, expectRows(tc.want))
			require.NoError(t, err, name)
			assert.Equal(t, full.Now, st.Now, name)
			assert.Equal(t, tc.read, st.ContentRead, "%s: keys whose content was read", name)
			require.Len(t, st.Keys, len(full.Keys), name)
			for i, k := range st.Keys {
				if i > 0 {
					prev := st.Keys[i-1]
					require.Less(t, prev.Tenant+"/"+prev.Slug, k.Tenant+"/"+k.Slug, "%s: keys in address order", name)
				}
				require.Equal(t, byAddress[k.Tenant+"/"+k.Slug], k, "%s: %s/%s is as Load reads it", name, k.Tenant, k.Slug)
			}
		}
		return nil
	}))

	// The limit the contract states: a change made together with a digest
	// forged to match the expected row is not read; Load sees it.
	forged := store.KeyRow{Tenant: "acme", Slug: "k0102", Content: store.Content{Name: "k0102", Permissions: []byte("[]"), Metadata: []byte("{}"), Owner: "o"}}
	d := store.ContentDigest(&forged)
	_, err = db.Conn().Exec(ctx, "UPDATE keyprov.keys SET name = 'forged' WHERE slug = 'k0102'")
	require.NoError(t, err)
	_, err = db.Conn().Exec(ctx, "UPDATE keyprov.keys SET content_digest = $1 WHERE slug = 'k0102'", d[:])
	require.NoError(t, err)
	require.NoError(t, db.View(ctx, func(tx *store.Tx) error {
		st, err := tx.LoadExpected(ctx, expectRows([]store.KeyRow{forged}))
		require.NoError(t, err)
		full, err := tx.Load(ctx)
		require.NoError(t, err)
		name := func(st *store.State) string {
			for _, k := range st.Keys {
				if k.Slug == "k0102" {
					return k.Name
				}
			}
			return ""
		}
		assert.Equal(t, "k0102", name(st), "LoadExpected: the expected row, not read")
		assert.Equal(t, "forged", name(full), "Load: the row as stored")
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
	r.Disabled = store.Disabled{At: &at, Spec: true, Prune: true}
	assert.Equal(t, want[0], hexDigest(&r))
}
