package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyprov/keyprov/store"
)

// dbFlags are the flags that reach the store.
type dbFlags struct {
	url            string
	schema         string
	wait           time.Duration
	connectTimeout time.Duration
	lockTimeout    time.Duration
	queryMode      oneOf
	// probed is the connection the fast path made, for the full path.
	probed *store.DB
}

func addDBFlags(fs *flagSet, cfg Config) *dbFlags {
	d := &dbFlags{queryMode: oneOf{cfg.QueryMode, []string{"exec", "simple", "cache"}}}
	fs.StringVar(&d.url, "database-url", "", "PostgreSQL `URL`; prefer KEYPROV_DATABASE_URL or KEYPROV_DATABASE_URL_FILE, since other users can read command lines (default: KEYPROV_DATABASE_URL, KEYPROV_DATABASE_URL_FILE, DATABASE_URL)")
	fs.StringVar(&d.schema, "schema", cfg.Schema, "PostgreSQL `schema` that keyprov owns (KEYPROV_SCHEMA)")
	fs.DurationVar(&d.wait, "wait", cfg.Wait, "how long to retry a database that is not reachable yet (KEYPROV_WAIT)")
	fs.DurationVar(&d.connectTimeout, "connect-timeout", cfg.ConnectTimeout, "timeout of each connection attempt (KEYPROV_CONNECT_TIMEOUT)")
	fs.DurationVar(&d.lockTimeout, "lock-timeout", cfg.LockTimeout, "how long to wait for another keyprov holding the lock (KEYPROV_LOCK_TIMEOUT)")
	fs.Var(&d.queryMode, "query-mode", "pgx query `mode`: exec or simple (both work through PgBouncer in transaction pooling mode), or cache (direct connections only) (KEYPROV_QUERY_MODE)")
	return d
}

// errNoDatabase is returned when no database URL is configured.
var errNoDatabase = errors.New("no database URL: set KEYPROV_DATABASE_URL, KEYPROV_DATABASE_URL_FILE or DATABASE_URL, or pass --database-url")

// databaseURL resolves the URL: --database-url, KEYPROV_DATABASE_URL,
// the file named by KEYPROV_DATABASE_URL_FILE, then DATABASE_URL.
func (d *dbFlags) databaseURL(cfg Config) (string, error) {
	switch {
	case d.url != "":
		return d.url, nil
	case cfg.DatabaseURL != "":
		return cfg.DatabaseURL, nil
	case cfg.DatabaseURLFile != "":
		return readDatabaseURLFile(cfg.DatabaseURLFile)
	case cfg.FallbackURL != "":
		return cfg.FallbackURL, nil
	}
	return "", errNoDatabase
}

// errConfig marks configuration errors (exit 1) among open's errors.
type errConfig struct{ err error }

func (e errConfig) Error() string { return e.err.Error() }
func (e errConfig) Unwrap() error { return e.err }

// open connects to the store, waiting for it as configured.
func (d *dbFlags) open(ctx context.Context, a *app, progress func(attempt int, elapsed time.Duration)) (*store.DB, error) {
	if db := d.probed; db != nil {
		d.probed = nil
		return db, nil
	}
	u, err := d.databaseURL(a.cfg)
	if err != nil {
		return nil, errConfig{err}
	}
	if _, err := store.ParseURL(u); err != nil {
		return nil, errConfig{err}
	}
	return store.Open(ctx, store.Config{
		URL: u, Schema: d.schema, QueryMode: d.queryMode.val,
		Wait: d.wait, ConnectTimeout: d.connectTimeout, LockTimeout: d.lockTimeout,
		Log: a.log, OnAttempt: progress,
	})
}

// storeExit maps a store error to an exit code and logs it: 4 for a
// schema that is not keyprov's (*store.ForeignObjectError), 5 for a server
// that rejected keyprov (*store.RejectedError), 1 for configuration
// errors, 3 otherwise.
func (a *app) storeExit(err error, what string) int {
	var ce errConfig
	if errors.As(err, &ce) {
		a.errorf("keyprov: %v", err)
		return exitInvalid
	}
	var fe *store.ForeignObjectError
	var re *store.RejectedError
	switch {
	case errors.As(err, &re):
		// Restarting will not help: the configuration must change.
		a.log.Error().Err(err).Str("fix", re.Fix).Msg(what + " failed: the server rejected keyprov; not retried")
		a.humanf("keyprov: %v", re)
		return exitRejected
	case errors.As(err, &fe):
		// Refused for safety: the schema, or something in it, is not
		// keyprov's (SECURITY.md). Nothing was read from it or written.
		a.log.Error().Err(err).Msg(what + " refused: keyprov's schema is not keyprov's alone")
		a.humanf("keyprov: %s refused: %v", what, fe)
		return exitRefused
	case errors.Is(err, context.Canceled):
		// The store rolls back on cancellation and never interrupts COMMIT.
		a.log.Error().Err(err).Msg(what + " interrupted by a signal: nothing was written")
		a.humanf("keyprov: %s interrupted: nothing was written", what)
	case errors.Is(err, store.ErrUnavailable):
		a.log.Error().Err(err).Msg("database unavailable")
		a.humanf("keyprov: %v", err)
	case store.IsLockTimeout(err):
		a.log.Error().Err(err).Msg("lock timeout")
		a.humanf("keyprov: %v", err)
	case errors.Is(err, store.ErrCommitUnknown):
		a.log.Error().Err(err).Msg(what + " failed: the connection was lost during COMMIT, the outcome is unknown: run it again, it converges")
		a.humanf("keyprov: %s failed: %v; run it again: it converges", what, err)
	case errors.Is(err, store.ErrConnectionLost):
		a.log.Error().Err(err).Msg(what + " failed: the connection to the database was lost; the transaction was rolled back, nothing was written")
		a.humanf("keyprov: %s failed: %v; the transaction was rolled back: nothing was written", what, err)
	default:
		a.log.Error().Err(err).Msg(what + " failed")
		a.humanf("keyprov: %s failed: %v", what, err)
	}
	return exitStore
}

// withCause adds the cause of ctx's end (such as "terminated signal
// received") to err, which pgx reports as "context canceled" only.
func withCause(ctx context.Context, err error) error {
	cause := context.Cause(ctx)
	if err == nil || cause == nil || strings.Contains(err.Error(), cause.Error()) {
		return err
	}
	return fmt.Errorf("%w: %w", cause, err)
}
