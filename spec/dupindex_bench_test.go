package spec

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"syscall"
	"testing"
	"time"

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

// cpuTime is the CPU time this process has used, on every core.
func cpuTime(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

// BenchmarkCheckDuplicates measures the duplicate checks at the end of an
// evaluation that has none, the case of every valid spec (issue 20 item 5).
// cpu-ns/op, the CPU time of the process (the collector's included), is
// steadier than ns/op on a shared machine.
func BenchmarkCheckDuplicates(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		keys := benchDupKeys(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuTime(b)
			defer func() { b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op") }()
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
