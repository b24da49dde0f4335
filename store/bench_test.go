package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/store"
)

// BenchmarkLoad measures reading n keys with their active tokens, as every
// apply does under its lock: the two scans and the decoding, against a real
// PostgreSQL. The rows look like the benchmark's tenant keys.
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ctx := context.Background()
			db, err := store.Open(ctx, store.Config{URL: pgtest.NewDatabase(b)})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close(ctx)
			if _, err := db.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			if _, err := db.Conn().Exec(ctx, fmt.Sprintf(`
INSERT INTO keyprov.keys (tenant, slug, name, permissions, metadata, owner)
SELECT format('tenant-%%s', i), 'website', format('Website of tenant %%s', i),
	'[{"name": "cms.read"}, {"rwd": "r", "name": "wb.page"}]', '{"team": "web", "tier": "free"}', 'platform'
FROM generate_series(1, %[1]d) i;
INSERT INTO keyprov.tokens (digest, key_id, hint, state)
SELECT sha256(id::text::bytea), id, 'wat_…abcd', 'active' FROM keyprov.keys ORDER BY 1`, n)); err != nil {
				b.Fatal(err)
			}
			if _, err := db.Conn().Exec(ctx, "VACUUM ANALYZE keyprov.keys, keyprov.tokens"); err != nil {
				b.Fatal(err)
			}
			// The rows' content digests, as an apply writes them, and the
			// rows as a spec would ask for them.
			var rows []store.KeyRow
			err = db.Update(ctx, func(tx *store.Tx) error {
				st, err := tx.Load(ctx)
				if err != nil {
					return err
				}
				ids, digests := make([]int64, len(st.Keys)), make([][]byte, len(st.Keys))
				for i, k := range st.Keys {
					rows = append(rows, contentOf(k))
					d := store.ContentDigest(&rows[i])
					ids[i], digests[i] = k.ID, d[:]
				}
				_, err = db.Conn().Exec(ctx, `UPDATE keyprov.keys k SET content_digest = u.d FROM unnest($1::bigint[], $2::bytea[]) AS u(id, d) WHERE k.id = u.id`, ids, digests)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			want := expectRows(rows)
			// In full (list, and --full-read), and without content (every
			// apply with nothing to change).
			for name, load := range map[string]func(*store.Tx, context.Context) (*store.State, error){
				"full": (*store.Tx).Load,
				"elided": func(tx *store.Tx, ctx context.Context) (*store.State, error) {
					st, err := tx.LoadExpected(ctx, want)
					if err == nil && st.ContentRead != 0 {
						err = fmt.Errorf("read the content of %d keys, want none", st.ContentRead)
					}
					return st, err
				},
			} {
				b.Run(name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						err := db.View(ctx, func(tx *store.Tx) error {
							st, err := load(tx, ctx)
							if err == nil && (len(st.Keys) != n || st.Keys[n-1].Active() == nil) {
								err = fmt.Errorf("loaded %d keys, want %d with tokens", len(st.Keys), n)
							}
							return err
						})
						if err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
