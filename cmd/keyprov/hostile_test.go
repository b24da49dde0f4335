package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/keyprov/keyprov/internal/testsummary"
)

// hostileDir holds the corpus of malformed and malicious specs.
const hostileDir = "testdata/hostile"

// minHostileCases is the size the corpus must keep.
const minHostileCases = 60

// hostileTokens are the tokens that hostile cases read with env(). They are
// test tokens: random-looking, and valid under every token rule.
var hostileTokens = map[string]string{
	"TOKEN_A": "wat_Hq7Zp2Lx9Vb4Nc8Tm1Rw5Ks3Df6Gy0Ja",
	"TOKEN_B": "wat_Ub3Yk8Pe1Wz6Qr9Ln4Xs7Hc2Mf5Tv0Gd",
	"TOKEN_C": "wat_Fj9Rb2Sx5Vn8Kq1Ez4Wm7Tc0Hy3Lp6Ud",
	"TOKEN_D": "wat_ox9yimTcfipZGnzPbDFDyFKm51zfFoWb",
	"TOKEN_E": "wat_SrHAE56yUhQqg0eyN1ygQdvpSfF5PH5n",
	"TOKEN_F": "wat_LZjMeI8cFSmj83LDUL4CsJw24BikWMgI",
	"TOKEN_G": "wat_SuSw8P1FGNmtjwHsGQeZ52G6SIowp6as",
	"TOKEN_H": "wat_vorcBqyt1T5AlQzhk7Q2bmXkthaYWyv1",
	"TOKEN_I": "wat_kKB5oiAKCAAfLesTgcfQgWHHxjZ7GFTj",
}

// TestHostile runs the corpus of malformed and malicious specs in
// testdata/hostile, one txtar script per case. Every case but those named
// stored_* runs against a trap instead of a database: KEYPROV_DATABASE_URL
// points at a local port where a listener counts connections, and the
// case fails if anything connected to it. Invalid input must be refused
// before any connection: exit status 1 (pinned with `exits 1`, which a
// panic or a fatal error, exit 2, cannot pass) and a diagnostic with its
// position. Cases named stored_* get an empty database, to prove that
// hostile but valid values are stored verbatim and never executed.
//
// Besides the commands of ScriptParams, the scripts have:
//
//	gen FILE PART...   write FILE from parts: a file of the script, without
//	                   its last line break, or a Go string literal
//	                   ('"\xff"'); either may end in *N to repeat it N times
//	sparse FILE SIZE   create a sparse file of SIZE bytes (100M, 2G)
//	connected          assert that something connected to the trap since
//	                   the last check (`! connected`: nothing did)
func TestHostile(t *testing.T) {
	cases := checkHostileCorpus(t)
	p := ScriptParams(t, hostileDir)
	storeSetup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		for k, v := range hostileTokens {
			env.Setenv(k, v)
		}
		name := strings.TrimPrefix(filepath.Base(env.WorkDir), "script-")
		if strings.HasPrefix(name, "stored_") {
			return storeSetup(env)
		}
		tr, err := newTrap()
		if err != nil {
			return err
		}
		env.Values[trapKey{}] = tr
		env.Defer(func() {
			if n := tr.close(); n > 0 {
				env.T().Fatal(fmt.Sprintf("%d connection(s) reached the database trap: invalid input must be refused before connecting", n))
			}
		})
		env.Setenv("KEYPROV_DATABASE_URL", tr.url)
		env.Setenv("KEYPROV_WAIT", "0s")
		// The fast path of plan and apply reads the store's input record
		// before evaluating: these cases prove what the full evaluation
		// refuses before connecting (fastpath_test.go covers the other).
		env.Setenv("KEYPROV_FULL", "true")
		env.Setenv("KEYPROV_CONNECT_TIMEOUT", "2s")
		env.Setenv("KEYPROV_ACTOR", "tester")
		env.Setenv("KEYPROV_LOG_FORMAT", "auto") // JSON log lines, diagnostics as text
		return nil
	}
	p.Cmds["gen"] = cmdGen
	p.Cmds["sparse"] = cmdSparse
	p.Cmds["connected"] = cmdConnected
	t.Cleanup(func() {
		if !t.Failed() {
			t.Logf("hostile: %d cases, each refused as expected without a connection to the database", cases)
			testsummary.Record("hostile: %d cases, each refused as expected without a connection to the database", cases)
		}
	})
	testscript.Run(t, p)
}

