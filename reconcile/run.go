package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
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
			st, known, err := load(ctx, tx, s, empty, opts.FullRead, res)
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
		st, known, err := load(ctx, tx, s, false, opts.FullRead, res)
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

func load(ctx context.Context, tx *store.Tx, s *spec.Spec, empty, full bool, res *Result) (*store.State, map[token.Digest]store.TokenRef, error) {
	t := time.Now()
	defer func() { res.Timings.Load = time.Since(t) }()
	if empty {
		now, err := tx.Now(ctx)
		return &store.State{Now: now}, nil, err
	}
	if full {
		st, err := tx.Load(ctx)
		if err != nil {
			return nil, nil, err
		}
		res.ContentRead = len(st.Keys)
		known, err := tx.LookupDigests(ctx, candidateDigests(s, byAddress(st)))
		return st, known, err
	}
	// The digests of the rows the spec asks for depend on the spec only:
	// they are computed while the database reads the keys, and given up
	// when it has none (the first apply).
	var (
		digests = make(chan [][32]byte, 1)
		stop    atomic.Bool
	)
	go func() { digests <- rowDigests(s, &stop) }()
	st, err := tx.LoadElided(ctx)
	if err != nil || len(st.Keys) == 0 {
		stop.Store(true)
	}
	want := <-digests
	if err != nil {
		return nil, nil, err
	}
	byAddr := byAddress(st)
	read := completeContent(s, byAddr, want)
	res.ContentRead = len(read)
	if err := tx.FillContent(ctx, read); err != nil {
		return nil, nil, err
	}
	known, err := tx.LookupDigests(ctx, candidateDigests(s, byAddr))
	return st, known, err
}

// byAddress puts the loaded keys in address order and returns them as the
// merge walks take them. The store returns them in id order, which is not
// address order once keys were added over time; the walks here and the
// diff's then find them sorted instead of each sorting them again (40-50
// ms for 100,000 keys).
func byAddress(st *store.State) []entry {
	es := sortedKeys(st.Keys, nil)
	for i := range es {
		st.Keys[i] = es[i].key
	}
	return es
}

// rowDigests returns the content digest of the row each of the spec's keys
// asks for, in the spec's order; nil once stop is set.
func rowDigests(s *spec.Spec, stop *atomic.Bool) [][32]byte {
	ds := make([][32]byte, len(s.Keys))
	for i, k := range s.Keys {
		if i%1024 == 0 && stop.Load() {
			return nil
		}
		row := desiredRow(k, s.Settings.Owner)
		ds[i] = store.ContentDigest(&row)
	}
	return ds
}

// completeContent sets the content of the stored keys (have, sorted by
// address) whose content digest is the digest of the row the spec asks for
// (want, from rowDigests): they hold that row. It returns the other stored
// keys, whose content must be read: changed keys, keys the spec does not
// declare (or declares under another address, with a moved block), keys
// changed by another tool since keyprov wrote them.
func completeContent(s *spec.Spec, have []entry, want [][32]byte) []*store.Key {
	var read []*store.Key
	mergeIndexed(s.Keys, have, func(i int, cur *store.Key) {
		if cur == nil || !cur.Elided {
			return
		}
		if i >= 0 && bytes.Equal(want[i][:], cur.ContentDigest) {
			row := desiredRow(s.Keys[i], s.Settings.Owner)
			cur.SetContent(&row)
			return
		}
		read = append(read, cur)
	})
	return read
}
