package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/token"
)

// The tests in this file and in availability_test.go run the real keyprov
// binary (main.go included: signals, exit codes) as separate processes. It
// is built once per test run, on first use, and removed by TestMain.
var testBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// keyprovBinary returns the path of the keyprov binary built from this package.
func keyprovBinary(t *testing.T) string {
	t.Helper()
	testBinary.once.Do(func() {
		dir, err := os.MkdirTemp("", "keyprov-bin-*")
		if err != nil {
			testBinary.err = err
			return
		}
		testBinary.dir = dir
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		path := filepath.Join(dir, "keyprov")
		out, err := exec.Command(goTool, "build", "-o", path, ".").CombinedOutput()
		if err != nil {
			testBinary.err = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		testBinary.path = path
	})
	require.NoError(t, testBinary.err)
	return testBinary.path
}

// removeTestBinary removes the binary built by keyprovBinary, if any.
func removeTestBinary() {
	if testBinary.dir != "" {
		_ = os.RemoveAll(testBinary.dir)
	}
}

// procResult is how a keyprov process ended.
type procResult struct {
	code           int
	stdout, stderr string
}

// keyprovCmd prepares the binary with exactly the given environment (and
// PATH), in dir.
func keyprovCmd(ctx context.Context, t *testing.T, dir string, env map[string]string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	cmd := exec.CommandContext(ctx, keyprovBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// exitCode is the exit status of a finished command.
func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode()
	}
	t.Fatalf("keyprov did not exit normally: %v", err)
	return -1
}

// runKeyprov runs the binary to completion (at most two minutes).
func runKeyprov(t *testing.T, dir string, env map[string]string, args ...string) procResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd, stdout, stderr := keyprovCmd(ctx, t, dir, env, args...)
	err := cmd.Run()
	return procResult{code: exitCode(t, err), stdout: stdout.String(), stderr: stderr.String()}
}

// generateSpec writes keys.hcl declaring n tenant keys spread over a few
// tenants and a universal key, and returns the environment holding their
// freshly generated tokens.
func generateSpec(t *testing.T, dir string, n int) map[string]string {
	t.Helper()
	env := map[string]string{}
	var src strings.Builder
	src.WriteString("settings {\n  owner = \"platform\"\n}\n\nuniversal_key \"frontend\" {\n  name  = \"Front end\"\n  token = env(\"TOKEN_UNIVERSAL\")\n}\n")
	tok, err := token.Generate(token.DefaultPrefix)
	require.NoError(t, err)
	env["TOKEN_UNIVERSAL"] = tok.Reveal()
	for i := 0; i < n; i++ {
		tok, err := token.Generate(token.DefaultPrefix)
		require.NoError(t, err)
		name := fmt.Sprintf("TOKEN_%d", i)
		env[name] = tok.Reveal()
		fmt.Fprintf(&src, "\ntenant_key \"key-%d\" {\n  tenant      = \"tenant-%d\"\n  name        = \"Key %d\"\n  token       = env(%q)\n  permissions = [\"cms.read\"]\n}\n", i, i%4, i, name)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keys.hcl"), []byte(src.String()), 0o644))
	return env
}

// assertNoSecret fails when text holds one of the tokens of env or a password.
func assertNoSecret(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret (%s…)", what, s[:min(6, len(s))])
		}
	}
}

func tokensOf(env map[string]string) []string {
	var out []string
	for k, v := range env {
		if strings.HasPrefix(k, "TOKEN_") {
			out = append(out, v, strings.TrimPrefix(v, token.DefaultPrefix))
		}
	}
	return out
}

// TestConcurrentApply starts eight applies at once on an empty store: they
// take turns on the advisory lock, one creates the schema and the keys, the
// others find nothing to do.
func TestConcurrentApply(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const n = 24
	env := generateSpec(t, dir, n)
	u := pgtest.NewDatabase(t)
	env["KEYPROV_DATABASE_URL"] = u
	env["KEYPROV_WAIT"] = "30s"
	env["KEYPROV_LOCK_TIMEOUT"] = "60s"
	env["KEYPROV_ACTOR"] = "tester"
	env["KEYPROV_LOG_FORMAT"] = "json"

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const procs = 8
	type proc struct {
		cmd            *exec.Cmd
		stdout, stderr *bytes.Buffer
	}
	ps := make([]proc, procs)
	for i := range ps {
		cmd, stdout, stderr := keyprovCmd(ctx, t, dir, env, "apply", "-o", "json")
		ps[i] = proc{cmd, stdout, stderr}
	}
	for _, p := range ps {
		require.NoError(t, p.cmd.Start())
	}
	created, runIDs := 0, map[string]bool{}
	for i, p := range ps {
		code := exitCode(t, p.cmd.Wait())
		require.Equal(t, 0, code, "process %d: stdout:\n%s\nstderr:\n%s", i, p.stdout, p.stderr)
		var doc struct {
			Applied bool   `json:"applied"`
			RunID   string `json:"run_id"`
			Summary struct {
				Create    int `json:"create"`
				Unchanged int `json:"unchanged"`
			} `json:"summary"`
		}
		require.NoError(t, json.Unmarshal(p.stdout.Bytes(), &doc), "process %d: %s", i, p.stdout)
		assert.True(t, doc.Applied)
		assert.Contains(t, []int{0, n + 1}, doc.Summary.Create, "a process creates all keys or none")
		assert.Equal(t, n+1, doc.Summary.Create+doc.Summary.Unchanged)
		created += doc.Summary.Create
		runIDs[doc.RunID] = true
		assertNoSecret(t, fmt.Sprintf("process %d output", i), p.stdout.String()+p.stderr.String(), tokensOf(env)...)
	}
	assert.Equal(t, n+1, created, "every key was created by exactly one process")
	assert.Len(t, runIDs, procs, "every run has its own id")

	conn := pgtest.Connect(t, u)
	count := func(sql string) int {
		var c int
		require.NoError(t, conn.QueryRow(ctx, sql).Scan(&c), sql)
		return c
	}
	assert.Equal(t, n+1, count("SELECT count(*) FROM keyprov.keys"))
	assert.Equal(t, n+1, count("SELECT count(DISTINCT (tenant, slug)) FROM keyprov.keys"))
	assert.Equal(t, n+1, count("SELECT count(*) FROM keyprov.tokens WHERE state = 'active'"))
	assert.Equal(t, n+1, count("SELECT count(*) FROM keyprov.events"), "one event per key, all of them created")
	assert.Equal(t, 0, count(`SELECT count(*) FROM (SELECT tenant, slug FROM keyprov.events WHERE action = 'created'
GROUP BY tenant, slug HAVING count(*) <> 1) x`), "exactly one created event per key")
	assert.Equal(t, 1, count("SELECT count(DISTINCT run_id) FROM keyprov.events"))
	assert.Equal(t, 1, count("SELECT count(*) FROM keyprov.schema_version"))
}
