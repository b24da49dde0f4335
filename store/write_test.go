package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
			Key:       &store.KeyRow{Tenant: "acme", Slug: slug, Name: slug, Permissions: []byte("[]"), Metadata: []byte("{}"), Owner: "o"},
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
			db := open(t, store.Config{URL: u})
			_, err := db.Migrate(ctx)
			require.NoError(t, err)
			_, err = db.Conn().Exec(ctx, fmt.Sprintf("ALTER SEQUENCE keyprov.keys_id_seq INCREMENT BY %d", step))
			require.NoError(t, err)
			for round := 0; round < 2; round++ {
				b := createBatch(50, round*50)
				require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
					st, err := tx.Write(ctx, b)
					require.Equal(t, int64(50), st.KeysInserted)
					return err
				}))
			}
			// Every token and event points at the key it was written for.
			rows, err := db.Conn().Query(ctx, `SELECT count(*) FROM keyprov.keys k
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
