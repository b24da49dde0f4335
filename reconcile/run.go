package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/token"
)

// RunOptions configure Run.
type RunOptions struct {
	Options
	// DryRun computes the plan and writes nothing (keyprov plan). It takes
	// no lock and does not migrate; a store without keyprov's schema plans
	// as empty.
	DryRun bool
	// FullRead reads the content of every stored key, as if no content
	// digest matched. The digests spare a no-op apply from reading 100,000
	// keys' content; they cannot tell a change made together with a digest
	// forged to match the spec's row, which a full read finds.
	FullRead bool
	Meta     Meta
	// Record, when set, is recorded by an apply whose plan finds the store
	// settled (Plan.Settled: nothing to change, nothing to say), in its
	// transaction, with the change counter it read the store at: the next
	// run with the same inputs can answer from it (fastpath.go). A plan
	// (DryRun) records nothing but returns the record it would write
	// (Result.Record).
	Record *Record
}

// Timings are the durations of a run's phases.
type Timings struct {
	Migrate, Lock, Load, Diff, Write time.Duration
}

// Result is the outcome of Run.
type Result struct {
	Plan     *Plan
	Applied  bool
	Stats    store.WriteStats
	Migrated int
	Timings  Timings
	// ContentRead is the number of stored keys whose content was read: those
	// whose content digest does not show that they are as the spec wants
	// them. A run with nothing to change reads none.
	ContentRead int
	// Position is the store's position that a plan (DryRun) was computed
	// against, read in the same snapshot as the state; zero when keyprov's
	// schema did not exist.
	Position store.Position
	// Record is the input record of a run given RunOptions.Record whose
	// plan settles the store: the record a plan would leave (its Counter
	// is the position's), or an apply's; Recorded says that the store's
	// record now is the apply's (written, or so already).
	Record   *store.InputRecord
	Recorded bool
	// StoreDigest is the input digest the store had recorded for the
	// spec's owner when a plan given RunOptions.Record read it (nil: none).
	StoreDigest []byte
}

// Run reconciles the store with the spec: it migrates the schema, then in
// one transaction holding the advisory lock loads the state, computes the
// plan and writes it. With refusals it writes nothing and returns an error
// wrapping ErrRefused (the plan is still in the result).
func Run(ctx context.Context, db *store.DB, s *spec.Spec, opts RunOptions) (*Result, error) {
	res := &Result{}
	if opts.DryRun {
		err := db.CheckVersion(ctx)
		empty := errors.Is(err, store.ErrSchemaMissing)
		if err != nil && !empty {
			return nil, err
		}
		err = db.View(ctx, func(tx *store.Tx) error {
			if !empty {
				var err error
				if res.Position, err = tx.Position(ctx); err != nil {
					return err
				}
			}
			st, known, err := load(ctx, tx, s, loadOptions{schemaMissing: empty, fullRead: opts.FullRead}, res)
			if err != nil {
				return err
			}
			t := time.Now()
			res.Plan = Diff(s, st, known, opts.Options)
			res.Timings.Diff = time.Since(t)
			if opts.Record != nil && res.Plan.Settled() {
				res.Record = inputRecord(opts.Record, s, st, opts, res.Plan)
				res.Record.Counter = res.Position.Counter
			}
			if opts.Record != nil && !empty {
				res.StoreDigest, err = tx.RecordedDigest(ctx, s.Settings.Owner)
			}
			return err
		})
		if err == nil && len(res.Plan.Refusals) > 0 {
			// The apply would be refused: say so as an apply does.
			err = &RefusedError{Refusals: res.Plan.Refusals}
		}
		return res, err
	}

	t := time.Now()
	n, err := db.Migrate(ctx)
	res.Migrated, res.Timings.Migrate = n, time.Since(t)
	if err != nil {
		return nil, fmt.Errorf("migrating the schema: %w", err)
	}
	t = time.Now()
	err = db.Update(ctx, func(tx *store.Tx) error {
		res.Timings.Lock = time.Since(t)
		// The spec's token settings, for verifiers; first, so that the
		// change counter read below counts this write too.
		if _, err := tx.RecordOwner(ctx, store.Owner{Name: s.Settings.Owner,
			TokenPrefix: s.Settings.TokenPrefix, TokenChecksum: s.Settings.TokenChecksum}); err != nil {
			return err
		}
		// The counter is read before the state: a write between the two
		// moves it, and the record then never matches (a run evaluates
		// again rather than trust a state it did not see).
		var seen int64
		if opts.Record != nil {
			var err error
			if seen, err = tx.ChangeCounter(ctx); err != nil {
				return err
			}
		}
		st, known, err := load(ctx, tx, s, loadOptions{fullRead: opts.FullRead}, res)
		if err != nil {
			return err
		}
		t := time.Now()
		res.Plan = Diff(s, st, known, opts.Options)
		res.Timings.Diff = time.Since(t)
		t = time.Now()
		if opts.Record != nil && res.Plan.Settled() {
			res.Record = inputRecord(opts.Record, s, st, opts, res.Plan)
		}
		res.Stats, res.Recorded, err = applyRecorded(ctx, tx, res.Plan, opts.Meta, res.Record, seen)
		res.Timings.Write = time.Since(t)
		return err
	})
	if err != nil {
		res.Recorded = false
		return res, err
	}
	res.Applied = true
	return res, nil
}

// applyRecorded applies the plan and, when rec is set (the plan found the
// store settled: it writes nothing), records it, provided that the change
// counter is still the one seen before the state was loaded.
func applyRecorded(ctx context.Context, tx *store.Tx, p *Plan, meta Meta, rec *store.InputRecord, seen int64) (store.WriteStats, bool, error) {
	st, err := Apply(ctx, tx, p, meta)
	if err != nil || rec == nil {
		return st, false, err
	}
	current, _, err := tx.RecordInputs(ctx, rec, &seen)
	return st, current, err
}

// loadOptions say how a run loads the store.
type loadOptions struct {
	// schemaMissing: keyprov's schema does not exist (a plan before the
	// first apply): the store is empty, and only its clock is read.
	schemaMissing bool
	// fullRead reads every key's content (RunOptions.FullRead).
	fullRead bool
}

// load reads the state Diff compares s with, and the stored tokens it
// needs to know of (CandidateDigests). Unless opts.fullRead, the content of
// a key that the spec's row at its address matches is not read
// (store.Tx.LoadExpected).
func load(ctx context.Context, tx *store.Tx, s *spec.Spec, opts loadOptions, res *Result) (*store.State, map[token.Digest]store.TokenRef, error) {
	t := time.Now()
	defer func() { res.Timings.Load = time.Since(t) }()
	if opts.schemaMissing {
		now, err := tx.Now(ctx)
		return &store.State{Now: now}, nil, err
	}
	var (
		st  *store.State
		err error
	)
	if opts.fullRead {
		st, err = tx.Load(ctx)
	} else {
		st, err = tx.LoadExpected(ctx, expected(s))
	}
	if err != nil {
		return nil, nil, err
	}
	res.ContentRead = st.ContentRead
	known, err := tx.LookupDigests(ctx, CandidateDigests(s, st))
	return st, known, err
}

// expected is the content the spec asks for at each of its addresses, in
// its (address) order.
func expected(s *spec.Spec) store.Expected {
	return store.Expected{
		N:       len(s.Keys),
		Address: func(i int) (string, string) { return s.Keys[i].Address.Tenant, s.Keys[i].Address.Slug },
		Row:     func(i int) store.KeyRow { return desiredRow(s.Keys[i], s.Settings.Owner) },
	}
}
