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
// table does not exist.
func (db *DB) Version(ctx context.Context) (int32, error) {
	return version(ctx, db.conn, db.schema)
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func version(ctx context.Context, q querier, schema string) (int32, error) {
	// Read the catalog rather than use to_regclass: to_regclass answers from
	// the session's catalog cache, which may still say "no such schema" after
	// another session created it while this one waited for the lock.
	var exists bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
	JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = $1 AND c.relname = 'schema_version')`, schema).Scan(&exists); err != nil {
		return 0, fmt.Errorf("reading the schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int32
	if err := q.QueryRow(ctx, "SELECT version FROM "+pgx.Identifier{schema, "schema_version"}.Sanitize()).Scan(&v); err != nil {
		return 0, fmt.Errorf("reading the schema version: %w", err)
	}
	return v, nil
}

// CheckVersion reports ErrSchemaMissing, ErrSchemaOutdated or
// ErrSchemaTooNew when the schema cannot be read by this keyprov as it is.
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
		return fmt.Errorf("%w: schema %q is at version %d, this keyprov knows %d: upgrade keyprov", ErrSchemaTooNew, db.schema, v, SchemaVersion)
	}
	return nil
}

// Migrate creates or upgrades keyprov's schema and reports how many
// migrations ran. It is idempotent and safe to run from many processes at
// once: an up-to-date schema costs one query and takes no lock; otherwise all
// migrations run in one transaction holding the advisory lock, so a crash
// leaves the previous version intact.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	return db.migrateTo(ctx, SchemaVersion)
}

// migrateTo migrates to version target (tests build older schemas with it).
func (db *DB) migrateTo(ctx context.Context, target int32) (int, error) {
	v, err := db.Version(ctx)
	if err != nil {
		return 0, err
	}
	if v >= target && v <= SchemaVersion {
		return 0, nil
	}
	if v > SchemaVersion {
		return 0, db.CheckVersion(ctx)
	}
	ran := 0
	// In one transaction holding the advisory lock, committed as Update
	// commits: a signal rolls back before COMMIT but never interrupts it,
	// so an interrupted run never reports a migration it made as undone.
	err = db.transact(ctx, func(tx pgx.Tx) error {
		// Another process may have migrated while this one waited for the lock.
		before, err := version(ctx, tx, db.schema)
		if err != nil || before >= target {
			return err
		}
		var schemaExists bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", db.schema).Scan(&schemaExists); err != nil {
			return fmt.Errorf("looking up schema %q: %w", db.schema, err)
		}
		if !schemaExists {
			if _, err := tx.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{db.schema}.Sanitize()); err != nil {
				return fmt.Errorf("creating schema %q: %w", db.schema, err)
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
	return ran, nil
}
