package faults

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/internal/testutil"
)

// poolSize is PgBouncer's pool for the test database: far fewer server
// connections than clients, so that transactions really share them.
const poolSize = 4

// findPgBouncer returns the path of Debian's pgbouncer. The test fails
// without it: PgBouncer support is a promise, not an option.
func findPgBouncer(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer", "/usr/local/bin/pgbouncer"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("pgbouncer not found: the PgBouncer tests need it. Install it with: apt-get update && apt-get install -y pgbouncer (Debian), or put pgbouncer on PATH")
	return ""
}

// startPgBouncer starts PgBouncer in transaction pooling mode on a free
// loopback port, in front of database u (on the server of u, with u's
// user and password), and returns the URL of that database through it.
// It is stopped when the test ends.
func startPgBouncer(t *testing.T, u string) string {
	t.Helper()
	bin := findPgBouncer(t)
	server, err := url.Parse(u)
	require.NoError(t, err)
	password, _ := server.User.Password()
	username := server.User.Username()

	// PgBouncer refuses to run as root: run it as the owner of the
	// PostgreSQL cluster, in a directory of its own that it can read.
	var cred *syscall.Credential
	dir, err := os.MkdirTemp("", "keyprov-pgbouncer-*")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		require.NoError(t, err, "running PgBouncer as root needs a \"postgres\" user")
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		require.NoError(t, os.Chown(dir, uid, gid))
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())

	userlist := filepath.Join(dir, "userlist.txt")
	require.NoError(t, os.WriteFile(userlist, []byte(fmt.Sprintf("%q %q\n", username, password)), 0o600))
	ini := filepath.Join(dir, "pgbouncer.ini")
	require.NoError(t, os.WriteFile(ini, []byte(fmt.Sprintf(`[databases]
keyprov = host=%s port=%s dbname=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = scram-sha-256
auth_file = %s
pool_mode = transaction
default_pool_size = %d
max_db_connections = %d
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 200
logfile = %s
`, server.Hostname(), server.Port(), dbName(t, u), port, userlist, poolSize, poolSize, filepath.Join(dir, "pgbouncer.log"))), 0o600))
	if cred != nil {
		for _, f := range []string{userlist, ini} {
			require.NoError(t, os.Chown(f, int(cred.Uid), int(cred.Gid)))
		}
	}

	cmd := exec.Command(bin, ini)
	cmd.Dir = dir
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		// SIGTERM: immediate shutdown (the clients are gone by now).
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			t.Fatalf("pgbouncer exited (%v):\n%s%s", err, out.String(), log)
		default:
		}
		require.True(t, time.Now().Before(deadline), "pgbouncer did not listen on port %d", port)
		time.Sleep(20 * time.Millisecond)
	}
	through := url.URL{Scheme: "postgres", User: url.UserPassword(username, password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Path: "/keyprov", RawQuery: "sslmode=disable"}
	return through.String()
}

// TestPgBouncer runs the fleet through PgBouncer in transaction pooling
// mode, with keyprov's default query mode: 16 processes share a pool of 4
// server connections; then a plan, a no-op apply and an apply that
// renames and rotates every key go through it as well.
func TestPgBouncer(t *testing.T) {
	t.Parallel()
	size := setting("KEYPROV_FAULT_FLEET", 16)
	g := writeSpec(t, specOpts{Keys: 500, Gen: "old"})
	changed := writeSpec(t, specOpts{Keys: 500, Gen: "new"})
	u := pgtest.NewDatabase(t)
	pooled := startPgBouncer(t, u)
	env := baseEnv(pooled)

	specs := make([]*generatedSpec, size)
	for i := range specs {
		specs[i] = g
	}
	docs := fleet(t, env, specs...)
	creators := 0
	for _, d := range docs {
		if d.Summary.Create > 0 {
			creators++
			assert.Equal(t, g.opts.Keys, d.Summary.Create)
		}
	}
	assert.Equal(t, 1, creators, "exactly one process created the keys")
	assertCreatedOnce(t, u, g)

	plan := mustRun(t, 0, g.dir, env, "plan", "--detailed-exitcode")
	assert.Contains(t, plan.stdout, "No changes")
	noop := mustRun(t, 0, g.dir, env, "apply")
	assert.EqualValues(t, 0, noop.rowsWritten())
	before := takeSnapshot(t, u)
	mustRun(t, 2, changed.dir, env, "plan", "--detailed-exitcode")
	rotate := mustRun(t, 0, changed.dir, env, "apply")
	assert.EqualValues(t, 5*changed.opts.Keys, rotate.rowsWritten(), "every key renamed and rotated")
	after := takeSnapshot(t, u)
	assert.Len(t, after.Events, len(before.Events)+1)
	assert.Equal(t, before.events()+2*changed.opts.Keys, after.events())
	mustRun(t, 0, changed.dir, env, "plan", "--detailed-exitcode")

	// PgBouncer held no more server connections than its pool (the
	// test's own connections are closed; their sessions end shortly).
	conn := connect(t, pgtest.AdminURL(t))
	servers := 0
	assert.Eventually(t, func() bool {
		servers = queryInt(t, conn, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'", dbName(t, u))
		return servers <= poolSize
	}, 30*time.Second, 50*time.Millisecond, "PgBouncer keeps %d server connections, more than its pool", servers)
	figure("8 pgbouncer", "pgbouncer (transaction pooling, pool of %d server connections, default query mode): %d processes applied at once, then plan, a no-op apply and an apply rotating %d keys: %d runs", poolSize, size, changed.opts.Keys, size+6)
}
