package verify_test

import (
	"context"
	"testing"
	"time"

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
		{"cache", []verify.Option{verify.WithCache(time.Minute, 10_000)}},
		{"cache and last used", []verify.Option{verify.WithCache(time.Minute, 10_000), verify.WithLastUsed(time.Second)}},
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
