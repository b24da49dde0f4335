package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/keycontent"
	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/token"
)

func createBatch(n int, offset int) *store.Batch {
	b := &store.Batch{RunID: "00000000-0000-4000-8000-000000000001", Owner: "o", Actor: "tester"}
	for i := 0; i < n; i++ {
		slug := fmt.Sprintf("k%04d", offset+i)
		b.Keys = append(b.Keys, store.KeyWrite{
			Create: true, Tenant: "acme", Slug: slug,
			Key:       &store.KeyRow{Tenant: "acme", Slug: slug, Content: store.Content{Name: slug, Permissions: []byte("[]"), Metadata: []byte("{}"), Owner: "o"}},
			NewTokens: []store.NewToken{{Digest: token.DigestOf("tok-" + slug), Hint: "wat_…" + slug, State: store.StateActive}},
			Events:    []store.Event{{Action: "created"}},
		})
	}
	return b
}

// TestWriteAllocatesIDs covers both ways of drawing key ids: a consecutive
// range (the usual case), and one by one when the sequence does not hand
// out consecutive values (here because it steps by 2, as it would look if
// another session drew ids in between).
func TestWriteAllocatesIDs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for name, step := range map[string]int{"consecutive": 1, "with gaps": 2} {
		t.Run(name, func(t *testing.T) {
			u := pgtest.NewDatabase(t)
			db := openMigrated(t, u)
			_, err := db.Conn().Exec(ctx, fmt.Sprintf("ALTER SEQUENCE keyprov.keys_id_seq INCREMENT BY %d", step))
			require.NoError(t, err)
			assigned := map[string]int64{} // slug → the id Write returned
			for round := 0; round < 2; round++ {
				b := createBatch(50, round*50)
				require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
					st, err := tx.Write(ctx, b)
					require.Equal(t, int64(50), st.KeysInserted)
					require.Len(t, st.KeyIDs, 50)
					for i, kw := range b.Keys {
						assert.Zero(t, kw.KeyID, "the batch is not changed")
						assert.Zero(t, kw.Key.ID, "nor its rows")
						assigned[kw.Slug] = st.KeyIDs[i]
					}
					return err
				}))
			}
			// The ids returned are the keys' ids.
			stored := map[string]int64{}
			rows, err := db.Conn().Query(ctx, "SELECT slug, id FROM keyprov.keys")
			require.NoError(t, err)
			for rows.Next() {
				var slug string
				var id int64
				require.NoError(t, rows.Scan(&slug, &id))
				stored[slug] = id
			}
			require.NoError(t, rows.Err())
			assert.Equal(t, stored, assigned)
			// Every token and event points at the key it was written for.
			rows, err = db.Conn().Query(ctx, `SELECT count(*) FROM keyprov.keys k
				JOIN keyprov.tokens t ON t.key_id = k.id AND t.hint = 'wat_…' || k.slug
				JOIN keyprov.events e ON e.key_id = k.id AND e.slug = k.slug`)
			require.NoError(t, err)
			n, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[int64])
			require.NoError(t, err)
			assert.Equal(t, int64(100), n)
			var distinct int64
			require.NoError(t, db.Conn().QueryRow(ctx, "SELECT count(DISTINCT id) FROM keyprov.keys").Scan(&distinct))
			assert.Equal(t, int64(100), distinct)
		})
	}
}

