package store

import (
	"context"
	"fmt"
)

// ChangeCounter returns the store's change counter (migration 004): a
// number that moves, in the writer's transaction, with every write to keys
// or tokens by anyone, except writes of last_used_at alone. Equal counters
// read at two moments mean that no key or token changed in between; a
// reader that sees a new counter sees the changes that moved it.
func (t *Tx) ChangeCounter(ctx context.Context) (int64, error) {
	var n int64
	if err := t.tx.QueryRow(ctx, "SELECT counter FROM "+t.db.table("changes")).Scan(&n); err != nil {
		return 0, fmt.Errorf("reading the change counter: %w", err)
	}
	return n, nil
}
