package spec

import (
	"runtime"
	"sync"

	"github.com/hashicorp/hcl/v2"
)

// parallelMin is the number of instances from which evaluation is spread
// across cores; below it the goroutines cost more than they save.
const parallelMin = 512

// evalInstances evaluates every instance, in parallel for large specs. It
// returns the keys whose address could be evaluated and, for each, whether
// it is valid. The result keeps instance order (and so does the order of
// diagnostics), so the output does not depend on scheduling.
func evalInstances(e *evaluator, settings Settings, insts []instance) ([]*Key, []bool, hcl.Diagnostics) {
	keys := make([]*Key, len(insts))
	valid := make([]bool, len(insts))
	diags := make([]hcl.Diagnostics, len(insts))
	workers := runtime.GOMAXPROCS(0)
	if len(insts) < parallelMin || workers < 2 {
		for i, in := range insts {
			keys[i], valid[i], diags[i] = e.evalInstance(settings, in)
		}
	} else {
		var wg sync.WaitGroup
		chunk := (len(insts) + workers - 1) / workers
		for lo := 0; lo < len(insts); lo += chunk {
			hi := min(lo+chunk, len(insts))
			wg.Go(func() {
				for i := lo; i < hi; i++ {
					keys[i], valid[i], diags[i] = e.evalInstance(settings, insts[i])
				}
			})
		}
		wg.Wait()
	}
	var all hcl.Diagnostics
	outKeys, outValid := keys[:0], valid[:0]
	for i, k := range keys {
		all = append(all, diags[i]...)
		if k != nil {
			outKeys = append(outKeys, k)
			outValid = append(outValid, valid[i])
		}
	}
	return outKeys, outValid, all
}
