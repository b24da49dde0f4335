package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Event actions of a key's disabled state, written by DisableKey and
// EnableKey and by an apply (reconcile).
const (
	// EventDisabled: a holder was added (the spec, a prune, an operator).
	EventDisabled = "disabled"
	// EventEnabled: a holder was lifted. The key is enabled when no other
	// holder remains; the event's changes say whether it is.
	EventEnabled = "enabled"
)

// Switch is the outcome of DisableKey and EnableKey.
type Switch struct {
	KeyID int64
	Owner string
	// Before and After are the key's disabled state around the call.
	Before, After Disabled
	// RevokedAt is set when the key is revoked: nothing was changed.
	RevokedAt *time.Time
	// Changed reports whether anything was written (and an event recorded).
	Changed bool
}

// DisableKey records an operator's disable of a key: its tokens are kept,
// none of them verifies until EnableKey lifts it, and no apply lifts it. One
// "disabled" event records who (meta.Actor) and why. A key that an operator
// disabled already, or that is revoked, is left as it is (Changed false).
func (t *Tx) DisableKey(ctx context.Context, tenant, slug, reason string, meta EventMeta) (*Switch, error) {
	sw, err := t.lockForSwitch(ctx, tenant, slug)
	if err != nil || sw.RevokedAt != nil || sw.Before.Operator != nil {
		return sw, err
	}
	now, err := t.Now(ctx)
	if err != nil {
		return nil, err
	}
	sw.After = sw.Before
	sw.After.Operator = &OperatorHold{At: now, Actor: meta.Actor, Reason: reason}
	if sw.After.At == nil {
		sw.After.At = &now
	}
	if _, err := t.tx.Exec(ctx, "UPDATE "+t.db.table("keys")+` SET disabled_at = $2,
	disabled_operator_at = $3, disabled_operator_actor = $4, disabled_operator_reason = $5, updated_at = $3 WHERE id = $1`,
		sw.KeyID, sw.After.At, now, meta.Actor, reason); err != nil {
		return nil, fmt.Errorf("disabling %s/%s: %w", tenant, slug, err)
	}
	if err := t.switchEvent(ctx, sw, EventDisabled, now, tenant, slug, reason, meta); err != nil {
		return nil, err
	}
	sw.Changed = true
	return sw, nil
}

// EnableKey lifts an operator's disable of a key. It lifts nothing else: a
// key that the spec (disabled = true) or a prune holds disabled stays
// disabled, and After says by whom. A key without an operator's disable is
// left as it is (Changed false). One "enabled" event records who and why.
func (t *Tx) EnableKey(ctx context.Context, tenant, slug, reason string, meta EventMeta) (*Switch, error) {
	sw, err := t.lockForSwitch(ctx, tenant, slug)
	if err != nil || sw.Before.Operator == nil {
		return sw, err
	}
	now, err := t.Now(ctx)
	if err != nil {
		return nil, err
	}
	sw.After = sw.Before
	sw.After.Operator = nil
	if !sw.After.Held() {
		sw.After.At = nil
	}
	if _, err := t.tx.Exec(ctx, "UPDATE "+t.db.table("keys")+` SET disabled_at = $2,
	disabled_operator_at = NULL, disabled_operator_actor = NULL, disabled_operator_reason = NULL, updated_at = $3 WHERE id = $1`,
		sw.KeyID, sw.After.At, now); err != nil {
		return nil, fmt.Errorf("enabling %s/%s: %w", tenant, slug, err)
	}
	if err := t.switchEvent(ctx, sw, EventEnabled, now, tenant, slug, reason, meta); err != nil {
		return nil, err
	}
	sw.Changed = true
	return sw, nil
}

// lockForSwitch reads a key's disabled state and locks its row.
func (t *Tx) lockForSwitch(ctx context.Context, tenant, slug string) (*Switch, error) {
	sw := &Switch{}
	var (
		at, opAt       *time.Time
		spec, prune    bool
		opActor, opWhy *string
		revokedAt      *time.Time
	)
	err := t.tx.QueryRow(ctx, `SELECT id, owner, revoked_at, disabled_at, disabled_spec, disabled_prune,
	disabled_operator_at, disabled_operator_actor, disabled_operator_reason
FROM `+t.db.table("keys")+` WHERE tenant = $1 AND slug = $2 FOR UPDATE`, tenant, slug).
		Scan(&sw.KeyID, &sw.Owner, &revokedAt, &at, &spec, &prune, &opAt, &opActor, &opWhy)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s/%s", ErrKeyNotFound, tenant, slug)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s/%s: %w", tenant, slug, err)
	}
	sw.RevokedAt = storedTime(revokedAt)
	sw.Before = Disabled{At: storedTime(at), Spec: spec, Prune: prune}
	if opAt != nil {
		sw.Before.Operator = &OperatorHold{At: opAt.UTC(), Actor: deref(opActor), Reason: deref(opWhy)}
	}
	sw.After = sw.Before
	return sw, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// SwitchChanges is the changes document of an event that changes a key's
// disabled state: whether the key is disabled, and by whom, before and
// after.
func SwitchChanges(before, after *Disabled) []byte {
	holders := func(d *Disabled) []string {
		if h := d.Holders(); h != nil {
			return h
		}
		return []string{}
	}
	b, _ := json.Marshal(map[string]any{
		"disabled":    map[string]any{"old": before.Held(), "new": after.Held()},
		"disabled_by": map[string]any{"old": holders(before), "new": holders(after)},
	})
	return b
}

func (t *Tx) switchEvent(ctx context.Context, sw *Switch, action string, now time.Time, tenant, slug, reason string, meta EventMeta) error {
	if _, err := t.tx.Exec(ctx, "INSERT INTO "+t.db.table("events")+" (at, run_id, key_id, tenant, slug, action, changes, owner, actor, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
		now, meta.RunID, sw.KeyID, tenant, slug, action, string(SwitchChanges(&sw.Before, &sw.After)), sw.Owner, meta.Actor, nullString(reason)); err != nil {
		return fmt.Errorf("recording the %s event of %s/%s: %w", action, tenant, slug, err)
	}
	return nil
}
