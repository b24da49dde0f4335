package fast

import (
	"runtime"
	"sync"
)

// ParallelMin is the number of items from which Each spreads the work
// across cores; below it the goroutines cost more than they save.
const ParallelMin = 512

// Each calls f(i) for every i in [0, n), on every core when n is at least
// ParallelMin, in contiguous chunks. f must only write what belongs to i:
// the caller keeps results in a slice indexed by i, so that what it makes
// of them does not depend on scheduling.
func Each(n int, f func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < ParallelMin || workers < 2 {
		for i := range n {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				f(i)
			}
		})
	}
	wg.Wait()
}

// Both runs f and g side by side and returns when both have.
func Both(f, g func()) {
	var wg sync.WaitGroup
	wg.Go(f)
	g()
	wg.Wait()
}

// Background runs tasks one after the other on another core and closes
// the returned channel when they are done (nil: no task). Nothing waits
// for it: the tasks only fill caches that the evaluation waits on.
func Background(tasks []func()) <-chan struct{} {
	if len(tasks) == 0 {
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, t := range tasks {
			t()
		}
	}()
	return done
}