// TestWriteEncodesEveryColumn reads back, as PostgreSQL prints them, the
// rows Write copies in binary: every column, set and unset, with times
// before and after 2000-01-01 (PostgreSQL's epoch), below a microsecond,
// and text beyond ASCII.
func TestWriteEncodesEveryColumn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openMigrated(t, pgtest.NewDatabase(t))

	utc := func(s string) *time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return &tm
	}
	b := &store.Batch{
		RunID: "0f8fad5b-d9cb-469f-a165-70867728950e", Owner: "platform/keys.hcl", Actor: "ci@example.com",
		Now: *utc("2026-11-23T10:11:12.345678999Z"),
		Keys: []store.KeyWrite{{
			Create: true, Tenant: "acme", Slug: "full",
			Key: &store.KeyRow{
				Tenant: "acme", Slug: "full", Content: store.Content{Universal: true, Name: "Café 🔑", Description: "Zeilen\nund \"Anführungszeichen\"",
					Permissions: []byte(`[{"name": "cms.entry", "models": ["ä"]}]`), Metadata: []byte(`{"team": "web"}`),
					ExpiresAt: utc("1999-12-31T23:59:59.000001Z"), Owner: "platform/keys.hcl",
					RevokedAt: utc("1969-07-20T20:17:40Z"), RevokedReason: "leaked"},
			},
			NewTokens: []store.NewToken{
				{Digest: token.DigestOf("a"), Hint: "wat_…aaaa", State: store.StateActive},
				{Digest: token.DigestOf("p"), Hint: "wat_…pppp", State: store.StatePrevious, ValidUntil: utc("2027-01-02T03:04:05.5Z")},
				{Digest: token.DigestOf("r"), Hint: "wat_…rrrr", State: store.StateRetired, RetiredReason: "rotated"},
			},
			Events: []store.Event{
				{Action: "created", Changes: []byte(`{"name": {"new": "Café 🔑"}}`), Reason: "first"},
				{Action: "revoked"},
			},
		}, {
			Create: true, Tenant: "acme", Slug: "bare",
			Key:       &store.KeyRow{Tenant: "acme", Slug: "bare", Content: store.Content{Permissions: []byte("[]"), Metadata: []byte("{}"), Owner: "o"}},
			NewTokens: []store.NewToken{{Digest: token.DigestOf("b"), Hint: "wat_…bbbb", State: store.StateActive}},
		}},
	}
	require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
		st, err := tx.Write(ctx, b)
		assert.Equal(t, store.WriteStats{KeysInserted: 2, TokensInserted: 4, Events: 2}, st.WriteStats)
		return err
	}))

	_, err := db.Conn().Exec(ctx, "SET TimeZone = 'UTC'")
	require.NoError(t, err)
	rows := func(columns, from string) []string {
		return queryStrings(t, db.Conn(), "SELECT concat_ws(' | ', "+columns+") FROM "+from)
	}
	assert.Equal(t, []string{
		`bare | acme | f |  |  | [] | {} | <null> | o | <null> | <null> | 2026-11-23 10:11:12.345678+00 | 2026-11-23 10:11:12.345678+00`,
		`full | acme | t | Café 🔑 | Zeilen` + "\n" + `und "Anführungszeichen" | [{"name": "cms.entry", "models": ["ä"]}] | {"team": "web"} | 1999-12-31 23:59:59.000001+00 | platform/keys.hcl | 1969-07-20 20:17:40+00 | leaked | 2026-11-23 10:11:12.345678+00 | 2026-11-23 10:11:12.345678+00`,
	}, rows(`slug, tenant, universal, name, description, permissions, metadata, coalesce(expires_at::text, '<null>'), owner,
		coalesce(revoked_at::text, '<null>'), coalesce(revoked_reason, '<null>'), created_at, updated_at`,
		`keyprov.keys ORDER BY slug`))
	hex := func(s string) string { d := token.DigestOf(s); return fmt.Sprintf(`\x%x`, d[:]) }
	assert.Equal(t, []string{
		`bare | wat_…bbbb | active | sha256 | <null> | 2026-11-23 10:11:12.345678+00 | <null> | <null> | ` + hex("b"),
		`full | wat_…aaaa | active | sha256 | <null> | 2026-11-23 10:11:12.345678+00 | <null> | <null> | ` + hex("a"),
		`full | wat_…pppp | previous | sha256 | 2027-01-02 03:04:05.5+00 | 2026-11-23 10:11:12.345678+00 | <null> | <null> | ` + hex("p"),
		`full | wat_…rrrr | retired | sha256 | <null> | 2026-11-23 10:11:12.345678+00 | 2026-11-23 10:11:12.345678+00 | rotated | ` + hex("r"),
	}, rows(`k.slug, t.hint, t.state, t.scheme, coalesce(t.valid_until::text, '<null>'), t.created_at,
		coalesce(t.retired_at::text, '<null>'), coalesce(t.retired_reason, '<null>'), t.digest`,
		`keyprov.tokens t JOIN keyprov.keys k ON k.id = t.key_id ORDER BY k.slug, t.hint`))
	assert.Equal(t, []string{
		`2026-11-23 10:11:12.345678+00 | 0f8fad5b-d9cb-469f-a165-70867728950e | acme | full | created | {"name": {"new": "Café 🔑"}} | platform/keys.hcl | ci@example.com | first | t`,
		`2026-11-23 10:11:12.345678+00 | 0f8fad5b-d9cb-469f-a165-70867728950e | acme | full | revoked | {} | platform/keys.hcl | ci@example.com | <null> | t`,
	}, rows(`e.at, e.run_id, e.tenant, e.slug, e.action, e.changes, e.owner, e.actor, coalesce(e.reason, '<null>'), e.key_id = k.id`,
		`keyprov.events e JOIN keyprov.keys k ON k.slug = e.slug ORDER BY e.action`))
}

// TestWriteUpdatesEveryField: an update writes every content field (the
// columns of keycontent.Fields) and the disabled state, set and unset, and
// the digest of what it wrote.
func TestWriteUpdatesEveryField(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openMigrated(t, pgtest.NewDatabase(t))
	rows := variedRows()
	writeRows(t, db, rows[:1])
	at := time.Date(2027, 6, 30, 12, 30, 45, 123456000, time.UTC)
	for i, want := range append(rows, rows[0]) {
		want.Tenant, want.Slug = "acme", "k00"
		if i%2 == 0 {
			want.Disabled = store.Disabled{At: &at, Spec: true, Prune: i%4 == 0}
		}
		var id int64
		require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
			st, err := tx.Load(ctx)
			require.NoError(t, err)
			require.Len(t, st.Keys, 1)
			id = st.Keys[0].ID
			_, err = tx.Write(ctx, &store.Batch{RunID: "00000000-0000-4000-8000-000000000001", Owner: "o", Now: at,
				Keys: []store.KeyWrite{{KeyID: id, Tenant: "acme", Slug: "k00", Key: &want}}})
			return err
		}))
		require.NoError(t, db.View(ctx, func(tx *store.Tx) error {
			st, err := tx.Load(ctx)
			require.NoError(t, err)
			got := st.Keys[0]
			assert.Equal(t, id, got.ID)
			stored := want.Content // as PostgreSQL keeps it: to the microsecond
			for _, tm := range []**time.Time{&stored.ExpiresAt, &stored.RevokedAt} {
				if *tm != nil {
					us := (*tm).Truncate(time.Microsecond)
					*tm = &us
				}
			}
			for _, f := range keycontent.Fields {
				assert.True(t, f.Equal(&stored, &got.Content), "row %d: %s", i, f.Name)
			}
			assert.Equal(t, want.Disabled, got.Disabled, "row %d", i)
			d := store.ContentDigest(&want)
			assert.Equal(t, d[:], digestsByID(t, db)[id], "row %d", i)
			return nil
		}))
	}
}
