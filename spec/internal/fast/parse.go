package fast

import (
	"bytes"
	"runtime"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// PartSize is the smallest part a spec in native syntax is cut into to be
// parsed in parallel, so files from twice that size are cut: a file of
// 10,000 generated key blocks (2 MB) spent more time in HCL's scanner and
// parser, on one core, than in evaluating the keys.
const PartSize = 256 << 10

// ParseNative parses a large spec file in native syntax whose top level
// can be cut between blocks ("}" at the end of a line, found by
// NestingBound) in parts, in parallel, each from its own position in the
// file, and merges the parts' bodies in order. The result is the one HCL
// gives for the whole file. It reports false whenever it might not be (a
// part has errors, or top-level arguments that HCL would check against
// each other) or the file is too small to cut: the caller then parses the
// whole file as one.
func ParseNative(src []byte, filename string) (hcl.Body, hcl.Diagnostics, bool) {
	return ParseInParts(src, filename, PartSize)
}

// ParseInParts is ParseNative with parts of at least size bytes.
func ParseInParts(src []byte, filename string, size int) (hcl.Body, hcl.Diagnostics, bool) {
	parts := CutBody(src, size)
	if len(parts) < 2 {
		return nil, nil, false
	}
	bodies := make([]hcl.Body, len(parts))
	diags := make([]hcl.Diagnostics, len(parts))
	var (
		wg   sync.WaitGroup
		next = make(chan int, len(parts))
	)
	for i := range parts {
		next <- i
	}
	close(next)
	for range min(runtime.GOMAXPROCS(0), len(parts)) {
		wg.Go(func() {
			for i := range next {
				p := parts[i]
				f, ds := hclsyntax.ParseConfig(src[p.Start.Byte:p.End], filename, p.Start)
				bodies[i], diags[i] = f.Body, ds
			}
		})
	}
	wg.Wait()
	var all hcl.Diagnostics
	for i := range parts {
		if diags[i].HasErrors() || len(bodies[i].(*hclsyntax.Body).Attributes) > 0 {
			return nil, nil, false
		}
		all = append(all, diags[i]...)
	}
	return hcl.MergeBodies(bodies), all, true
}

// BodyPart is src[Start.Byte:End].
type BodyPart struct {
	Start hcl.Pos
	End   int
}

// CutBody cuts src into parts of at least size bytes at places where
// NestingBound finds the top level between two blocks, or returns nil
// when it cannot follow src.
func CutBody(src []byte, size int) []BodyPart {
	if len(src) < 2*size {
		return nil
	}
	var parts []BodyPart
	start := hcl.InitialPos
	if _, ok := NestingBound(src, func(at int) {
		if at-start.Byte < size || len(src)-at < size {
			return
		}
		parts = append(parts, BodyPart{Start: start, End: at})
		start = hcl.Pos{Line: start.Line + bytes.Count(src[start.Byte:at], []byte{'\n'}), Column: 1, Byte: at}
	}); !ok || len(parts) == 0 {
		return nil
	}
	return append(parts, BodyPart{Start: start, End: len(src)})
}
