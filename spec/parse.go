package spec

import (
	"bytes"
	"runtime"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// parsePart is the smallest part a spec in native syntax is cut into to be
// parsed in parallel, so files from twice that size are cut: a file of
// 10,000 generated key blocks (2 MB) spent more time in HCL's scanner and
// parser, on one core, than in evaluating the keys.
const parsePart = 256 << 10

// parseNative parses a spec file in native syntax. A large file whose
// top level can be cut between blocks ("}" at the end of a line, found by
// quickNesting) is parsed in parts, in parallel, each from its own
// position in the file, and the parts' bodies merged in order. The result
// is the one HCL gives for the whole file; whenever it might not be (a
// part has errors, or top-level arguments that HCL would check against
// each other), the whole file is parsed as one.
func parseNative(src []byte, filename string) (hcl.Body, hcl.Diagnostics) {
	return parseInParts(src, filename, parsePart)
}

// parseInParts is parseNative with parts of at least size bytes.
func parseInParts(src []byte, filename string, size int) (hcl.Body, hcl.Diagnostics) {
	parts := cutBody(src, size)
	if len(parts) < 2 {
		return parseWhole(src, filename)
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
				f, ds := hclsyntax.ParseConfig(src[p.start.Byte:p.end], filename, p.start)
				bodies[i], diags[i] = f.Body, ds
			}
		})
	}
	wg.Wait()
	var all hcl.Diagnostics
	for i := range parts {
		if diags[i].HasErrors() || len(bodies[i].(*hclsyntax.Body).Attributes) > 0 {
			return parseWhole(src, filename)
		}
		all = append(all, diags[i]...)
	}
	return hcl.MergeBodies(bodies), all
}

func parseWhole(src []byte, filename string) (hcl.Body, hcl.Diagnostics) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if f == nil {
		return nil, diags
	}
	return f.Body, diags
}

// bodyPart is src[start.Byte:end].
type bodyPart struct {
	start hcl.Pos
	end   int
}

// cutBody cuts src into parts of at least size bytes at places where
// quickNesting finds the top level between two blocks, or returns nil
// when it cannot follow src.
func cutBody(src []byte, size int) []bodyPart {
	if len(src) < 2*size {
		return nil
	}
	var parts []bodyPart
	start := hcl.InitialPos
	if _, ok := quickNesting(src, func(at int) {
		if at-start.Byte < size || len(src)-at < size {
			return
		}
		parts = append(parts, bodyPart{start: start, end: at})
		start = hcl.Pos{Line: start.Line + bytes.Count(src[start.Byte:at], []byte{'\n'}), Column: 1, Byte: at}
	}); !ok || len(parts) == 0 {
		return nil
	}
	return append(parts, bodyPart{start: start, end: len(src)})
}
