package spec

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/keyprov/keyprov/internal/pgtest"
)

// TestMain runs the whole suite twice: with the speed layer (speed.go,
// spec/internal/fast) and without it. Both runs must pass: the layer may
// only make evaluation faster, never change what it gives. (The canonical
// JSON test starts a PostgreSQL cluster, stopped at the end, unless
// KEYPROV_TEST_DATABASE_URL points at a server.)
//
// Only tests run twice: a benchmark measures the layer as shipped, a fuzz
// target fuzzes once (FuzzSpec compares both ways itself), and a listing
// lists once.
func TestMain(m *testing.M) {
	code := m.Run()
	if !flag.Parsed() || (flagSet("test.bench") || flagSet("test.fuzz") || flagSet("test.list")) {
		pgtest.StopShared()
		os.Exit(code)
	}
	speedOff.Store(true)
	if testing.Verbose() {
		fmt.Println("=== the suite again, with the speed layer off")
	}
	if again := m.Run(); code == 0 {
		code = again
	}
	pgtest.StopShared()
	os.Exit(code)
}

// flagSet reports whether the go test flag name is set to a non-empty value.
func flagSet(name string) bool {
	f := flag.Lookup(name)
	return f != nil && f.Value.String() != ""
}
