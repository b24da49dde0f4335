package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/internal/testsummary"
)

// keyprovBin is the keyprov binary that TestMain builds once for all tests.
var keyprovBin string

// TestMain builds the keyprov binary (without the race detector: the tests
// measure the binary as it ships), runs the tests, stops the clusters they
// started and prints the figures of the run.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "keyprov-faults-bin-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	keyprovBin = filepath.Join(dir, "keyprov")
	if out, err := exec.Command(goTool, "build", "-o", keyprovBin, "github.com/keyprov/keyprov/cmd/keyprov").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "faults: building keyprov: %v\n%s", err, out)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	stopPrivateCluster()
	pgtest.StopShared()
	_ = os.RemoveAll(dir)
	printFigures()
	os.Exit(code)
}

// figures are the counts printed at the end of the run: kills survived,
// fleet sizes, PgBouncer runs. Each test sets its own lines.
var figures = struct {
	sync.Mutex
	lines map[string]string
}{lines: map[string]string{}}

// figure records one line of the summary under key (lines print sorted by key).
func figure(key, format string, args ...any) {
	figures.Lock()
	defer figures.Unlock()
	figures.lines[key] = fmt.Sprintf(format, args...)
}

// printFigures writes the summary to stdout and to the test summary that
// make test prints (go test shows a passing package's output only with -v).
func printFigures() {
	figures.Lock()
	defer figures.Unlock()
	if len(figures.lines) == 0 {
		return
	}
	keys := make([]string, 0, len(figures.lines))
	for k := range figures.lines {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("faults: figures of this run\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s\n", figures.lines[k])
	}
	fmt.Print(b.String())
	testsummary.Record("%s", strings.TrimRight(b.String(), "\n"))
}

// setting reads a positive integer setting from the environment.
func setting(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err == nil && n > 0 {
			return n
		}
		fmt.Fprintf(os.Stderr, "faults: ignoring %s=%q: want a positive integer\n", name, v)
	}
	return def
}
