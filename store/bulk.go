package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultBulkLoadAbove is the number of rows above which a COPY into an
// empty table builds the table's indexes after the rows (Config.BulkLoadAbove).
const DefaultBulkLoadAbove = 10_000

// Loading a large number of rows into an empty table is the one case where
// maintaining the indexes row by row is the slow way: PostgreSQL builds an
// index from a sorted scan of the table several times faster than it inserts
// the same entries one at a time (the PostgreSQL manual's "Populating a
// Database" says the same). An initial apply of 100,000 keys writes 300,000
// rows into three empty tables; with their six indexes built afterwards, it
// spends 0.85-1.1 s storing them instead of 1.3-1.7 s (BENCHMARKS.md).
//
// Dropping an index takes an ACCESS EXCLUSIVE lock on its table until the
// transaction ends, so the bulk load only happens when nobody can be
// reading anything from the table: it is empty, and the lock is free now
// (LOCK … NOWAIT; anyone holding a lock on it, even a reader, sends the rows
// the ordinary way instead of making keyprov or them wait). Readers that
// come later wait for the commit instead of finding no keys.
//
// Only indexes that the rebuild restores exactly are dropped: those that no
// foreign key uses, that carry no comment, no tablespace of their own, no
// CLUSTER mark and no replica identity, that are valid, and that belong to
// no partitioned index. Others stay and are maintained row by row. The
// rebuild recreates each from its own definition in the catalog
// (pg_get_indexdef, or pg_get_constraintdef for the indexes of primary key,
// unique and exclusion constraints), under the same name. Everything
// happens in the apply's transaction: if anything fails, PostgreSQL rolls
// the drop back with the rest. If the server refuses any of it before the
// rows are copied (a role that does not own the table, an event trigger
// that forbids DDL), the rows are copied the ordinary way.

// bulkIndexesQuery lists the indexes of table $1 with how to drop and
// rebuild each, and whether the rebuild restores it exactly.
const bulkIndexesQuery = `
SELECT con.oid IS NOT NULL,
       CASE WHEN con.oid IS NULL THEN format('%I.%I', n.nspname, ic.relname) ELSE format('%I', con.conname) END,
       CASE WHEN con.oid IS NULL THEN pg_get_indexdef(i.indexrelid) ELSE pg_get_constraintdef(con.oid) END,
       i.indisvalid AND i.indisready AND i.indislive
         AND NOT i.indisreplident AND NOT i.indisclustered
         AND ic.reltablespace = 0
         AND obj_description(i.indexrelid, 'pg_class') IS NULL
         AND (con.oid IS NULL OR obj_description(con.oid, 'pg_constraint') IS NULL)
         AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)
         AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid OR h.inhparent = i.indexrelid)
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = ic.relnamespace
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
WHERE i.indrelid = $1::regclass
ORDER BY ic.relname`

// bulkTableQuery tells whether table $1 can have its indexes rebuilt at all:
// a plain table, in no inheritance tree, owned by a role of the current user.
const bulkTableQuery = `
SELECT c.relkind = 'r' AND NOT c.relispartition AND NOT c.relhassubclass
       AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = c.oid)
       AND pg_has_role(c.relowner, 'USAGE')
FROM pg_class c WHERE c.oid = $1::regclass`

// reserveIDsQuery draws $2 consecutive ids from the sequence of the id
// column of table $1 in one step: one nextval, then setval to the last id
// of the range, instead of $2 calls of nextval (0.04 s per 100,000 rows).
// It returns the first id, or no row when the sequence does not count by
// one (the ids are then drawn the ordinary way). A range past the
// sequence's maximum makes setval fail, and the rows go the ordinary way.
//
// Between the nextval and the setval, within the statement, another
// session's nextval would draw an id inside the range. It is only run under
// the bulk load's ACCESS EXCLUSIVE lock on the table: an INSERT into the
// table waits for that lock before it evaluates the column's default, so
// only a direct call of nextval on keyprov's own sequence could, and a row
// inserted with that id would then fail on the primary key, never replace
// one.
const reserveIDsQuery = `
SELECT setval(q.seq, q.first + $2 - 1) - $2 + 1
FROM (SELECT p.seqrelid::regclass AS seq, nextval(p.seqrelid::regclass) AS first
      FROM pg_sequence p
      WHERE p.seqrelid = pg_get_serial_sequence($1, 'id')::regclass AND p.seqincrement = 1) q`

// A load is n rows to copy into table.
type load struct {
	table string
	n     int
	// reserveIDs asks for n consecutive values of the table's id column,
	// drawn in one step when the rows are bulk-loaded (reserveIDsQuery).
	reserveIDs bool
	// rows returns the columns to copy and the encoder of row i. firstID
	// is the first of the reserved ids, or 0 when none were reserved.
	rows func(ctx context.Context, firstID int64) (columns []string, encode func(e *copyEncoder, i int), err error)
}

