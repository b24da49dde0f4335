// Command keyprov provisions API keys from a reviewed spec: see README.md.
package main

import (
	"context"
	"fmt"
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
	// KEYPROV_CPU_PROFILE=FILE writes a CPU profile of the run, for pprof.
	if p := os.Getenv("KEYPROV_CPU_PROFILE"); p != "" {
		if f, err := os.Create(p); err == nil && pprof.StartCPUProfile(f) == nil {
			defer f.Close()
		} else {
			fmt.Fprintf(os.Stderr, "keyprov: KEYPROV_CPU_PROFILE: cannot write %s\n", p)
		}
	}
	code := run(ctx, os.Args[1:], stdio{os.Stdin, os.Stdout, os.Stderr}, os.Environ())
	stop()
	pprof.StopCPUProfile()
	os.Exit(code)
}
