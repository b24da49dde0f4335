package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable that points tests at an existing
// server: a URL whose role may create databases and roles.
const EnvURL = "KEYPROV_TEST_DATABASE_URL"

var shared struct {
	once    sync.Once
	url     string
	err     error
	cluster *Cluster
}

// Main runs a package's tests and stops the cluster they started, if any.
// Use it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// StopShared stops and removes the cluster started by Shared, if any.
func StopShared() {
	if shared.cluster != nil {
		if err := shared.cluster.Stop(true); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		shared.cluster = nil
	}
}

// Shared returns the URL of the test server: KEYPROV_TEST_DATABASE_URL, or
// a throwaway cluster started on first use (stopped by StopShared).
func Shared() (string, error) {
	shared.once.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			shared.url = u
			return
		}
		c, err := Start(Options{})
		if err != nil {
			shared.err = err
			return
		}
		shared.cluster = c
		shared.url = c.URL("postgres")
	})
	return shared.url, shared.err
}

// AdminURL returns Shared's URL. Tests never skip for want of a database:
// when none can be had, the test fails and says why.
func AdminURL(t testing.TB) string {
	t.Helper()
	u, err := Shared()
	if err != nil {
		t.Fatalf("no PostgreSQL for tests: %v", err)
	}
	return u
}

// Connect opens a connection to url; the test fails if it cannot.
func Connect(t testing.TB, u string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connecting to the test database: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// NewDatabase creates an empty database for the test, dropped when it ends,
// and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := AdminURL(t)
	u, drop, err := CreateDatabase(admin, t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Error(err)
		}
	})
	return u
}

// CreateDatabase creates an empty database named after label on the server
// of admin, and returns its URL and a function that drops it.
func CreateDatabase(admin, label string) (string, func() error, error) {
	name := "t_" + strings.ToLower(sanitize(label))
	if len(name) > 40 {
		name = name[:40]
	}
	name += "_" + randomHex(4)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("connecting to the test server: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		return "", nil, fmt.Errorf("creating test database: %w", err)
	}
	drop := func() error {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return fmt.Errorf("dropping test database: %w", err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("dropping test database: %w", err)
		}
		return nil
	}
	return WithDatabase(admin, name), drop, nil
}

// WithDatabase returns u pointing at database db.
func WithDatabase(u, db string) string {
	p, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	p.Path = "/" + db
	return p.String()
}

// WithUser returns u with another user and password.
func WithUser(u, user, password string) string {
	p, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	p.User = url.UserPassword(user, password)
	return p.String()
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
