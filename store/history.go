package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// EventRow is a stored event.
type EventRow struct {
	ID      int64
	At      time.Time
	RunID   string
	Tenant  string
	Slug    string
	Action  string
	Changes json.RawMessage
	Owner   string
	Actor   string
	Reason  string
}

// HistoryFilter selects events.
type HistoryFilter struct {
	// Tenant and Slug select one key's events, including those recorded
	// under an older address before a rename. Empty: the whole store.
	Tenant, Slug string
	// Limit bounds the number of events; 0 means all.
	Limit int
}

// History streams events newest first to fn, one row at a time, so that
// memory does not grow with the number of events.
func (db *DB) History(ctx context.Context, f HistoryFilter, fn func(*EventRow) error) error {
	q := "SELECT e.id, e.at, e.run_id::text, e.tenant, e.slug, e.action, e.changes::jsonb::text, e.owner, e.actor, coalesce(e.reason, '') FROM " + db.table("events") + " e"
	var args []any
	if f.Tenant != "" {
		q += " WHERE e.key_id IN (SELECT id FROM " + db.table("keys") + " WHERE tenant = $1 AND slug = $2) OR (e.tenant = $1 AND e.slug = $2)"
		args = append(args, f.Tenant, f.Slug)
	}
	q += " ORDER BY e.id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := db.conn.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("reading events: %w", err)
	}
	defer rows.Close()
	var e EventRow
	var changes string
	for rows.Next() {
		if err := rows.Scan(&e.ID, &e.At, &e.RunID, &e.Tenant, &e.Slug, &e.Action, &changes, &e.Owner, &e.Actor, &e.Reason); err != nil {
			return fmt.Errorf("reading events: %w", err)
		}
		e.At = e.At.UTC()
		e.Changes = json.RawMessage(changes)
		if err := fn(&e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading events: %w", err)
	}
	return nil
}
