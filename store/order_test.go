package store

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNewTokensByDigest checks the sort by the digests' first eight bytes
// against a sort of the whole digests, with many digests that share their
// first eight bytes (and some that share all but the last).
func TestNewTokensByDigest(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	b := &Batch{}
	for i := 0; i < 500; i++ {
		kw := KeyWrite{}
		for j := 0; j < i%3; j++ { // keys with no, one and two new tokens
			var nt NewToken
			for k := range nt.Digest {
				nt.Digest[k] = byte(r.IntN(256))
			}
			switch r.IntN(4) {
			case 0: // one of a few prefixes
				copy(nt.Digest[:8], []byte{0x7f, 0, 0, 0, 0, 0, 0, byte(r.IntN(3))})
			case 1: // equal up to the last byte
				nt.Digest = [32]byte{0x80}
				nt.Digest[31] = byte(r.IntN(256))
			}
			kw.NewTokens = append(kw.NewTokens, nt)
		}
		b.Keys = append(b.Keys, kw)
	}
	digests := func(refs []rowRef) [][]byte {
		var ds [][]byte
		for _, ref := range refs {
			ds = append(ds, b.Keys[ref.key].NewTokens[ref.i].Digest[:])
		}
		return ds
	}
	got := newTokensByDigest(b)
	require.Len(t, got, 499) // 500 keys: 167 with none, 167 with one, 166 with two
	want := digests(got)
	slices.SortFunc(want, bytes.Compare)
	assert.Equal(t, want, digests(got))
	// Every token is there once.
	seen := map[rowRef]bool{}
	for _, ref := range got {
		assert.False(t, seen[ref], "%v twice", ref)
		seen[ref] = true
	}
}
