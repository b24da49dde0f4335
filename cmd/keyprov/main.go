// Command keyprov provisions API keys from a reviewed spec: see README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, a second one kills the process at once.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], stdio{os.Stdin, os.Stdout, os.Stderr}, os.Environ())
	stop()
	os.Exit(code)
}

// startCPUProfile writes a CPU profile of the run to KEYPROV_CPU_PROFILE,
// for pprof, until the returned function is called.
func (a *app) startCPUProfile() (stop func()) {
	f, err := os.Create(a.cfg.CPUProfile)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		a.errorf("keyprov: KEYPROV_CPU_PROFILE: cannot write %s", a.cfg.CPUProfile)
		if f != nil {
			f.Close()
		}
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// writeHeapProfile writes a heap profile of the run to
// KEYPROV_HEAP_PROFILE, for pprof: the run's allocations and what the last
// collection found in use.
func (a *app) writeHeapProfile() {
	f, err := os.Create(a.cfg.HeapProfile)
	if err == nil {
		err = pprof.Lookup("heap").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		a.errorf("keyprov: KEYPROV_HEAP_PROFILE: cannot write %s", a.cfg.HeapProfile)
	}
}
