package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/tern/v2/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// SchemaVersion is the schema version this keyprov writes: the number of
// embedded migrations.
var SchemaVersion = func() int32 {
	names, err := migrate.FindMigrations(migrationsFS())
	if err != nil {
		panic(err)
	}
	return int32(len(names))
}()

func migrationsFS() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err)
	}
	return sub
}

// versionTable is tern's version table inside keyprov's schema.
func (db *DB) versionTable() string { return db.table("schema_version") }

// Version returns the schema version, 0 when the schema or its version
// table does not exist. It first checks, in the same query that looks for
// the version table, that the schema is keyprov's to use, and returns a
// *ForeignObjectError (ErrForeignObject) without reading anything from
// the schema when it is not.
func (db *DB) Version(ctx context.Context) (int32, error) {
	v, _, err := db.version(ctx, db.conn)
	return v, err
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// version checks the schema (inspect) and reads its version on q; exists
// says whether the schema exists.
func (db *DB) version(ctx context.Context, q querier) (v int32, exists bool, err error) {
	// inspect reads the catalog rather than use to_regclass: to_regclass
	// answers from the session's catalog cache, which may still say "no
	// such schema" after another session created it while this one waited
	// for the lock.
	in, err := db.inspect(ctx, q, "")
	if err != nil {
		return 0, false, err
	}
	if in.foreign != nil {
		// A trigger this keyprov does not know of, made by a trusted role,
		// may be a newer keyprov's: say that the schema is too new, if it is.
		if in.versioned && in.foreign.onlyUnknownTriggers() {
			if v, err := readVersion(ctx, q, db.schema); err == nil && v > SchemaVersion {
				return v, true, nil
			}
		}
		return 0, in.exists, in.foreign
	}
	if !in.versioned {
		return 0, in.exists, nil
	}
	v, err = readVersion(ctx, q, db.schema)
	return v, true, err
}

func readVersion(ctx context.Context, q querier, schema string) (int32, error) {
	var v int32
	if err := q.QueryRow(ctx, "SELECT version FROM "+pgx.Identifier{schema, "schema_version"}.Sanitize()).Scan(&v); err != nil {
		return 0, fmt.Errorf("reading the schema version: %w", err)
	}
	return v, nil
}

// CheckVersion reports ErrSchemaMissing, ErrSchemaOutdated or
// ErrSchemaTooNew when the schema cannot be read by this keyprov as it is,
// and ErrForeignObject when it is not keyprov's to use (see Version).
func (db *DB) CheckVersion(ctx context.Context) error {
	v, err := db.Version(ctx)
	switch {
	case err != nil:
		return err
	case v == 0:
		return fmt.Errorf("%w: schema %q has no keyprov tables", ErrSchemaMissing, db.schema)
	case v < SchemaVersion:
		return fmt.Errorf("%w: schema %q is at version %d, this keyprov needs %d", ErrSchemaOutdated, db.schema, v, SchemaVersion)
	case v > SchemaVersion:
		return db.tooNew(v)
	}
	return nil
}

func (db *DB) tooNew(v int32) error {
	return fmt.Errorf("%w: schema %q is at version %d, this keyprov knows %d: upgrade keyprov", ErrSchemaTooNew, db.schema, v, SchemaVersion)
}

// Migrate creates or upgrades keyprov's schema and reports how many
// migrations ran. It is idempotent and safe to run from many processes at
// once: an up-to-date schema costs two queries (checking the schema and
// finding its version table, reading the version) and takes no lock;
// otherwise all migrations run in one transaction holding the advisory
// lock, so a crash leaves the previous version intact. Like Version, it refuses a schema
// that is not keyprov's to use (ErrForeignObject), before reading or
// migrating anything, and checks again once it holds the lock.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	return db.migrateTo(ctx, SchemaVersion)
}

// migrateTo migrates to version target (tests build older schemas with it).
func (db *DB) migrateTo(ctx context.Context, target int32) (int, error) {
	v, err := db.Version(ctx)
	if err != nil {
		return 0, err
	}
	if v > SchemaVersion {
		return 0, db.tooNew(v)
	}
	if v >= target {
		return 0, nil
	}
	ran := 0
	// In one transaction holding the advisory lock, committed as Update
	// commits: a signal rolls back before COMMIT but never interrupts it,
	// so an interrupted run never reports a migration it made as undone.
	// The transaction's first statement does not check the schema: the
	// check that counts is the one made holding the lock, below.
	err = db.transact(ctx, false, func(tx pgx.Tx) error {
		// Another process may have migrated while this one waited for the
		// lock, or another role created the schema.
		before, exists, err := db.version(ctx, tx)
		switch {
		case err != nil:
			return err
		case before > SchemaVersion:
			return db.tooNew(before)
		case before >= target:
			return nil
		}
		if !exists {
			if _, err := tx.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{db.schema}.Sanitize()); err != nil {
				doing := fmt.Sprintf("creating schema %q", db.schema)
				if re := rejectedStatement(err, doing, "create the schema for keyprov's role (CREATE SCHEMA "+
					db.schema+" AUTHORIZATION role), or grant it CREATE on the database"); re != nil {
					return re
				}
				return fmt.Errorf("%s: %w", doing, err)
			}
		}
		// tern runs on the same connection, so inside this transaction; with
		// DisableTx it neither begins nor commits. Its session-level lock is
		// taken and released within the transaction, so it cannot leak to
		// another client through a pooler.
		m, err := migrate.NewMigratorEx(ctx, db.conn, db.versionTable(), &migrate.MigratorOptions{DisableTx: true})
		if err != nil {
			return fmt.Errorf("preparing migrations: %w", err)
		}
		m.Data = map[string]any{"schema": pgx.Identifier{db.schema}.Sanitize()}
		if err := m.LoadMigrations(migrationsFS()); err != nil {
			return fmt.Errorf("loading migrations: %w", err)
		}
		if err := m.MigrateTo(ctx, target); err != nil {
			return fmt.Errorf("migrating schema %q from version %d: %w", db.schema, before, err)
		}
		ran = int(target - before)
		return nil
	})
	if err != nil {
		return 0, err
	}
	// The schema is keyprov's: it was checked holding the lock, or created.
	db.vetted = true
	return ran, nil
}
