package store

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestStoredDigests: LoadExpected's digests beside the keys find each
// key's digest whatever the order in which the rows came and the keys are
// asked for; a key without a digest (NULL, a wrong length) or not loaded
// matches nothing.
func TestStoredDigests(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 10, 1000} {
		ids := rng.Perm(n * 2)[:n] // distinct, sparse, in any order
		digest := func(id int) [32]byte { return sha256.Sum256([]byte(fmt.Sprint(id))) }
		var sd storedDigests
		for _, id := range ids {
			d := digest(id)
			switch id % 7 {
			case 0:
				sd.add(int64(id), nil) // NULL
			case 1:
				sd.add(int64(id), d[:31]) // not a digest
			default:
				sd.add(int64(id), d[:])
			}
		}
		sd.sort()
		identity := make([]int, len(ids))
		for i := range identity {
			identity[i] = i
		}
		for _, order := range [][]int{identity, rng.Perm(len(ids))} {
			for _, at := range order {
				id := ids[at]
				d := digest(id)
				assert.Equal(t, id%7 > 1, sd.matches(int64(id), &d), "n=%d id=%d", n, id)
				other := digest(id + 1)
				assert.False(t, sd.matches(int64(id), &other), "n=%d id=%d, another digest", n, id)
			}
			var zero [32]byte
			if len(ids) > 0 {
				assert.False(t, sd.matches(int64(ids[0]), &zero))
			}
			missing := digest(-1)
			assert.False(t, sd.matches(int64(n*2+5), &missing), "an id not loaded")
		}
	}
}
