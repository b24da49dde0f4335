package spec

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/require"
)

// Test tokens. They look random and pass every token rule.
const (
	tokA = "wat_Q3xT9mLpV2rZ8kW4nB7yH1cJ5fD6gS0a"
	tokB = "wat_Lm4N8pQ2rT6vX0zB3dF7hJ1kM5sW9yC2"
	tokC = "wat_r7Gk2PzW9qLx4VbN1mT8sYc3Hd6Jf0Ea"
	tokD = "wat_Ny5Tq8Wz1Kc4Rm7Xb0Lp3Vd6Hs9Gf2Ju"
)

// fakeEnv is a fixed environment for env() and KEYPROV_VAR_<name>.
type fakeEnv map[string]string

func (e fakeEnv) lookup(name string) (string, bool) {
	v, ok := e[name]
	return v, ok
}

// writeFiles writes files (relative name -> content) under a new temporary
// directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

// load writes the spec text to keys.hcl in a temporary directory, chdirs
// there (so that diagnostics name "keys.hcl") and loads it.
func load(t *testing.T, text string, opts Options) (*Spec, hcl.Diagnostics) {
	t.Helper()
	return loadFiles(t, map[string]string{"keys.hcl": text}, opts)
}

// loadFiles writes files to a temporary directory, chdirs there and loads
// opts.Paths (default: every *.hcl and *.hcl.json file of the directory).
func loadFiles(t *testing.T, files map[string]string, opts Options) (*Spec, hcl.Diagnostics) {
	t.Helper()
	dir := writeFiles(t, files)
	t.Chdir(dir)
	if len(opts.Paths) == 0 {
		opts.Paths = []string{"."}
		if _, ok := files["keys.hcl"]; ok && len(files) == 1 {
			opts.Paths = []string{"keys.hcl"}
		}
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = fakeEnv{}.lookup
	}
	return Load(opts)
}

// diag is the part of a diagnostic the tests assert.
type diag struct {
	Pos     string // file:line:col of the subject, "" when it has none
	Summary string
	Detail  string // a substring of the detail
	Address string
}

func diagsOf(ds hcl.Diagnostics) []diag {
	out := make([]diag, 0, len(ds))
	for _, d := range ds {
		x := diag{Summary: d.Summary, Detail: d.Detail, Address: DiagnosticAddress(d)}
		if d.Subject != nil {
			x.Pos = Pos(*d.Subject)
		}
		out = append(out, x)
	}
	return out
}

// requireDiags asserts that ds are exactly want (in any order), each
// detail containing the wanted substring.
func requireDiags(t *testing.T, ds hcl.Diagnostics, want ...diag) {
	t.Helper()
	got := diagsOf(ds)
	key := func(d diag) string { return d.Pos + "\x00" + d.Summary + "\x00" + d.Address }
	sort.SliceStable(got, func(i, j int) bool { return key(got[i]) < key(got[j]) })
	sort.SliceStable(want, func(i, j int) bool { return key(want[i]) < key(want[j]) })
	if len(got) != len(want) {
		t.Fatalf("got %d diagnostics, want %d:\n%s", len(got), len(want), dumpDiags(got))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Pos != w.Pos || g.Summary != w.Summary || g.Address != w.Address || !strings.Contains(g.Detail, w.Detail) {
			t.Errorf("diagnostic %d:\n got  %+v\n want %+v\nall:\n%s", i, g, w, dumpDiags(got))
		}
	}
}

func dumpDiags(ds []diag) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString("  " + d.Pos + " | " + d.Summary + " | " + d.Address + " | " + d.Detail + "\n")
	}
	return b.String()
}

// withSpeedLayer switches the speed layer (speed.go) on or off until t
// ends: a test of the layer itself needs it on, whichever way TestMain
// runs the suite. Tests that use it must not run in parallel.
func withSpeedLayer(t *testing.T, on bool) {
	t.Helper()
	was := speedOff.Swap(!on)
	t.Cleanup(func() { speedOff.Store(was) })
}

// parsedEvaluator is an evaluator with src parsed as keys.hcl in dir,
// for tests of one evaluation step.
func parsedEvaluator(t *testing.T, opts Options, dir, src string) *evaluator {
	t.Helper()
	e := &evaluator{opts: &opts, limits: opts.limits()}
	e.fn = newFuncs(e.opts)
	e.base = newBaseContext(e.fn)
	require.True(t, e.parse([]Source{{Name: "keys.hcl", Dir: dir, Bytes: []byte(src)}}), "%v", e.diags)
	return e
}
