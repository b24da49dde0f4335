// Package pgtest runs throwaway PostgreSQL clusters from the local
// PostgreSQL binaries (initdb, pg_ctl) for tests, benchmarks and `make run`,
// and gives each test its own database.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cluster is a PostgreSQL cluster started by this package.
type Cluster struct {
	// Dir holds the data directory, the socket and the server log.
	Dir      string
	Port     int
	User     string
	Password string
	Bin      string

	cred *syscall.Credential
}

// Options for Start.
type Options struct {
	// Dir is where the cluster lives (or where its location is recorded,
	// see Start). Empty: a new temporary directory that Stop removes. An
	// existing cluster in Dir is reused.
	Dir string
	// Durable keeps fsync and synchronous commit on (benchmarks); tests turn
	// them off because a throwaway cluster never needs crash safety.
	Durable bool
	// Settings are extra server settings (name=value).
	Settings []string
}

// URL returns a connection URL for database db as the superuser.
func (c *Cluster) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(c.User, c.Password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// DataDir is the cluster's data directory.
func (c *Cluster) DataDir() string { return filepath.Join(c.Dir, "data") }

// FindBin locates the PostgreSQL server binaries: $PG_BIN, then the
// directory pg_config reports, then the newest /usr/lib/postgresql/*/bin.
func FindBin() (string, error) {
	cands := []string{}
	if b := os.Getenv("PG_BIN"); b != "" {
		cands = append(cands, b)
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		cands = append(cands, strings.TrimSpace(string(out)))
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	cands = append(cands, dirs...)
	cands = append(cands, "/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin", "/usr/bin")
	for _, d := range cands {
		if fileExists(filepath.Join(d, "initdb")) && fileExists(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", errors.New("pgtest: PostgreSQL server binaries (initdb, pg_ctl) not found: install PostgreSQL (Debian: apt-get install postgresql) or set PG_BIN, or set KEYPROV_TEST_DATABASE_URL to an existing server")
}

func versionOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Start starts a cluster, creating it first when Options.Dir holds none.
// As root, the server runs as the "postgres" user, since PostgreSQL refuses
// to run as root. When that user cannot enter Options.Dir (a checkout in
// root's home, mode 0700), the cluster's files live in a directory of its
// own under /var/tmp (or /tmp) that it owns, and Options.Dir holds a
// symbolic link to it named "cluster" (Location): Cluster.Dir is then that
// directory.
func Start(opts Options) (*Cluster, error) {
	c, err := newCluster()
	if err != nil {
		return nil, err
	}
	if opts.Dir == "" {
		dir, err := os.MkdirTemp("", "keyprov-pg-*")
		if err != nil {
			return nil, err
		}
		c.Dir = dir
		if err := c.chown(c.Dir); err != nil {
			return nil, err
		}
		if !c.reachable(c.Dir) {
			// $TMPDIR is somewhere the server's user cannot enter.
			_ = os.Remove(dir)
			if c.Dir, err = c.newOutsideDir(); err != nil {
				return nil, err
			}
		}
	} else {
		dir, err := c.placeDir(opts.Dir)
		if err != nil {
			return nil, err
		}
		c.Dir = dir
	}
	pwFile := filepath.Join(c.Dir, "password")
	if !fileExists(filepath.Join(c.DataDir(), "PG_VERSION")) {
		c.Password = randomHex(16)
		if err := os.WriteFile(pwFile, []byte(c.Password+"\n"), 0o600); err != nil {
			return nil, err
		}
		if err := c.chown(pwFile); err != nil {
			return nil, err
		}
		out, err := c.command("initdb", "-D", c.DataDir(), "-U", c.User, "--pwfile", pwFile,
			"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
		}
	} else {
		b, err := os.ReadFile(pwFile)
		if err != nil {
			return nil, fmt.Errorf("pgtest: reading the password of the existing cluster in %s: %w", c.Dir, err)
		}
		c.Password = strings.TrimSpace(string(b))
		if port, ok := c.runningPort(); ok {
			c.Port = port
			return c, nil
		}
	}
	settings := []string{"listen_addresses=127.0.0.1", "max_connections=300", "unix_socket_directories=" + c.Dir}
	if !opts.Durable {
		settings = append(settings, "fsync=off", "synchronous_commit=off", "full_page_writes=off")
	}
	settings = append(settings, opts.Settings...)
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		args := []string{"-p", strconv.Itoa(port)}
		for _, s := range settings {
			args = append(args, "-c", s)
		}
		out, err := c.command("pg_ctl", "start", "-w", "-t", "60", "-D", c.DataDir(),
			"-l", filepath.Join(c.Dir, "server.log"), "-o", strings.Join(args, " ")).CombinedOutput()
		if err == nil {
			c.Port = port
			return c, c.waitReady()
		}
		log, _ := os.ReadFile(filepath.Join(c.Dir, "server.log"))
		lastErr = fmt.Errorf("pgtest: pg_ctl start: %w\n%s\n%s", err, out, tail(string(log), 2000))
	}
	return nil, lastErr
}

func newCluster() (*Cluster, error) {
	bin, err := FindBin()
	if err != nil {
		return nil, err
	}
	c := &Cluster{Bin: bin, User: "postgres"}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("pgtest: running as root needs a \"postgres\" user to run the server: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	return c, nil
}

// Attach returns the cluster that Start created in dir (or recorded in
// it, see Start), without starting it.
func Attach(dir string) (*Cluster, error) {
	c, err := newCluster()
	if err != nil {
		return nil, err
	}
	if c.Dir, err = Location(dir); err != nil {
		return nil, err
	}
	if !fileExists(filepath.Join(c.DataDir(), "PG_VERSION")) {
		return nil, fmt.Errorf("pgtest: no cluster in %s", dir)
	}
	if port, ok := c.runningPort(); ok {
		c.Port = port
	}
	return c, nil
}

// runningPort reports the port of a server already running on the data directory.
func (c *Cluster) runningPort() (int, bool) {
	if err := c.command("pg_ctl", "status", "-D", c.DataDir()).Run(); err != nil {
		return 0, false
	}
	b, err := os.ReadFile(filepath.Join(c.DataDir(), "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 4 {
		return 0, false
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	return port, err == nil
}

func (c *Cluster) waitReady() error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)), time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgtest: server on port %d not reachable: %w", c.Port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the server ("fast" shutdown). remove also deletes Dir.
func (c *Cluster) Stop(remove bool) error {
	out, err := c.command("pg_ctl", "stop", "-m", "fast", "-w", "-D", c.DataDir()).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "Is server running?") {
		err = fmt.Errorf("pgtest: pg_ctl stop: %w\n%s", err, out)
	} else {
		err = nil
	}
	if remove {
		if rmErr := os.RemoveAll(c.Dir); rmErr != nil && err == nil {
			err = rmErr
		}
	}
	return err
}

// Kill stops the server immediately, as a crash would.
func (c *Cluster) Kill() error {
	return c.command("pg_ctl", "stop", "-m", "immediate", "-w", "-D", c.DataDir()).Run()
}

// Restart starts a stopped server again on the same port.
func (c *Cluster) Restart(durable bool) error {
	args := []string{"-p", strconv.Itoa(c.Port), "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300", "-c", "unix_socket_directories=" + c.Dir}
	if !durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off")
	}
	out, err := c.command("pg_ctl", "start", "-w", "-t", "60", "-D", c.DataDir(),
		"-l", filepath.Join(c.Dir, "server.log"), "-o", strings.Join(args, " ")).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl start: %w\n%s", err, out)
	}
	return c.waitReady()
}

// Command runs a PostgreSQL binary as the cluster's operating-system user.
func (c *Cluster) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.Bin, name), args...)
	c.setCred(cmd)
	return cmd
}

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	return c.Command(context.Background(), name, args...)
}

func (c *Cluster) setCred(cmd *exec.Cmd) {
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
		cmd.Dir = c.Dir
	}
}

func (c *Cluster) chown(p string) error {
	if c.cred == nil {
		return nil
	}
	return os.Chown(p, int(c.cred.Uid), int(c.cred.Gid))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
