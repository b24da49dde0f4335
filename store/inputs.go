package store

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// InputRecord is the record of an apply whose plan left the store as its
// spec wants it, with nothing to warn about (migration 006): one per owner.
type InputRecord struct {
	Owner string
	// Digest is the digest of everything the outcome depended on.
	Digest []byte
	// Counter is the store's change counter that the apply read.
	Counter int64
	// ValidUntil is the first moment at which time alone changes the
	// outcome; nil: never.
	ValidUntil *time.Time
	// Names is the JSON list of the inputs, by name: what to read again.
	Names json.RawMessage
	// Plan is what a plan from these inputs says, as JSON: what a run
	// that answers from the record reports (reconcile encodes it).
	Plan json.RawMessage
	// Keyprov is the version of the keyprov that recorded it, for people.
	Keyprov string
	RunID   string
	// RecordedAt is when it was recorded (the database's time; set by
	// RecordInputs).
	RecordedAt time.Time
}

// Position is where a store is: which store, and its change counter.
type Position struct {
	// StoreID identifies the store (the changes row's store_id); empty
	// when keyprov's schema did not exist.
	StoreID string
	Counter int64
}

// Boot is what ReadBoot finds.
type Boot struct {
	// Ready: keyprov's schema exists, is keyprov's alone (the ownership
	// check found nothing to refuse) and is at SchemaVersion. Otherwise
	// the rest is zero, and the full path says why.
	Ready bool
	Position
	// Now is the database's time.
	Now     time.Time
	Records []InputRecord
}

// bootSQL checks the schema as inspectSQL does and reads, in the same
// statement, the schema's version, the change counter, the database's time
// and every input record.
const bootSQL = `SELECT i.*, v.version, c.counter, c.store_id::text, now(),
    (SELECT coalesce(json_agg(json_build_object('owner', r.owner, 'digest', encode(r.digest, 'hex'), 'counter', r.counter,
        'valid_until', r.valid_until, 'names', r.names, 'plan', r.plan, 'keyprov', r.keyprov,
        'run_id', r.run_id, 'recorded_at', r.recorded_at) ORDER BY r.owner), '[]') FROM %[1]s.inputs r)
FROM (` + inspectSQL + `) i, %[1]s.schema_version v, %[1]s.changes c`

// ReadBoot reads, in one query and without a lock or a transaction, what
// a boot with nothing to do needs: whether the schema is ready, the
// store's position, the database's time and the input records. A schema
// that does not exist, is not at this keyprov's version (a table missing)
// or might be refused is not ready, without an error.
func (db *DB) ReadBoot(ctx context.Context) (*Boot, error) {
	tables, triggers := ownTriggerArgs()
	var (
		b                         Boot
		exists, versioned, suspic bool
		role                      string
		version                   int32
		records                   []byte
	)
	sql := fmt.Sprintf(bootSQL, pgx.Identifier{db.schema}.Sanitize())
	err := db.conn.QueryRow(ctx, sql, db.schema, tables, triggers).Scan(
		&exists, &versioned, &role, &suspic, &version, &b.Counter, &b.StoreID, &b.Now, &records)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000" || pe.Code == "42703") {
		// No such table (an older schema, or none), schema or column.
		return &Boot{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the input records: %w", err)
	}
	if !exists || !versioned || suspic || version != SchemaVersion {
		return &Boot{}, nil
	}
	var rs []struct {
		Owner      string          `json:"owner"`
		Digest     string          `json:"digest"`
		Counter    int64           `json:"counter"`
		ValidUntil *time.Time      `json:"valid_until"`
		Names      json.RawMessage `json:"names"`
		Plan       json.RawMessage `json:"plan"`
		Keyprov    string          `json:"keyprov"`
		RunID      string          `json:"run_id"`
		RecordedAt time.Time       `json:"recorded_at"`
	}
	if err := json.Unmarshal(records, &rs); err != nil {
		return nil, fmt.Errorf("reading the input records: %w", err)
	}
	for _, r := range rs {
		d, err := hex.DecodeString(r.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading the input record of %q: %w", r.Owner, err)
		}
		b.Records = append(b.Records, InputRecord{Owner: r.Owner, Digest: d, Counter: r.Counter, ValidUntil: r.ValidUntil,
			Names: r.Names, Plan: r.Plan, Keyprov: r.Keyprov, RunID: r.RunID, RecordedAt: r.RecordedAt})
	}
	b.Ready = true
	b.Now = b.Now.UTC()
	return &b, nil
}

