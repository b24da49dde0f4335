// Package store is keyprov's PostgreSQL store: connecting (with retries
// while the database starts), migrating the schema keyprov owns, reading the
// current keys and writing changes in bulk, a number of statements that
// does not grow with the number of keys, all inside one transaction that
// holds a transaction-scoped advisory lock.
package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"
)

// Errors returned by the store, checked with errors.Is.
var (
	// ErrUnavailable: the database could not be reached within the wait.
	ErrUnavailable = errors.New("store: database unavailable")
	// ErrLockTimeout: another keyprov held the lock longer than the lock timeout.
	ErrLockTimeout = errors.New("store: lock timeout")
	// ErrSchemaMissing: keyprov's schema does not exist yet (no apply has run).
	ErrSchemaMissing = errors.New("store: schema not created yet")
	// ErrSchemaOutdated: the schema is older than this keyprov; apply migrates it.
	ErrSchemaOutdated = errors.New("store: schema needs migration")
	// ErrSchemaTooNew: the schema was migrated by a newer keyprov.
	ErrSchemaTooNew = errors.New("store: schema is newer than this keyprov")
	// ErrConnectionLost: the connection broke in the middle of a
	// transaction, which the server rolled back.
	ErrConnectionLost = errors.New("store: the connection to the database was lost")
	// ErrCommitUnknown: the connection broke during COMMIT, so whether the
	// transaction was committed is unknown (running it again converges).
	ErrCommitUnknown = errors.New("store: the connection to the database was lost during COMMIT: the outcome of the commit is unknown")
)

// QueryModes maps KEYPROV_QUERY_MODE values to pgx modes. "exec" (the
// default) and "simple" never create server-side prepared statements, so
// they work through PgBouncer in transaction pooling mode; "cache" prepares
// and caches statements, for direct connections only.
var QueryModes = map[string]pgx.QueryExecMode{
	"exec":   pgx.QueryExecModeExec,
	"simple": pgx.QueryExecModeSimpleProtocol,
	"cache":  pgx.QueryExecModeCacheStatement,
}

// Config configures Open.
type Config struct {
	URL    string
	Schema string
	// QueryMode is a key of QueryModes; empty means "exec".
	QueryMode string
	// Wait bounds the time spent retrying a database that is not reachable.
	Wait time.Duration
	// ConnectTimeout bounds each connection attempt.
	ConnectTimeout time.Duration
	// LockTimeout bounds the wait for the advisory lock (and any other lock).
	LockTimeout time.Duration
	// Log receives one line per failed attempt, without the password.
	Log zerolog.Logger
	// OnAttempt, when set, is called before each connection attempt (progress display).
	OnAttempt func(attempt int, elapsed time.Duration)
	// BulkLoadAbove is the number of rows above which a write into an
	// empty table builds the table's indexes after the rows (see bulk.go);
	// 0 means DefaultBulkLoadAbove, a negative number never.
	BulkLoadAbove int
}

// DB is a connection to the store.
type DB struct {
	conn   *pgx.Conn
	schema string
	cfg    Config
	// vetted: the schema exists and passed the ownership check on this
	// connection (see inspectSQL). A keyprov command checks once, when it
	// first reads the schema's version, migrates or writes: after a check,
	// only roles it trusts can change what it found, since it refuses
	// schemas where any other role may create triggers.
	vetted bool
}

func (db *DB) bulkLoadAbove() int {
	if db.cfg.BulkLoadAbove == 0 {
		return DefaultBulkLoadAbove
	}
	return db.cfg.BulkLoadAbove
}

// Conn returns the underlying connection (tests and tools).
func (db *DB) Conn() *pgx.Conn { return db.conn }

// Schema returns the schema name.
func (db *DB) Schema() string { return db.schema }

// Close closes the connection.
func (db *DB) Close(ctx context.Context) error { return db.conn.Close(ctx) }

// Target describes the database of a URL without its password, for logs
// and messages ("user@host:port/db").
func Target(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s/%s", cfg.User, net.JoinHostPort(cfg.Host, fmt.Sprint(cfg.Port)), cfg.Database)
}

// ParseURL parses a database URL. Its error never contains the password.
func ParseURL(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgconn already masks the password in the URL it quotes; say no more than the cause.
		// net/url quotes the whole URL in its errors, password included:
		// keep only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, fmt.Errorf("invalid database URL: %w", ue.Err)
		}
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) && pe.Unwrap() != nil {
			return nil, fmt.Errorf("invalid database URL: %w", pe.Unwrap())
		}
		return nil, errors.New("invalid database URL")
	}
	return cfg, nil
}

