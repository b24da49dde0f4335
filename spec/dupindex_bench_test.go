package spec

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// benchDupKeys returns n keys as a for_each block evaluates them: distinct
// addresses (one tenant each), one known token each, no duplicate.
func benchDupKeys(n int) []*Key {
	keys := make([]*Key, n)
	decl := &blockDecl{typ: "tenant_key", label: "website", defRange: hcl.Range{Filename: "keys.hcl"}}
	for i := range keys {
		t := fmt.Sprintf("t%07d", i)
		var seed [8]byte
		binary.LittleEndian.PutUint64(seed[:], uint64(i))
		keys[i] = &Key{
			Address: Address{Tenant: t, Slug: "website"},
			Token:   Token{Digest: sha256.Sum256(seed[:]), Known: true, Set: true},
			Block:   BlockRef{decl: decl, InstanceKey: t, HasForEach: true},
		}
	}
	return keys
}

// BenchmarkCheckDuplicates measures the duplicate checks at the end of an
// evaluation that has none, the case of every valid spec (issue 20 item 5).
func BenchmarkCheckDuplicates(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		keys := benchDupKeys(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				e := &evaluator{}
				e.checkDuplicates(keys)
				if len(e.diags) != 0 {
					b.Fatal(e.diags)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
		})
	}
}
