package reconcile

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
)

// A boot with nothing to do should not evaluate its spec again. An apply
// whose plan finds the store settled (Settled: nothing to change, nothing
// to warn about) records, in its transaction, a digest of what that
// outcome depended on, the change counter it read the store at, and the
// first moment at which time alone would change the outcome (TimeBound).
// A later run whose inputs give the same digest, at the same change
// counter, before that moment, would compute the same empty plan: it can
// say so from the record (the fast path; the CLI decides, store.ReadBoot
// reads).
//
// Only a plan that changes nothing is recorded. One that writes would
// have to be sure that applying it leaves a store its own inputs plan as
// empty; that is what apply is meant to do, and the differential test
// (cmd/keyprov) found a case where it does not (a rolling rotation begun
// while the previous one's window was open kept both previous tokens,
// and the next plan retired one). The apply after a change records,
// from a plan it has seen to be empty.

// Record is what an apply records when its plan finds the store settled: the
// digest of its inputs and their names (computed by the caller, which
// knows the settings and the build; see package inputs).
type Record struct {
	Digest []byte
	// Names is the JSON list of the inputs by name (spec.Inputs.List).
	Names json.RawMessage
	// Keyprov is the recording keyprov's version, for people.
	Keyprov string
}

// Settled reports whether the plan finds the store as its inputs want it
// with nothing to say: no change, no warning, no refusal, no blocked or
// held key. Such a plan is what the next plan from the same inputs and the
// same store says, until time changes it (TimeBound).
func (p *Plan) Settled() bool {
	if len(p.Warnings) > 0 || len(p.Refusals) > 0 {
		return false
	}
	for i := range p.Changes {
		if p.Changes[i].Action != NoOp {
			return false
		}
	}
	return true
}

// TimeBound returns the first moment after st.Now at which time alone
// changes what Diff makes of s and st with the warning window warn: a key's
// expires entering the window (expired keys warn), a previous_until or a
// stored token's valid_until passing (the previous token is retired, the
// spec's previous_token is no longer kept). nil: no such moment.
func TimeBound(s *spec.Spec, st *store.State, warn time.Duration) *time.Time {
	var bound *time.Time
	consider := func(t time.Time) {
		if t.After(st.Now) && (bound == nil || t.Before(*bound)) {
			t := t
			bound = &t
		}
	}
	for _, k := range s.Keys {
		if k.Expires != nil {
			consider(k.Expires.Add(-max(warn, 0)))
		}
		if k.Previous != nil {
			consider(k.Previous.Until)
		}
	}
	for _, k := range st.Keys {
		for _, t := range k.Tokens {
			if t.ValidUntil != nil {
				consider(*t.ValidUntil)
			}
		}
	}
	return bound
}

// inputRecord is the store's record of a run whose plan is settled.
func inputRecord(r *Record, s *spec.Spec, st *store.State, opts RunOptions, p *Plan) *store.InputRecord {
	return &store.InputRecord{
		Owner: s.Settings.Owner, Digest: r.Digest, Names: r.Names, Keyprov: r.Keyprov, RunID: opts.Meta.RunID,
		ValidUntil: TimeBound(s, st, opts.WarnExpiry), Plan: settledPlan(p, len(s.Keys)),
	}
}

// settledPlan is p as the record keeps it, as JSON: p's own fields
// (owner, prune…), and keys keys unchanged (Unlisted) instead of a list.
func settledPlan(p *Plan, keys int) json.RawMessage {
	q := *p
	q.Changes, q.Warnings, q.Refusals, q.Now, q.Unlisted = nil, nil, nil, time.Time{}, keys
	b, err := json.Marshal(&q)
	if err != nil {
		panic(fmt.Sprintf("reconcile: encoding a plan without changes: %v", err))
	}
	return b
}

// SettledPlan decodes an input record's plan (store.InputRecord.Plan):
// what a plan from the record's inputs says, computed at now.
func SettledPlan(b json.RawMessage, now time.Time) (*Plan, error) {
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("reading an input record's plan: %w", err)
	}
	p.Changes, p.Warnings, p.Refusals, p.Now = nil, nil, nil, now
	return &p, nil
}
