package faults

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/testutil"
)

// procLimit bounds every keyprov process: one that runs longer has hung,
// and the test fails saying so rather than waiting for go test's timeout.
const procLimit = 5 * time.Minute

// proc is a running keyprov process.
type proc struct {
	cmd     *exec.Cmd
	stdout  *testutil.SyncBuffer
	stderr  *testutil.SyncBuffer
	started time.Time
	done    chan struct{}
	err     error
	ctx     context.Context
}

// result is how a keyprov process ended.
type result struct {
	// code is the exit status, -1 when a signal ended the process.
	code     int
	signal   syscall.Signal
	stdout   string
	stderr   string
	duration time.Duration
}

// baseEnv is the environment every keyprov of these tests gets, with the
// database URL.
func baseEnv(dbURL string) map[string]string {
	return map[string]string{
		"KEYPROV_DATABASE_URL": dbURL,
		"KEYPROV_ACTOR":        "faults",
		"KEYPROV_LOG_FORMAT":   "auto", // JSON log lines, messages as text
		"KEYPROV_WAIT":         "60s",
		"KEYPROV_LOCK_TIMEOUT": "120s",
	}
}

// with returns a copy of env with the given pairs set.
func with(env map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(env)+len(kv)/2)
	for k, v := range env {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// start starts keyprov in dir with exactly env (and PATH, HOME).
func start(t *testing.T, dir string, env map[string]string, args ...string) *proc {
	t.Helper()
	return startIn(t, dir, env, "", args...)
}

// startIn is start with stdin as standard input.
func startIn(t *testing.T, dir string, env map[string]string, stdin string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), procLimit)
	cmd := exec.CommandContext(ctx, keyprovBin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{cmd: cmd, stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}, done: make(chan struct{}), ctx: ctx}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	cmd.Stdin = strings.NewReader(stdin)
	require.NoError(t, cmd.Start())
	p.started = time.Now()
	go func() {
		p.err = cmd.Wait()
		cancel()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to end and returns how it ended.
func (p *proc) wait(t *testing.T) result {
	t.Helper()
	<-p.done
	r := result{stdout: p.stdout.String(), stderr: p.stderr.String(), duration: time.Since(p.started)}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
	case errors.As(p.err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.signal = ws.Signal()
		}
	default:
		t.Fatalf("keyprov %v did not run: %v", p.cmd.Args[1:], p.err)
	}
	if errors.Is(p.ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("keyprov %v hung: still running after %s\nstderr:\n%s", p.cmd.Args[1:], procLimit, tail(r.stderr, 3000))
	}
	return r
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process.
func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(sig))
}

// waitStderr waits until the process's stderr contains want; it fails the
// test if the process ends first.
func (p *proc) waitStderr(t *testing.T, want string) {
	t.Helper()
	for !strings.Contains(p.stderr.String(), want) {
		select {
		case <-p.done:
			if strings.Contains(p.stderr.String(), want) {
				return
			}
			t.Fatalf("keyprov %v ended without logging %q; stderr:\n%s", p.cmd.Args[1:], want, tail(p.stderr.String(), 3000))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// sawStderr waits until the process's stderr contains want (true) or the
// process ends without it (false).
func (p *proc) sawStderr(want string) bool {
	for !strings.Contains(p.stderr.String(), want) {
		select {
		case <-p.done:
			return strings.Contains(p.stderr.String(), want)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return true
}

// run runs keyprov to its end.
func run(t *testing.T, dir string, env map[string]string, args ...string) result {
	t.Helper()
	return start(t, dir, env, args...).wait(t)
}

// mustRun runs keyprov and requires the exit status want.
func mustRun(t *testing.T, want int, dir string, env map[string]string, args ...string) result {
	t.Helper()
	r := run(t, dir, env, args...)
	require.Equal(t, want, r.code, "keyprov %v: exit status\nstdout:\n%s\nstderr:\n%s", args, tail(r.stdout, 3000), tail(r.stderr, 3000))
	return r
}

// summary returns the fields of the run's summary log line ("apply
// finished", "plan finished"), or nil.
func (r result) summary() map[string]any {
	var out map[string]any
	sc := bufio.NewScanner(strings.NewReader(r.stderr))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			if msg, _ := m["message"].(string); strings.HasSuffix(msg, " finished") {
				out = m
			}
		}
	}
	return out
}

// rowsWritten is rows_written of the summary line; -1 without one.
func (r result) rowsWritten() int64 {
	s := r.summary()
	if s == nil {
		return -1
	}
	f, ok := s["rows_written"].(float64)
	if !ok {
		return -1
	}
	return int64(f)
}

// ms reads a duration field (milliseconds) of the summary line.
func (r result) ms(field string) time.Duration {
	f, _ := r.summary()[field].(float64)
	return time.Duration(f * float64(time.Millisecond))
}

// logLines returns the messages of the JSON log lines of stderr at level.
func (r result) logLines(level string) []string {
	var out []string
	for _, line := range strings.Split(r.stderr, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["level"] == level {
			msg, _ := m["message"].(string)
			out = append(out, msg)
		}
	}
	return out
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