// Position reads the store's position. In a View, it is read in the same
// snapshot as the state the View loads.
func (t *Tx) Position(ctx context.Context) (Position, error) {
	var p Position
	if err := t.tx.QueryRow(ctx, "SELECT store_id::text, counter FROM "+t.db.table("changes")).Scan(&p.StoreID, &p.Counter); err != nil {
		return p, fmt.Errorf("reading the change counter: %w", err)
	}
	return p, nil
}

// LockPosition reads the store's position and locks the change counter's
// row until the transaction ends: no other transaction can then change a
// key or a token (each such write moves the counter) before this one
// commits. A verifier's last_used_at does not move the counter and is
// never held up.
func (t *Tx) LockPosition(ctx context.Context) (Position, error) {
	var p Position
	if err := t.tx.QueryRow(ctx, "SELECT store_id::text, counter FROM "+t.db.table("changes")+" FOR UPDATE").Scan(&p.StoreID, &p.Counter); err != nil {
		return p, fmt.Errorf("locking the change counter: %w", err)
	}
	return p, nil
}

// RecordInputs writes rec as the record of rec.Owner, with the change
// counter as the statement reads it, provided that the counter is still
// expected; with expected nil the transaction holds the counter
// (LockPosition) and the counter read includes this transaction's own
// writes. It writes no row when the record is already so (a no-op apply
// that repeats its predecessor writes nothing). current reports whether
// the record now describes this apply (false: the counter moved since it
// was expected, and the record stays an earlier one, with an older
// counter, that no run will take for this one); written whether a row
// was written.
func (t *Tx) RecordInputs(ctx context.Context, rec *InputRecord, expected *int64) (current, written bool, err error) {
	names, plan := rec.Names, rec.Plan
	if len(names) == 0 {
		names = json.RawMessage("[]")
	}
	if len(plan) == 0 {
		plan = json.RawMessage("{}")
	}
	sql := `WITH c AS (SELECT counter FROM ` + t.db.table("changes") + ` WHERE $8::bigint IS NULL OR counter = $8),
up AS (
  INSERT INTO ` + t.db.table("inputs") + ` AS r (owner, digest, counter, valid_until, names, plan, keyprov, run_id, recorded_at)
  SELECT $1, $2, c.counter, $3, $4, $5, $6, $7, now() FROM c
  ON CONFLICT (owner) DO UPDATE SET digest = EXCLUDED.digest, counter = EXCLUDED.counter, valid_until = EXCLUDED.valid_until,
      names = EXCLUDED.names, plan = EXCLUDED.plan, keyprov = EXCLUDED.keyprov,
      run_id = EXCLUDED.run_id, recorded_at = EXCLUDED.recorded_at
    WHERE (r.digest, r.counter, r.valid_until, r.names, r.plan, r.keyprov)
      IS DISTINCT FROM (EXCLUDED.digest, EXCLUDED.counter, EXCLUDED.valid_until, EXCLUDED.names, EXCLUDED.plan, EXCLUDED.keyprov)
  RETURNING true
)
SELECT EXISTS (SELECT FROM c), EXISTS (SELECT FROM up)`
	err = t.tx.QueryRow(ctx, sql, rec.Owner, rec.Digest, rec.ValidUntil, string(names), string(plan), rec.Keyprov,
		rec.RunID, expected).Scan(&current, &written)
	if err != nil {
		return false, false, fmt.Errorf("recording the inputs: %w", err)
	}
	return current, written, nil
}

// RecordedDigest returns the input digest recorded for owner, nil for none.
func (t *Tx) RecordedDigest(ctx context.Context, owner string) ([]byte, error) {
	var d []byte
	err := t.tx.QueryRow(ctx, "SELECT digest FROM "+t.db.table("inputs")+" WHERE owner = $1", owner).Scan(&d)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the input record: %w", err)
	}
	return d, nil
}
