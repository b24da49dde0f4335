package verify_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/verify"
)

// TestConcurrentVerify runs many goroutines against one Verifier (run it
// with -race); a cache smaller than the set of tokens makes entries churn.
func TestConcurrentVerify(t *testing.T) {
	f, _ := standardFixture(t)
	cases := []struct{ tok, code string }{
		{tokFrontend, ""}, {tokWebsite, ""}, {tokWebsite2, ""}, {tokRotated2, ""},
		{tokExpired, verify.CodeExpired}, {tokRevoked, verify.CodeRevoked},
		{tokRotated1, verify.CodeRetired}, {tokUnknown, verify.CodeUnknown},
		{"wat_short", verify.CodeMalformed},
	}
	configs := map[string][]verify.Option{
		"no cache":            nil,
		"small cache":         {verify.WithCache(time.Minute, 3)},
		"cache and last used": {verify.WithCache(time.Minute, 100), verify.WithLastUsed(time.Millisecond)},
	}
	for name, opts := range configs {
		t.Run(name, func(t *testing.T) {
			v, err := verify.New(f.pool, opts...)
			require.NoError(t, err)
			var wg sync.WaitGroup
			for g := range 32 {
				wg.Go(func() {
					for i := range 60 {
						c := cases[(g+i)%len(cases)]
						key, err := v.Verify(context.Background(), c.tok)
						if !assert.Equal(t, c.code, verify.Code(err), "token %d: %v", (g+i)%len(cases), err) {
							return
						}
						if c.code == "" {
							assert.NotEmpty(t, key.Address)
							_ = key.Allows("acme")
						}
					}
				})
			}
			wg.Wait()
			require.NoError(t, v.Close(context.Background()))
		})
	}
}
