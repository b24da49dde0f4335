package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/keyprov/keyprov/store"
)

// Saved is a saved plan to apply (keyprov apply FILE): the plan exactly as
// computed and reviewed, and the store's position it was computed against.
type Saved struct {
	Plan *Plan
	// Position is the store's position the plan was computed against; an
	// empty StoreID means that keyprov's schema did not exist then.
	Position store.Position
	// SchemaVersion is the schema version the plan was computed for.
	SchemaVersion int32
	// Record is the input record the plan leaves (nil: none).
	Record *store.InputRecord
	// MaxAge bounds the plan's age, by the database's clock.
	MaxAge time.Duration
	Meta   Meta
}

// ApplySaved applies a saved plan without the spec: in one transaction
// holding the advisory lock and the change counter, it checks that the
// store is the one the plan was computed against, at the same change
// counter (no key or token changed since), and that the plan is not older
// than MaxAge, then writes the plan's changes as they are (rows and events
// carry the time the plan was computed) and the plan's input record. Any
// of those checks refuses the apply (RefusedError, ErrRefused) with
// nothing written, as does a plan with refusals.
func ApplySaved(ctx context.Context, db *store.DB, sp *Saved) (*Result, error) {
	res := &Result{Plan: sp.Plan}
	if sp.SchemaVersion != store.SchemaVersion {
		return res, &RefusedError{Refusals: []Refusal{{Message: fmt.Sprintf(
			"the plan was computed for schema version %d, and this keyprov writes version %d: make the plan again", sp.SchemaVersion, store.SchemaVersion)}}}
	}
	if sp.Position.StoreID == "" {
		// Computed against a store without keyprov's schema: create it.
		t := time.Now()
		n, err := db.Migrate(ctx)
		res.Migrated, res.Timings.Migrate = n, time.Since(t)
		if err != nil {
			return res, fmt.Errorf("migrating the schema: %w", err)
		}
	} else if err := db.CheckVersion(ctx); err != nil {
		return res, err
	}
	t := time.Now()
	err := db.Update(ctx, func(tx *store.Tx) error {
		res.Timings.Lock = time.Since(t)
		pos, err := tx.LockPosition(ctx)
		if err != nil {
			return err
		}
		now, err := tx.Now(ctx)
		if err != nil {
			return err
		}
		if why := stale(sp, pos, now); why != "" {
			return &RefusedError{Refusals: []Refusal{{Message: why}}}
		}
		t := time.Now()
		res.Stats, err = Apply(ctx, tx, sp.Plan, sp.Meta)
		res.Timings.Write = time.Since(t)
		if err != nil || sp.Record == nil {
			return err
		}
		rec := *sp.Record
		rec.RunID = sp.Meta.RunID
		res.Record = &rec
		res.Recorded, _, err = tx.RecordInputs(ctx, &rec, nil)
		return err
	})
	if err != nil {
		res.Recorded = false
		return res, err
	}
	res.Applied = true
	return res, nil
}

// stale says why the saved plan may not be applied to the store at pos
// and now, or "".
func stale(sp *Saved, pos store.Position, now time.Time) string {
	age := now.Sub(sp.Plan.Now)
	switch {
	case sp.Position.StoreID == "" && pos.Counter != 1:
		return "the plan was computed against an empty store, and keys or tokens have been written to this one since: make the plan again"
	case sp.Position.StoreID != "" && pos.StoreID != sp.Position.StoreID:
		return fmt.Sprintf("the plan was computed against another store (%s, this one is %s): make the plan against this store", sp.Position.StoreID, pos.StoreID)
	case sp.Position.StoreID != "" && pos.Counter != sp.Position.Counter:
		return fmt.Sprintf("the store changed since the plan was computed (change counter %d, now %d): make the plan again", sp.Position.Counter, pos.Counter)
	case sp.MaxAge > 0 && age > sp.MaxAge:
		return fmt.Sprintf("the plan is %s old, older than --plan-max-age %s: make the plan again", age.Round(time.Second), sp.MaxAge)
	}
	return ""
}
