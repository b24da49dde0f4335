package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/internal/testutil"
)

// runIn runs keyprov in this process with exactly the environment env and
// returns its exit code, stdout and stderr.
func runIn(env map[string]string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	code := run(context.Background(), args, stdio{strings.NewReader(""), &out, &errb}, environ)
	return code, out.String(), errb.String()
}

// summaryLine returns the fields of the run's summary log line.
func summaryLine(t *testing.T, stderr string) map[string]any {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(stderr))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && strings.HasSuffix(fmt.Sprint(m["message"]), " finished") {
			return m
		}
	}
	t.Fatalf("no summary line in:\n%s", stderr)
	return nil
}

// A run answered from the input record logs the summary line of a full
// no-op: the same fields, the same counts, and "fast_path": true.
func TestFastPathSummary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := generateSpec(t, dir, 3)
	env["KEYPROV_DATABASE_URL"] = pgtest.NewDatabase(t)
	env["KEYPROV_LOG_FORMAT"] = "json"
	env["KEYPROV_ACTOR"] = "tester"
	spec := filepath.Join(dir, "keys.hcl")

	code, _, stderr := runIn(env, "apply", "-f", spec)
	require.Equal(t, 0, code, stderr)
	for _, cmd := range []string{"apply", "plan"} {
		code, fullOut, stderr := runIn(env, cmd, "-f", spec, "--full")
		require.Equal(t, 0, code, stderr)
		full := summaryLine(t, stderr)
		code, fastOut, stderr := runIn(env, cmd, "-f", spec)
		require.Equal(t, 0, code, stderr)
		fast := summaryLine(t, stderr)

		assert.Equal(t, fullOut, fastOut, "%s: the same output", cmd)
		assert.Equal(t, false, full["fast_path"], cmd)
		assert.Equal(t, true, fast["fast_path"], cmd)
		assert.Equal(t, slices.Sorted(maps.Keys(full)), slices.Sorted(maps.Keys(fast)), "%s: the same fields", cmd)
		for k, v := range full {
			switch x := v.(type) {
			case float64:
				if strings.HasSuffix(k, "_ms") || slices.Contains([]string{"eval", "migrate", "lock", "load", "diff", "write", "duration"}, k) {
					continue // durations
				}
				assert.Equal(t, x, fast[k], "%s: %s", cmd, k)
			case bool:
				if k != "fast_path" {
					assert.Equal(t, x, fast[k], "%s: %s", cmd, k)
				}
			}
		}
		assert.Equal(t, float64(4), fast["unchanged"], cmd)
	}
}

// lockKey is store's advisory lock key of a schema.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("keyprov:" + schema))
	return int64(h.Sum64())
}

// Sixteen replicas booting at once on an unchanged store all take the fast
// path and take no lock: another session holds keyprov's advisory lock
// the whole time, and each replica would wait for it and fail after a
// second (exit 3) if it asked for it.
func TestFastPathSixteenReplicasTakeNoLock(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := generateSpec(t, dir, 20)
	u := pgtest.NewDatabase(t)
	env["KEYPROV_DATABASE_URL"] = u
	env["KEYPROV_ACTOR"] = "tester"
	env["KEYPROV_LOG_FORMAT"] = "json"
	env["KEYPROV_LOCK_TIMEOUT"] = "1s"
	require.Equal(t, 0, runKeyprov(t, dir, env, "apply").code)
	require.Equal(t, 0, runKeyprov(t, dir, env, "apply").code, "the apply that finds nothing to do records it")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	holder := pgtest.Connect(t, u)
	_, err := holder.Exec(ctx, "SELECT pg_advisory_lock($1)", lockKey("keyprov"))
	require.NoError(t, err)
	defer holder.Exec(context.Background(), "SELECT pg_advisory_unlock_all()")

	const replicas = 16
	type proc struct {
		done           chan error
		stdout, stderr *bytes.Buffer
	}
	ps := make([]proc, replicas)
	for i := range ps {
		cmd, stdout, stderr := keyprovCmd(ctx, t, dir, env, "apply")
		ps[i] = proc{make(chan error, 1), stdout, stderr}
		require.NoError(t, cmd.Start())
		go func() { ps[i].done <- cmd.Wait() }()
	}
	for i, p := range ps {
		code := exitCode(t, <-p.done)
		require.Equal(t, 0, code, "replica %d: stdout:\n%s\nstderr:\n%s", i, p.stdout, p.stderr)
		assert.Equal(t, true, summaryLine(t, p.stderr.String())["fast_path"], "replica %d", i)
		assert.Contains(t, p.stdout.String(), "No changes: the store matches the spec.")
	}
	var waiting int
	// Only this test's database: the tests running beside it in the same
	// cluster take advisory locks of their own.
	require.NoError(t, holder.QueryRow(ctx, `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted`).Scan(&waiting))
	assert.Zero(t, waiting)

	// The same with --full: every replica asks for the lock and gives up.
	code := runKeyprov(t, dir, env, "apply", "--full").code
	assert.Equal(t, exitStore, code, "the full path waits for the lock")
}

// The fast path makes one connection attempt and never waits for the
// store: with the store down and the spec invalid, apply says so at once
// (exit 1), as without the fast path.
func TestFastPathDoesNotWaitForTheStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keys.hcl"), []byte(`universal_key "a" {
  name  = "A"
  token = env("NOT_SET")
}
`), 0o644))
	env := map[string]string{
		"KEYPROV_DATABASE_URL": fmt.Sprintf("postgres://keyprov@127.0.0.1:%d/keyprov", testutil.ClosedPort(t)),
		"KEYPROV_WAIT":         "60s",
	}
	start := time.Now()
	code, _, stderr := runIn(env, "apply", "-f", filepath.Join(dir, "keys.hcl"))
	assert.Equal(t, exitInvalid, code, stderr)
	assert.Contains(t, stderr, "NOT_SET is not set")
	assert.Less(t, time.Since(start), 10*time.Second)
}
