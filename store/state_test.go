package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/token"
)

// TestLoadJoinsTokensToKeys checks Load's client-side join against the same
// join done by PostgreSQL, on a store whose rows are in no useful physical
// order: keys updated after they were written (so their rows moved), tokens
// written in random key order, keys with an active and a previous token,
// with retired tokens only, and with none.
//
// Key ids come from a sequence: dense, found through a slice, or (here with
// a sequence that steps by 1000) sparse, found through a map.
func TestLoadJoinsTokensToKeys(t *testing.T) {
	t.Parallel()
	for name, step := range map[string]int{"dense ids": 1, "sparse ids": 1000} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testLoadJoin(t, step)
		})
	}
}

func testLoadJoin(t *testing.T, step int) {
	ctx := context.Background()
	db := openMigrated(t, pgtest.NewDatabase(t))
	_, err := db.Conn().Exec(ctx, fmt.Sprintf("ALTER SEQUENCE keyprov.keys_id_seq INCREMENT BY %d", step))
	require.NoError(t, err)

	const n = 300
	b := createBatch(n, 0)
	for i := range b.Keys {
		kw := &b.Keys[i]
		switch i % 5 {
		case 1: // an active and a previous token
			kw.NewTokens = append(kw.NewTokens, store.NewToken{Digest: token.DigestOf(fmt.Sprint("prev", i)), Hint: "wat_…prev", State: store.StatePrevious, ValidUntil: &b.Now})
		case 2: // retired tokens only
			kw.NewTokens = []store.NewToken{{Digest: token.DigestOf(fmt.Sprint("old", i)), Hint: "wat_…old", State: store.StateRetired, RetiredReason: "revoked"}}
		case 3: // no token at all
			kw.NewTokens = nil
		}
	}
	require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.Write(ctx, b)
		return err
	}))
	// Move rows: every seventh key is updated (a new row version at the end
	// of the table), and the tokens are rewritten in random order.
	_, err = db.Conn().Exec(ctx, "UPDATE keyprov.keys SET name = name || ' (renamed)' WHERE slug LIKE '%0' OR slug LIKE '%7'")
	require.NoError(t, err)
	_, err = db.Conn().Exec(ctx, `CREATE TEMP TABLE t AS SELECT * FROM keyprov.tokens;
		DELETE FROM keyprov.tokens;
		INSERT INTO keyprov.tokens SELECT * FROM t ORDER BY md5(key_id::text || hint)`)
	require.NoError(t, err)

	// The reference: one query joining on the server, ordered by key id.
	want := map[int64][]string{}
	var wantIDs []int64
	rows, err := db.Conn().Query(ctx, `SELECT k.id, concat_ws('|', k.tenant, k.slug, k.name, k.permissions::text, k.metadata::text, k.owner),
		coalesce(string_agg(concat_ws('|', t.hint, t.state, encode(t.digest, 'hex'), (t.valid_until IS NOT NULL)::text), ',' ORDER BY t.state)
			FILTER (WHERE t.digest IS NOT NULL), '')
		FROM keyprov.keys k LEFT JOIN keyprov.tokens t ON t.key_id = k.id AND t.state <> 'retired'
		GROUP BY k.id ORDER BY k.id`)
	require.NoError(t, err)
	for rows.Next() {
		var (
			id          int64
			key, tokens string
		)
		require.NoError(t, rows.Scan(&id, &key, &tokens))
		want[id] = []string{key, tokens}
		wantIDs = append(wantIDs, id)
	}
	require.NoError(t, rows.Err())
	require.Len(t, wantIDs, n)

	check := func(t *testing.T, st *store.State) {
		var ids []int64
		for _, k := range st.Keys {
			ids = append(ids, k.ID)
			var toks []string
			for _, tk := range k.Tokens {
				toks = append(toks, fmt.Sprintf("%s|%s|%x|%t", tk.Hint, tk.State, tk.Digest[:], tk.ValidUntil != nil))
			}
			slices.SortFunc(toks, func(a, b string) int { // by state, as the reference
				return strings.Compare(strings.Split(a, "|")[1], strings.Split(b, "|")[1])
			})
			got := []string{fmt.Sprintf("%s|%s|%s|%s|%s|%s", k.Tenant, k.Slug, k.Name, k.Permissions, k.Metadata, k.Owner), strings.Join(toks, ",")}
			assert.Equal(t, want[k.ID], got, "key %d", k.ID)
		}
		assert.Equal(t, wantIDs, ids, "every key once, in id order")
	}
	for name, run := range map[string]func(context.Context, func(*store.Tx) error) error{
		"in an update": db.Update, // READ COMMITTED, holding the lock
		"in a view":    db.View,   // REPEATABLE READ, without it
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, run(ctx, func(tx *store.Tx) error {
				st, err := tx.Load(ctx)
				if err == nil {
					check(t, st)
				}
				return err
			}))
		})
	}
}

// TestViewReadsOneSnapshot: a view's queries (Load makes two) do not see
// what another session commits in between.
func TestViewReadsOneSnapshot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	db := openMigrated(t, u)
	other := open(t, store.Config{URL: u})

	require.NoError(t, db.View(ctx, func(tx *store.Tx) error {
		before, err := tx.Load(ctx)
		require.NoError(t, err)
		require.NoError(t, other.Update(ctx, func(otx *store.Tx) error {
			_, err := otx.Write(ctx, createBatch(3, 0))
			return err
		}))
		after, err := tx.Load(ctx)
		require.NoError(t, err)
		assert.Len(t, before.Keys, 0)
		assert.Len(t, after.Keys, 0, "the keys committed meanwhile are not seen")
		return nil
	}))
	require.NoError(t, db.View(ctx, func(tx *store.Tx) error {
		st, err := tx.Load(ctx)
		require.NoError(t, err)
		assert.Len(t, st.Keys, 3, "a new view sees them")
		for _, k := range st.Keys {
			assert.Len(t, k.Tokens, 1, "with their tokens")
		}
		return nil
	}))
}