// checkHostileCorpus enforces the corpus' conventions and returns the
// number of cases: every case says what it is about in a comment, pins
// keyprov's exit status with `exits` (an `! exec` would accept a crash), and
// every case that expects a refusal checks the diagnostic on stderr.
func checkHostileCorpus(t *testing.T) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(hostileDir, "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < minHostileCases {
		t.Fatalf("the hostile corpus has %d cases; it must keep at least %d", len(files), minHostileCases)
	}
	bangExec := regexp.MustCompile(`(?m)^\s*!\s*exec\s+keyprov\b`)
	exits1 := regexp.MustCompile(`(?m)^\s*exits\s+1\s+keyprov\b`)
	stderrCheck := regexp.MustCompile(`(?m)^\s*(stderr\s|cmp\s+stderr\s)`)
	for _, f := range files {
		a, err := txtar.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		script, name := string(a.Comment), filepath.Base(f)
		if !strings.HasPrefix(script, "#") {
			t.Errorf("%s: start with a comment that says what the case is about", name)
		}
		if bangExec.MatchString(script) {
			t.Errorf("%s: use `exits 1 keyprov ...`, not `! exec keyprov`: a panic exits non-zero too", name)
		}
		if !strings.HasPrefix(name, "stored_") && (!exits1.MatchString(script) || !stderrCheck.MatchString(script)) {
			t.Errorf("%s: a case must run `exits 1 keyprov ...` and check the diagnostic on stderr", name)
		}
	}
	return len(files)
}

// trap is a TCP listener standing in for the database: it accepts and
// closes every connection, and counts them.
type trap struct {
	l     net.Listener
	url   string
	n     atomic.Int64
	wg    sync.WaitGroup
	close func() int64
}

type trapKey struct{}

func newTrap() (*trap, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("database trap: %w", err)
	}
	tr := &trap{l: l, url: fmt.Sprintf("postgres://trap:trap-pw-9Xq2@%s/trap?sslmode=disable", l.Addr())}
	tr.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			tr.n.Add(1)
			_ = c.Close()
		}
	})
	var once sync.Once
	var total int64
	tr.close = func() int64 {
		once.Do(func() {
			_ = l.Close()
			tr.wg.Wait()
			total = tr.n.Load()
		})
		return total
	}
	return tr, nil
}

// cmdConnected asserts that something connected to the trap since the
// last check, and resets the count; negated, that nothing did.
func cmdConnected(ts *testscript.TestScript, neg bool, args []string) {
	tr, _ := ts.Value(trapKey{}).(*trap)
	if tr == nil || len(args) != 0 {
		ts.Fatalf("usage: connected (in a case that is not stored_*)")
	}
	n := tr.n.Swap(0)
	switch {
	case neg && n > 0:
		ts.Fatalf("%d connection(s) reached the database trap", n)
	case !neg && n == 0:
		ts.Fatalf("nothing connected to the database trap")
	}
}

var repeatSuffix = regexp.MustCompile(`\*([0-9]+)$`)

// cmdGen writes a file from parts, so that cases can hold inputs too large
// or too strange for a txtar file: gen keys.hcl head.hcl '"a"*10000000' tail.hcl
func cmdGen(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: gen FILE PART...")
	}
	var buf bytes.Buffer
	for _, part := range args[1:] {
		n := 1
		if m := repeatSuffix.FindStringSubmatchIndex(part); m != nil {
			var err error
			if n, err = strconv.Atoi(part[m[2]:m[3]]); err != nil {
				ts.Fatalf("gen: %v", err)
			}
			part = part[:m[0]]
		}
		var piece []byte
		if strings.HasPrefix(part, `"`) {
			s, err := strconv.Unquote(part)
			if err != nil {
				ts.Fatalf("gen: %s: %v", part, err)
			}
			piece = []byte(s)
		} else {
			b, err := os.ReadFile(ts.MkAbs(part))
			ts.Check(err)
			piece = bytes.TrimSuffix(b, []byte("\n"))
		}
		buf.Write(bytes.Repeat(piece, n))
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), buf.Bytes(), 0o644))
}

// cmdSparse creates a sparse file: sparse big.txt 100M
func cmdSparse(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sparse FILE SIZE")
	}
	s, mult := args[1], int64(1)
	for suffix, m := range map[string]int64{"K": 1 << 10, "M": 1 << 20, "G": 1 << 30} {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSuffix(s, suffix), m
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		ts.Fatalf("sparse: size %q: %v", args[1], err)
	}
	f, err := os.Create(ts.MkAbs(args[0]))
	ts.Check(err)
	ts.Check(f.Truncate(n * mult))
	ts.Check(f.Close())
}
