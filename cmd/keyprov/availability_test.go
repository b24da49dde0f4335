package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/internal/testutil"
	"github.com/keyprov/keyprov/store"
)

// These tests run the built binary against a database that is down, never
// comes up, or refuses the password, and check exit codes and messages.

const (
	testPassword = "Pw7sE3cretQ9xZ"
	retryMessage = "database not reachable yet, retrying"
)

// oneKeySpec writes a spec with one key to dir and returns its environment.
func oneKeySpec(t *testing.T, dir string) map[string]string {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keys.hcl"), []byte(`settings {
  owner = "platform"
}

tenant_key "website" {
  tenant = "acme"
  name   = "Website"
  token  = env("TOKEN_WEBSITE")
}
`), 0o644))
	return map[string]string{
		"TOKEN_WEBSITE":      "wat_Vd8kQ2mZr7XpL4nT9bW1cH6yF3sJ0gAe",
		"KEYPROV_ACTOR":      "tester",
		"KEYPROV_LOG_FORMAT": "json",
	}
}

// startUntil starts the binary and reads its stderr until a line contains
// want; it returns the process and a function that waits for its exit.
func startUntil(t *testing.T, ctx context.Context, dir string, env map[string]string, want string, args ...string) (*exec.Cmd, func() procResult) {
	t.Helper()
	cmd, stdout, _ := keyprovCmd(ctx, t, dir, env, args...)
	cmd.Stderr = nil
	pipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var stderr strings.Builder
	sc := bufio.NewScanner(pipe)
	found := false
	for !found && sc.Scan() {
		stderr.WriteString(sc.Text() + "\n")
		found = strings.Contains(sc.Text(), want)
	}
	require.True(t, found, "keyprov never logged %q; stderr:\n%s", want, stderr.String())
	rest := make(chan string)
	go func() {
		b, _ := io.ReadAll(pipe)
		rest <- string(b)
	}()
	return cmd, func() procResult {
		more := <-rest
		err := cmd.Wait()
		return procResult{code: exitCode(t, err), stdout: stdout.String(), stderr: stderr.String() + more}
	}
}

func TestApplyWaitsForTheDatabase(t *testing.T) {
	t.Parallel()
	c, err := pgtest.Start(pgtest.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Stop(true) })
	require.NoError(t, c.Stop(false))

	dir := t.TempDir()
	env := oneKeySpec(t, dir)
	env["KEYPROV_DATABASE_URL"] = c.URL("postgres")
	env["KEYPROV_WAIT"] = "2m"
	env["KEYPROV_CONNECT_TIMEOUT"] = "2s"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	_, wait := startUntil(t, ctx, dir, env, retryMessage, "apply")
	require.NoError(t, c.Restart(false), "the database comes up while keyprov waits")
	res := wait()

	require.Equal(t, 0, res.code, "stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	assert.Contains(t, res.stdout, "Apply complete: 1 created")
	assert.Contains(t, res.stderr, `"message":"database reachable"`)
	assert.Contains(t, res.stderr, fmt.Sprintf(`"database":"%s@127.0.0.1:%d/postgres"`, c.User, c.Port), "attempts name the target")
	assertNoSecret(t, "output", res.stdout+res.stderr, c.Password, env["TOKEN_WEBSITE"])
}

func TestApplyDatabaseNeverUp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := oneKeySpec(t, dir)
	port := testutil.ClosedPort(t)
	env["KEYPROV_DATABASE_URL"] = fmt.Sprintf("postgres://keyprov:%s@127.0.0.1:%d/keys?sslmode=disable", testPassword, port)
	env["KEYPROV_WAIT"] = "1500ms"

	res := runKeyprov(t, dir, env, "apply")
	assert.Equal(t, exitStore, res.code)
	assert.Empty(t, res.stdout, "no plan without a store")
	assert.Contains(t, logText(t, res.stderr), fmt.Sprintf("error=store: database unavailable: keyprov@127.0.0.1:%d/keys not reachable after", port))
	assert.Contains(t, res.stderr, "(KEYPROV_WAIT=1.5s)")
	assert.Contains(t, res.stderr, retryMessage, "every attempt is logged")
	assertNoSecret(t, "output", res.stdout+res.stderr, testPassword, env["TOKEN_WEBSITE"])
}

func TestApplyInterruptedWhileWaiting(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := oneKeySpec(t, dir)
	env["KEYPROV_DATABASE_URL"] = fmt.Sprintf("postgres://keyprov:%s@127.0.0.1:%d/keys?sslmode=disable", testPassword, testutil.ClosedPort(t))
	env["KEYPROV_WAIT"] = "10m"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cmd, wait := startUntil(t, ctx, dir, env, retryMessage, "apply")
	// SIGTERM (a Kubernetes pod stopping) ends the wait at once.
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	res := wait()
	assert.Equal(t, exitStore, res.code)
	assert.Contains(t, res.stderr, "interrupted")
	assert.Contains(t, res.stderr, "nothing was written")
	assertNoSecret(t, "output", res.stdout+res.stderr, testPassword)
}

// A server that rejects keyprov exits 5 at once, however long the wait:
// a restart cannot help, so an init container must not restart-loop. The
// error names the cause, not the TLS attempt that pgx makes first with the
// default sslmode (the URLs here have none).
func TestApplyRejected(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(pgtest.NewDatabase(t))
	require.NoError(t, err)
	q := u.Query()
	q.Del("sslmode")
	u.RawQuery = q.Encode()
	db := strings.TrimPrefix(u.Path, "/")
	admin := pgtest.Connect(t, pgtest.AdminURL(t))
	ctx := context.Background()
	// A role that may log in but not connect to the database.
	role := fmt.Sprintf("keyprov_noconnect_%d", time.Now().UnixNano()%1e9)
	_, err = admin.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, testPassword))
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+role) })
	_, err = admin.Exec(ctx, "REVOKE CONNECT ON DATABASE "+db+" FROM PUBLIC")
	require.NoError(t, err)
	with := func(f func(u *url.URL)) string {
		c := *u
		f(&c)
		return c.String()
	}
	tests := map[string]struct {
		url, cause string
		code       string // SQLSTATE
	}{
		"wrong password":   {url: with(func(u *url.URL) { u.User = url.UserPassword(u.User.Username(), testPassword) }), cause: "password authentication failed", code: "28P01"},
		"missing database": {url: with(func(u *url.URL) { u.Path = "/keyprov_missing" }), cause: `database "keyprov_missing" does not exist`, code: "3D000"},
		"missing role":     {url: with(func(u *url.URL) { u.User = url.UserPassword("keyprov_missing", testPassword) }), cause: `password authentication failed for user "keyprov_missing"`, code: "28P01"},
		"no CONNECT":       {url: with(func(u *url.URL) { u.User = url.UserPassword(role, testPassword) }), cause: `permission denied for database "` + db + `"`, code: "42501"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := oneKeySpec(t, dir)
			env["KEYPROV_DATABASE_URL"] = tc.url
			env["KEYPROV_WAIT"] = "10m" // a retry would outlast the test's deadline
			res := runKeyprov(t, dir, env, "apply")
			require.Equal(t, exitRejected, res.code, res.stderr)
			assert.Empty(t, res.stdout)
			text := logText(t, res.stderr)
			assert.Contains(t, text, tc.cause)
			assert.Contains(t, text, "(SQLSTATE "+tc.code+")")
			assert.NotContains(t, res.stderr, "TLS", "no TLS fallback noise")
			assert.Equal(t, 0, strings.Count(res.stderr, retryMessage), "a rejection is not retried")
			assertNoSecret(t, "output", res.stdout+res.stderr, testPassword)
		})
	}
}

// A URL that requires TLS, to a server that does not offer it, exits 5.
func TestApplyTLSRequired(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := oneKeySpec(t, dir)
	u, err := url.Parse(pgtest.NewDatabase(t))
	require.NoError(t, err)
	q := u.Query()
	q.Set("sslmode", "require")
	u.RawQuery = q.Encode()
	env["KEYPROV_DATABASE_URL"] = u.String()
	env["KEYPROV_WAIT"] = "10m"
	res := runKeyprov(t, dir, env, "apply")
	require.Equal(t, exitRejected, res.code, res.stderr)
	assert.Contains(t, res.stderr, "the database URL requires TLS (sslmode), and the server does not offer it")
	assert.Equal(t, 0, strings.Count(res.stderr, retryMessage), "not retried")
}

// A role that may connect but not create keyprov's schema exits 5 on the
// first apply, and says what to grant.
func TestApplyCannotCreateSchema(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := oneKeySpec(t, dir)
	u, err := url.Parse(pgtest.NewDatabase(t))
	require.NoError(t, err)
	admin := pgtest.Connect(t, pgtest.AdminURL(t))
	role := fmt.Sprintf("keyprov_nocreate_%d", time.Now().UnixNano()%1e9)
	_, err = admin.Exec(context.Background(), fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, testPassword))
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+role) })
	u.User = url.UserPassword(role, testPassword)
	env["KEYPROV_DATABASE_URL"] = u.String()
	res := runKeyprov(t, dir, env, "apply")
	require.Equal(t, exitRejected, res.code, res.stderr)
	text := logText(t, res.stderr)
	assert.Contains(t, text, `creating schema "keyprov"`)
	assert.Contains(t, text, "permission denied for database")
	assert.Contains(t, text, "CREATE SCHEMA keyprov AUTHORIZATION")
}

func TestMalformedDatabaseURL(t *testing.T) {
	t.Parallel()
	bad := map[string]string{
		"bad port":       "postgres://keyprov:" + testPassword + "@localhost:99999999/keys",
		"bad escape":     "postgres://keyprov:" + testPassword + "%zz@localhost/keys",
		"bad option":     "postgres://keyprov:" + testPassword + "@localhost/keys?sslmode=sometimes",
		"unclosed quote": "host=localhost password='" + testPassword,
	}
	for name, u := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			urlFile := filepath.Join(dir, "database-url")
			require.NoError(t, os.WriteFile(urlFile, []byte(u+"\n"), 0o600))
			for how, set := range map[string]func(env map[string]string) []string{
				"KEYPROV_DATABASE_URL":      func(env map[string]string) []string { env["KEYPROV_DATABASE_URL"] = u; return nil },
				"KEYPROV_DATABASE_URL_FILE": func(env map[string]string) []string { env["KEYPROV_DATABASE_URL_FILE"] = urlFile; return nil },
				"DATABASE_URL":              func(env map[string]string) []string { env["DATABASE_URL"] = u; return nil },
				"--database-url":            func(map[string]string) []string { return []string{"--database-url", u} },
			} {
				for _, command := range []string{"plan", "apply"} {
					env := oneKeySpec(t, dir)
					args := append([]string{command}, set(env)...)
					res := runKeyprov(t, dir, env, args...)
					assert.Equal(t, exitInvalid, res.code, "%s %s", command, how)
					assert.Contains(t, res.stderr, "invalid database URL", "%s %s", command, how)
					assertNoSecret(t, command+" "+how, res.stdout+res.stderr, testPassword)
				}
			}
		})
	}
}

func TestApplyLockTimeout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := oneKeySpec(t, dir)
	u := pgtest.NewDatabase(t)
	env["KEYPROV_DATABASE_URL"] = u
	env["KEYPROV_LOCK_TIMEOUT"] = "300ms"

	// Another keyprov holds the lock for longer than the lock timeout.
	ctx := context.Background()
	holder, err := store.Open(ctx, store.Config{URL: u, Wait: 10 * time.Second})
	require.NoError(t, err)
	defer holder.Close(ctx)
	_, err = holder.Migrate(ctx)
	require.NoError(t, err)
	locked, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- holder.Update(ctx, func(*store.Tx) error {
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	res := runKeyprov(t, dir, env, "apply")
	close(release)
	require.NoError(t, <-done)

	assert.Equal(t, exitStore, res.code)
	assert.Contains(t, logText(t, res.stderr), `error=store: lock timeout: another keyprov held the lock on schema "keyprov" for more than 300ms (KEYPROV_LOCK_TIMEOUT)`)
	assert.Empty(t, res.stdout)

	// Once the lock is free, the apply goes through.
	res = runKeyprov(t, dir, env, "apply")
	assert.Equal(t, 0, res.code, res.stderr)
}

// The database URL comes from --database-url, KEYPROV_DATABASE_URL, the
// file named by KEYPROV_DATABASE_URL_FILE, then DATABASE_URL: the first one
// set wins, so a malformed URL further down the list is never read.
func TestDatabaseURLSources(t *testing.T) {
	t.Parallel()
	good := pgtest.NewDatabase(t)
	bad := "postgres://keyprov:" + testPassword + "@localhost:99999999/keys"
	dir := t.TempDir()
	goodFile, badFile := filepath.Join(dir, "good-url"), filepath.Join(dir, "bad-url")
	require.NoError(t, os.WriteFile(goodFile, []byte(good+"\n"), 0o600))
	require.NoError(t, os.WriteFile(badFile, []byte(bad+"\n"), 0o600))
	emptyFile := filepath.Join(dir, "empty-url")
	require.NoError(t, os.WriteFile(emptyFile, []byte("\n"), 0o600))

	tests := map[string]struct {
		env  map[string]string
		args []string
		code int
		want string // in stderr
	}{
		"flag over env":          {env: map[string]string{"KEYPROV_DATABASE_URL": bad}, args: []string{"--database-url", good}},
		"env over file":          {env: map[string]string{"KEYPROV_DATABASE_URL": good, "KEYPROV_DATABASE_URL_FILE": badFile}},
		"file over DATABASE_URL": {env: map[string]string{"KEYPROV_DATABASE_URL_FILE": goodFile, "DATABASE_URL": bad}},
		"DATABASE_URL":           {env: map[string]string{"DATABASE_URL": good}},
		"missing file":           {env: map[string]string{"KEYPROV_DATABASE_URL_FILE": filepath.Join(dir, "nope")}, code: exitInvalid, want: "reading KEYPROV_DATABASE_URL_FILE"},
		"empty file":             {env: map[string]string{"KEYPROV_DATABASE_URL_FILE": emptyFile}, code: exitInvalid, want: "is empty"},
		"none":                   {code: exitInvalid, want: "no database URL"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			env := oneKeySpec(t, dir)
			for k, v := range tc.env {
				env[k] = v
			}
			res := runKeyprov(t, dir, env, append([]string{"plan"}, tc.args...)...)
			assert.Equal(t, tc.code, res.code, res.stderr)
			assert.Contains(t, res.stderr, tc.want)
			assertNoSecret(t, "output", res.stdout+res.stderr, testPassword)
		})
	}
}
