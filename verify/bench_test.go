package verify_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/keyprov/keyprov/token"
	"github.com/keyprov/keyprov/verify"
)

// BenchmarkVerify measures Verify of a valid token against a local
// PostgreSQL: without cache every call is one indexed query; with the cache
// a call is a digest and a table lookup.
func BenchmarkVerify(b *testing.B) {
	f, _ := standardFixture(b)
	configs := []struct {
		name string
		opts []verify.Option
	}{
		{"no cache", nil},
		{"cache", []verify.Option{verify.WithCache(time.Hour, 10_000)}},
		{"cache and last used", []verify.Option{verify.WithCache(time.Hour, 10_000), verify.WithLastUsed(time.Second)}},
	}
	for _, c := range configs {
		v, err := verify.New(f.pool, c.opts...)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tokFrontend); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+" parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Verify(ctx, tokFrontend); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		_ = v.Close(ctx)
	}
	b.Run("malformed", func(b *testing.B) {
		v, _ := verify.New(f.pool)
		b.ReportAllocs()
		for b.Loop() {
			_, _ = v.Verify(context.Background(), "sk_live_not_ours")
		}
	})
}

// BenchmarkVerifyTokenSQL compares keyprov.verify_token with the bare
// indexed SELECT it replaces (the README's former contract), on the same
// digest: what the function costs an application in another language.
func BenchmarkVerifyTokenSQL(b *testing.B) {
	f, _ := standardFixture(b)
	ctx := context.Background()
	d := token.DigestOf(tokWebsite2)
	queries := []struct{ name, sql string }{
		{"function", "SELECT status, tenant, slug, universal, permissions, metadata, expires_at FROM keyprov.verify_token($1, 'acme')"},
		{"bare select", `SELECT k.tenant, k.slug, k.universal, k.permissions, k.metadata, k.expires_at, t.state,
       CASE
         WHEN k.revoked_at IS NOT NULL THEN 'revoked'
         WHEN k.expires_at IS NOT NULL AND k.expires_at <= now() THEN 'expired'
         WHEN t.state = 'active' THEN 'valid'
         WHEN t.state = 'previous' AND t.valid_until > now() THEN 'valid'
         ELSE 'retired'
       END AS status
FROM keyprov.tokens t JOIN keyprov.keys k ON k.id = t.key_id
WHERE t.digest = $1 AND t.scheme = 'sha256'`},
	}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				rows, err := f.pool.Query(ctx, q.sql, d[:])
				if err != nil {
					b.Fatal(err)
				}
				for rows.Next() {
				}
				if err := rows.Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyCachedWithChanges measures cached verifications while the
// store changes every 100 ms (an apply, a revoke elsewhere): each change
// drops the cache within a second, and the next call for each token asks
// the store again.
func BenchmarkVerifyCachedWithChanges(b *testing.B) {
	f, _ := standardFixture(b)
	ctx := context.Background()
	v, err := verify.New(f.pool, verify.WithCache(time.Hour, 10_000))
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close(ctx)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_, _ = f.db.Conn().Exec(ctx, "UPDATE keyprov.keys SET description = md5(random()::text) WHERE slug = 'old'")
			}
		}
	})
	toks := []string{tokFrontend, tokWebsite, tokWebsite2, tokRotated2}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := v.Verify(ctx, toks[i%len(toks)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	close(stop)
	wg.Wait()
}