// Open connects to the database. While the database is not reachable
// (refused, starting up, out of connections, a timeout) it retries with
// capped, jittered exponential backoff until cfg.Wait has passed, then
// returns an error wrapping ErrUnavailable. When the server rejects keyprov
// (authentication, no such role or database, no CONNECT privilege, TLS
// required and not offered) it returns a *RejectedError (ErrRejected) at
// once. Cancelling ctx stops the wait at once.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Schema == "" {
		cfg.Schema = "keyprov"
	}
	if !validSchema(cfg.Schema) {
		return nil, fmt.Errorf("invalid schema name %q: use lowercase letters, digits and '_', starting with a letter", cfg.Schema)
	}
	pcfg, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	mode, ok := QueryModes[cfg.QueryMode]
	if cfg.QueryMode == "" {
		mode, ok = pgx.QueryExecModeExec, true
	}
	if !ok {
		return nil, fmt.Errorf("invalid query mode %q: use exec, simple or cache", cfg.QueryMode)
	}
	pcfg.DefaultQueryExecMode = mode
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	pcfg.ConnectTimeout = cfg.ConnectTimeout
	if pcfg.RuntimeParams == nil {
		pcfg.RuntimeParams = map[string]string{}
	}
	if _, set := pcfg.RuntimeParams["application_name"]; !set {
		pcfg.RuntimeParams["application_name"] = "keyprov"
	}
	target := Target(pcfg)
	// Whether the server refused TLS counts only when the URL requires it:
	// with sslmode=prefer, pgx tries plain text next.
	probe := &tlsProbe{}
	pcfg.DialFunc = probe.dial(pcfg.DialFunc)
	tlsRequired := pcfg.TLSConfig != nil
	for _, fb := range pcfg.Fallbacks {
		tlsRequired = tlsRequired && fb.TLSConfig != nil
	}

	start := time.Now()
	backoff := 250 * time.Millisecond
	const maxBackoff = 5 * time.Second
	for attempt := 1; ; attempt++ {
		if cfg.OnAttempt != nil {
			cfg.OnAttempt(attempt, time.Since(start))
		}
		actx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
		probe.refused.Store(false)
		conn, err := pgx.ConnectConfig(actx, pcfg)
		cancel()
		if err == nil {
			if attempt > 1 {
				cfg.Log.Info().Str("database", target).Int("attempts", attempt).Dur("waited_ms", time.Since(start)).Msg("database reachable")
			}
			return &DB{conn: conn, schema: cfg.Schema, cfg: cfg}, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: interrupted while connecting to %s: %w", ErrUnavailable, target, context.Cause(ctx))
		}
		if re := rejection(err, target, tlsRequired && probe.refused.Load()); re != nil {
			return nil, re
		}
		err = connectCause(err)
		elapsed := time.Since(start)
		if elapsed >= cfg.Wait {
			return nil, fmt.Errorf("%w: %s not reachable after %d attempts in %s (KEYPROV_WAIT=%s): %w",
				ErrUnavailable, target, attempt, elapsed.Round(time.Millisecond), cfg.Wait, err)
		}
		// Full jitter: sleep a random time up to the current backoff.
		sleep := time.Duration(rand.Int64N(int64(backoff))) + 10*time.Millisecond
		sleep = min(sleep, cfg.Wait-elapsed)
		cfg.Log.Warn().Str("database", target).Int("attempt", attempt).Err(err).
			Dur("retry_in_ms", sleep).Dur("elapsed_ms", elapsed).Msg("database not reachable yet, retrying")
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: interrupted while waiting for %s: %w", ErrUnavailable, target, context.Cause(ctx))
		case <-time.After(sleep):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

func validSchema(s string) bool {
	if s == "" || len(s) > 63 || !(s[0] >= 'a' && s[0] <= 'z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// lockKey is the advisory lock key of a schema: every keyprov that writes
// the same schema in the same database serialises on it.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("keyprov:" + schema))
	return int64(h.Sum64())
}

// table quotes the schema-qualified name of a table.
func (db *DB) table(name string) string {
	return pgx.Identifier{db.schema, name}.Sanitize()
}

// lock takes the transaction-scoped advisory lock, waiting at most the lock
// timeout. The lock is released at commit or rollback, and when the session
// dies; it works through PgBouncer in transaction pooling mode because it
// lives and dies with the transaction.
//
// With check, the transaction's first statement also checks that the
// schema is keyprov's to use (inspectSQL), in the same round trip, and lock
// returns a *ForeignObjectError when it is not.
func (db *DB) lock(ctx context.Context, tx pgx.Tx, check bool) error {
	timeout := db.cfg.LockTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	// synchronous_commit = on: an apply reported as committed survives a
	// crash of the database even where the server's default is off.
	const setup = "set_config('lock_timeout', %s, true), set_config('synchronous_commit', 'on', true)"
	ms := fmt.Sprintf("%dms", timeout.Milliseconds())
	if check {
		in, err := db.inspect(ctx, tx, "ROW("+fmt.Sprintf(setup, "$4")+")", ms)
		if err != nil {
			return err
		}
		if in.foreign != nil {
			return in.foreign
		}
	} else if _, err := tx.Exec(ctx, "SELECT "+fmt.Sprintf(setup, "$1"), ms); err != nil {
		return fmt.Errorf("setting lock_timeout: %w", err)
	}
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey(db.schema)); err != nil {
		if isLockTimeout(err) {
			return fmt.Errorf("%w: another keyprov held the lock on schema %q for more than %s (KEYPROV_LOCK_TIMEOUT)", ErrLockTimeout, db.schema, timeout)
		}
		return fmt.Errorf("taking the advisory lock: %w", err)
	}
	return nil
}

func isLockTimeout(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "55P03"
}

// IsLockTimeout reports whether err is a lock timeout (ErrLockTimeout, or a
// row or table lock that waited longer than lock_timeout).
func IsLockTimeout(err error) bool { return errors.Is(err, ErrLockTimeout) || isLockTimeout(err) }

// Tx is a store transaction holding the advisory lock.
type Tx struct {
	db *DB
	tx pgx.Tx
}

// Update runs fn in one transaction that holds the advisory lock; it commits
// when fn returns nil and rolls back otherwise. Unless this DB has checked
// the schema already (Version, CheckVersion, Migrate), the transaction's
// first statement checks that the schema is keyprov's to use, and Update
// returns a *ForeignObjectError (ErrForeignObject) without running fn when
// it is not.
//
// Cancelling ctx (a signal) before COMMIT rolls back. COMMIT itself is not
// interrupted: cancelling a query closes the connection, which would leave
// the outcome unknown. A connection that breaks during the transaction
// yields ErrConnectionLost (the server rolled back); one that breaks during
// COMMIT yields ErrCommitUnknown.
func (db *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	return db.transact(ctx, !db.vetted, func(tx pgx.Tx) error { return fn(&Tx{db: db, tx: tx}) })
}

// transact is Update on the bare transaction, for migrations too; check
// says whether to check the schema (see lock).
func (db *DB) transact(ctx context.Context, check bool, fn func(pgx.Tx) error) error {
	tx, err := db.conn.Begin(ctx)
	if err != nil {
		return db.broken(ctx, fmt.Errorf("beginning a transaction: %w", err))
	}
	// Rolling back after a commit does nothing; on a broken connection it
	// fails at once, and the server has rolled back already.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := db.lock(ctx, tx, check); err != nil {
		return db.broken(ctx, err)
	}
	if err := fn(tx); err != nil {
		return db.broken(ctx, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("before committing: %w", context.Cause(ctx))
	}
	// A signal during COMMIT does not stop it; say so when it comes, since
	// the process goes on until the server answers.
	stop := context.AfterFunc(ctx, func() {
		db.cfg.Log.Warn().Str("cause", fmt.Sprint(context.Cause(ctx))).Msg("interrupted during COMMIT: letting it finish")
	})
	defer stop()
	if err := tx.Commit(context.WithoutCancel(ctx)); err != nil {
		if db.conn.IsClosed() {
			return fmt.Errorf("%w: %w", ErrCommitUnknown, err)
		}
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// broken marks err with ErrConnectionLost when the connection broke (the
// server then rolls the transaction back), unless ctx was cancelled: pgx
// closes the connection to interrupt a query.
func (db *DB) broken(ctx context.Context, err error) error {
	if ctx.Err() == nil && db.conn.IsClosed() {
		return fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	return err
}

// View runs fn in a read-only transaction without the lock. The
// transaction is REPEATABLE READ: its queries (Load makes two) see one
// snapshot even while an apply commits.
func (db *DB) View(ctx context.Context, fn func(*Tx) error) error {
	return pgx.BeginTxFunc(ctx, db.conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		return fn(&Tx{db: db, tx: tx})
	})
}
