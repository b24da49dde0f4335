package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrKeyNotFound is returned when no key has the given tenant and slug.
var ErrKeyNotFound = errors.New("store: key not found")

// RetiredRevoked is the retired_reason of tokens retired because their key
// was revoked. Such a token can never become active again.
const RetiredRevoked = "key revoked"

// Revocation is the outcome of RevokeKey.
type Revocation struct {
	KeyID     int64
	Owner     string
	RevokedAt time.Time
	// AlreadyRevoked is true when the key was revoked before; its live
	// tokens, if any, were still retired.
	AlreadyRevoked bool
	// Retired lists the hints of the tokens retired now.
	Retired []string
}

// EventMeta identifies the run that writes an event.
type EventMeta struct {
	RunID string
	Actor string
}

// RevokeKey revokes a key at once and retires its live tokens, recording
// one "revoked" event with the reason. The row stays for audit.
func (t *Tx) RevokeKey(ctx context.Context, tenant, slug, reason string, meta EventMeta) (*Revocation, error) {
	r := &Revocation{}
	var revokedAt *time.Time
	err := t.tx.QueryRow(ctx, "SELECT id, owner, revoked_at FROM "+t.db.table("keys")+" WHERE tenant = $1 AND slug = $2 FOR UPDATE",
		tenant, slug).Scan(&r.KeyID, &r.Owner, &revokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s/%s", ErrKeyNotFound, tenant, slug)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s/%s: %w", tenant, slug, err)
	}
	now, err := t.Now(ctx)
	if err != nil {
		return nil, err
	}
	if revokedAt != nil {
		r.AlreadyRevoked, r.RevokedAt = true, revokedAt.UTC()
	} else {
		r.RevokedAt = now
		if _, err := t.tx.Exec(ctx, "UPDATE "+t.db.table("keys")+" SET revoked_at = $2, revoked_reason = $3, updated_at = $2 WHERE id = $1",
			r.KeyID, now, reason); err != nil {
			return nil, fmt.Errorf("revoking %s/%s: %w", tenant, slug, err)
		}
	}
	rows, err := t.tx.Query(ctx, "UPDATE "+t.db.table("tokens")+" SET state = 'retired', retired_at = $2, retired_reason = $3 WHERE key_id = $1 AND state <> 'retired' RETURNING hint",
		r.KeyID, now, RetiredRevoked)
	if err != nil {
		return nil, fmt.Errorf("retiring the tokens of %s/%s: %w", tenant, slug, err)
	}
	r.Retired, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("retiring the tokens of %s/%s: %w", tenant, slug, err)
	}
	if r.AlreadyRevoked && len(r.Retired) == 0 {
		return r, nil
	}
	changes := map[string]any{}
	if !r.AlreadyRevoked {
		changes["revoked"] = map[string]any{"old": false, "new": true}
	}
	if len(r.Retired) > 0 {
		changes["retired_tokens"] = r.Retired
	}
	b, _ := json.Marshal(changes)
	if _, err := t.tx.Exec(ctx, "INSERT INTO "+t.db.table("events")+" (at, run_id, key_id, tenant, slug, action, changes, owner, actor, reason) VALUES ($1, $2, $3, $4, $5, 'revoked', $6, $7, $8, $9)",
		now, meta.RunID, r.KeyID, tenant, slug, string(b), r.Owner, meta.Actor, reason); err != nil {
		return nil, fmt.Errorf("recording the revocation of %s/%s: %w", tenant, slug, err)
	}
	return r, nil
}
