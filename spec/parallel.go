package spec

import (
	"runtime"
	"sync"

	"github.com/hashicorp/hcl/v2"
)

// parallelMin is the number of instances from which evaluation is spread
// across cores; below it the goroutines cost more than they save.
const parallelMin = 512

// evalInstances evaluates every instance, in parallel for large specs. The
// result keeps instance order (and so does the order of diagnostics), so the
// output does not depend on scheduling.
func evalInstances(e *evaluator, settings Settings, insts []instance) ([]*Key, hcl.Diagnostics) {
	keys := make([]*Key, len(insts))
	diags := make([]hcl.Diagnostics, len(insts))
	workers := runtime.GOMAXPROCS(0)
	if len(insts) < parallelMin || workers < 2 {
		for i, in := range insts {
			keys[i], diags[i] = e.evalInstance(settings, in)
		}
	} else {
		var wg sync.WaitGroup
		chunk := (len(insts) + workers - 1) / workers
		for lo := 0; lo < len(insts); lo += chunk {
			hi := min(lo+chunk, len(insts))
			wg.Go(func() {
				for i := lo; i < hi; i++ {
					keys[i], diags[i] = e.evalInstance(settings, insts[i])
				}
			})
		}
		wg.Wait()
	}
	var all hcl.Diagnostics
	out := keys[:0]
	for i, k := range keys {
		all = append(all, diags[i]...)
		if k != nil {
			out = append(out, k)
		}
	}
	return out, all
}
