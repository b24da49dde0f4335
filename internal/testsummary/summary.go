// Package testsummary collects the figures that long tests report (kills
// survived, hostile cases, secrets scanned) so that `make test` can print
// them at the end of the run: go test shows a passing package's output
// only with -v.
package testsummary

import (
	"fmt"
	"os"
)

// EnvFile names the file that receives the figures; `make test` sets it and
// prints the file once the suite has passed. Without it, Record does nothing.
const EnvFile = "KEYPROV_TEST_SUMMARY"

// Record appends one line of figures.
func Record(format string, args ...any) {
	p := os.Getenv(EnvFile)
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
		return
	}
	defer f.Close()
	// One write per line: appends of a few hundred bytes do not interleave.
	if _, err := fmt.Fprintf(f, format+"\n", args...); err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
	}
}
