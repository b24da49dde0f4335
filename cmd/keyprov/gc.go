package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"

	"github.com/keyprov/keyprov/internal/hugepages"
	"github.com/keyprov/keyprov/spec"
)

// The garbage collector's settings around a run. Evaluating a spec
// allocates much and keeps little (cty values for every for_each
// instance); the plan and the writes that follow keep what they
// allocate. Tuning the collector for each phase keeps a large run both
// fast and within a bounded peak memory (BENCHMARKS.md). GOGC and
// GOMEMLIMIT, when set, win: an operator's setting is never overridden.

// bigSpec is the number of keys from which a run collects the evaluation's
// garbage before it reaches the store.
const bigSpec = 10_000

// memoryLimit is the soft memory limit of a run over n keys: what a plan,
// its rows and its events take, measured with the benchmark, with room.
func memoryLimit(n int) int64 { return 160<<20 + int64(n)*1600 }

// evaluationGC sets the collector for evaluating a spec, GOGC=200 unless
// GOGC is set: a large spec evaluates a fifth faster for a third more
// peak memory. The returned function restores the previous setting.
func evaluationGC(environ map[string]string) (restore func()) {
	if _, set := environ["GOGC"]; set {
		return func() {}
	}
	old := debug.SetGCPercent(200)
	return func() { debug.SetGCPercent(old) }
}

// afterEvaluationGC prepares the collector for the plan and the writes of
// a spec of n keys, once it is evaluated. From bigSpec keys, it collects
// the evaluation's garbage now rather than let it ride on top of the plan
// and the writes, where it would set the peak memory; and it keeps the
// heap near what the plan and the writes need, unless GOMEMLIMIT says
// otherwise: a soft limit (past it the collector works harder, it never
// fails an allocation).
//
// The limit is never below the memory the process holds once the
// evaluation's garbage is collected: the evaluation's peak is paid
// already, and the plan and the writes reuse its pages. Below it, the
// collector would run cycle after cycle to return pages the next
// allocations take again: at 1,000,000 keys the spec alone keeps 600 MB,
// the state and the plan 700 MB more, and a limit of memoryLimit(n)
// (1.76 GB) ran six back-to-back collections of 1.3 GB through the load
// and the diff (issue 20, BENCHMARKS.md).
//
// From there, the collector runs at GOGC=200 unless GOGC is set: the
// state a run loads is as large as the spec that stays (at 1,000,000 keys,
// 340 MB beside 370 MB), and at GOGC=100 loading it started a collection
// that marked the whole 650 MB for nothing: 0.3 s of CPU of a 4.5 s run,
// for 20 MB of peak memory (BENCHMARKS.md).
func afterEvaluationGC(environ map[string]string, n int) {
	if n < bigSpec {
		return
	}
	runtime.GC()
	if _, set := environ["GOMEMLIMIT"]; !set {
		debug.SetMemoryLimit(max(memoryLimit(n), heldMemory()))
	}
	if _, set := environ["GOGC"]; !set {
		debug.SetGCPercent(200)
	}
}

// heldMemory is the memory the Go runtime holds from the operating system
// (mapped and not released), which the soft memory limit counts.
func heldMemory() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}

// heapPerInputByte is what a run holds for each byte of its spec and
// variable files, with room: a no-op apply of 1,000,000 keys from a
// 30 MB variable file peaks at 870 MB (BENCHMARKS.md).
const heapPerInputByte = 48

// reserveHeap asks for huge pages where the heap of a large evaluation
// will grow (internal/hugepages), sized from the spec's and the variable
// files' bytes: a spec of 50,000 keys or more. A small spec asks for
// nothing. GODEBUG=disablethp=1 turns it off, as it turns off huge pages
// in the Go runtime.
func (a *app) reserveHeap(srcs []spec.Source, opts spec.Options) {
	var in int64
	for _, s := range srcs {
		in += int64(len(s.Bytes))
	}
	for _, s := range opts.VarSources {
		in += int64(len(s.Bytes))
	}
	for _, p := range opts.VarFiles {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			in += fi.Size()
		}
	}
	if in*heapPerInputByte < hugepages.MinBytes {
		return
	}
	r := hugepages.Reserve(in*heapPerInputByte, a.environ["GODEBUG"])
	a.log.Debug().Int64("huge_page_bytes", r.Bytes).Str("reason", r.Reason).Msg("heap reserved for huge pages")
}
