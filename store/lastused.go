package store

import (
	"context"
	"fmt"
	"time"
)

// Use is when a key was created and last used.
type Use struct {
	CreatedAt time.Time
	// LastUsedAt is keys.last_used_at: the last successful verification
	// that a verifier recorded (verify's WithLastUsed); nil when none has.
	LastUsedAt *time.Time
}

// Uses returns when each key was created and last used, by key id. Load
// leaves these columns out, since an apply never needs them; list reads
// them with this, in the same transaction.
func (t *Tx) Uses(ctx context.Context) (map[int64]Use, error) {
	rows, err := t.tx.Query(ctx, "SELECT id, created_at, last_used_at FROM "+t.db.table("keys"))
	if err != nil {
		return nil, fmt.Errorf("reading when keys were used: %w", err)
	}
	defer rows.Close()
	uses := map[int64]Use{}
	for rows.Next() {
		var (
			id int64
			u  Use
		)
		if err := rows.Scan(&id, &u.CreatedAt, &u.LastUsedAt); err != nil {
			return nil, fmt.Errorf("reading when keys were used: %w", err)
		}
		u.CreatedAt = u.CreatedAt.UTC()
		if u.LastUsedAt != nil {
			at := u.LastUsedAt.UTC()
			u.LastUsedAt = &at
		}
		uses[id] = u
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading when keys were used: %w", err)
	}
	return uses, nil
}