// copyInBulk copies l's rows, with the table's indexes built after the
// rows when there are more than the bulk-load threshold and the table is
// empty and free. It returns the number of indexes it rebuilt.
func (t *Tx) copyInBulk(ctx context.Context, l load) (rows, rebuilt int64, err error) {
	var bl bulkLoad
	if above := t.db.bulkLoadAbove(); above >= 0 && l.n > above {
		if bl, err = t.dropIndexesForLoad(ctx, l); err != nil {
			return 0, 0, fmt.Errorf("preparing the bulk load: %w", err)
		}
	}
	columns, encode, err := l.rows(ctx, bl.firstID)
	if err != nil {
		return 0, 0, err
	}
	if rows, err = t.copyIn(ctx, l.table, columns, l.n, encode); err != nil {
		return 0, 0, err
	}
	if len(bl.rebuild) > 0 {
		// One round trip: the statements are sent as one simple query.
		if _, err := t.tx.Conn().PgConn().Exec(ctx, strings.Join(bl.rebuild, ";\n")).ReadAll(); err != nil {
			return 0, 0, fmt.Errorf("building the indexes of %s: %w", l.table, err)
		}
	}
	return rows, int64(bl.indexes), nil
}

// bulkLoad is a table made ready for a bulk load.
type bulkLoad struct {
	rebuild []string // the statements that rebuild the dropped indexes
	indexes int      // the number of indexes dropped
	firstID int64    // the first reserved id, 0 when none
}

// dropIndexesForLoad drops the indexes of l's table that it can rebuild
// exactly, if the table is empty and can be locked without waiting, and
// reserves ids if l asks for them. It returns a zero bulkLoad, having
// changed and kept locked nothing, when the table is not empty or not
// free, when the current user may not drop its indexes, or when the server
// refuses the DDL for any other reason.
func (t *Tx) dropIndexesForLoad(ctx context.Context, l load) (bulkLoad, error) {
	sp, err := t.tx.Begin(ctx) // a savepoint: rolling back to it releases the lock
	if err != nil {
		return bulkLoad{}, err
	}
	drop, rebuild, n, err := t.dropIndexes(ctx, sp, l.table)
	if err == nil && n > 0 {
		if _, err = sp.Conn().PgConn().Exec(ctx, strings.Join(drop, ";\n")).ReadAll(); err == nil {
			bl := bulkLoad{rebuild: rebuild, indexes: n}
			if l.reserveIDs {
				err = sp.QueryRow(ctx, reserveIDsQuery, t.db.table(l.table), l.n).Scan(&bl.firstID)
				if errors.Is(err, pgx.ErrNoRows) {
					err = nil
				}
			}
			if err == nil {
				return bl, sp.Commit(ctx)
			}
		}
	}
	// Nothing to drop, or the server said no: the lock is taken
	// (lock_not_available), the role may not read the table or drop its
	// indexes, an event trigger forbids DDL outside migrations… The bulk load is only a
	// faster way: the rows go the ordinary way, with nothing changed.
	if rbErr := sp.Rollback(ctx); rbErr != nil {
		return bulkLoad{}, errors.Join(err, rbErr)
	}
	var pe *pgconn.PgError
	if err == nil || (errors.As(err, &pe) && ctx.Err() == nil) {
		return bulkLoad{}, nil
	}
	return bulkLoad{}, err
}

// dropIndexes checks that table is empty, locks it, checks that it is
// still empty, and returns the statements that drop and rebuild its
// indexes and their number (none if it is not empty).
func (t *Tx) dropIndexes(ctx context.Context, sp pgx.Tx, table string) (drop, rebuild []string, n int, err error) {
	name := t.db.table(table)
	// A table with rows is left alone without being locked even briefly.
	empty := "SELECT NOT EXISTS (SELECT 1 FROM " + name + ")"
	var ok bool
	if err := sp.QueryRow(ctx, empty).Scan(&ok); err != nil || !ok {
		return nil, nil, 0, err
	}
	if _, err := sp.Exec(ctx, "LOCK TABLE "+name+" IN ACCESS EXCLUSIVE MODE NOWAIT"); err != nil {
		return nil, nil, 0, err
	}
	if err := sp.QueryRow(ctx, empty).Scan(&ok); err != nil || !ok {
		return nil, nil, 0, err
	}
	if err := sp.QueryRow(ctx, bulkTableQuery, name).Scan(&ok); err != nil || !ok {
		return nil, nil, 0, err
	}
	rows, err := sp.Query(ctx, bulkIndexesQuery, name)
	if err != nil {
		return nil, nil, 0, err
	}
	var (
		isConstraint, exact bool
		ident, def          string
		dropConstraints     []string
		addConstraints      []string
	)
	_, err = pgx.ForEachRow(rows, []any{&isConstraint, &ident, &def, &exact}, func() error {
		switch {
		case !exact:
			return nil // kept, and maintained row by row
		case isConstraint:
			dropConstraints = append(dropConstraints, "DROP CONSTRAINT "+ident)
			addConstraints = append(addConstraints, "ADD CONSTRAINT "+ident+" "+def)
		default:
			drop = append(drop, "DROP INDEX "+ident)
			rebuild = append(rebuild, def)
		}
		n++
		return nil
	})
	if err != nil {
		return nil, nil, 0, err
	}
	if len(dropConstraints) > 0 {
		drop = append(drop, "ALTER TABLE "+name+" "+strings.Join(dropConstraints, ", "))
		// One ALTER TABLE adds every constraint.
		rebuild = append(rebuild, "ALTER TABLE "+name+" "+strings.Join(addConstraints, ", "))
	}
	return drop, rebuild, n, nil
}
