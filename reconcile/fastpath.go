package reconcile

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
)

// A boot with nothing to do should not evaluate its spec again. An apply
// whose plan settles the store (Settles) records, in its transaction, a
// digest of what the outcome depended on, the change counter it read the
// store at, and the first moment at which time alone would change the
// outcome (TimeBound). A later run whose inputs give the same digest, at
// the same counter, before that moment, would compute an empty plan with
// no warnings: it can say so from the record (the fast path; the CLI
// decides, store.ReadBoot reads).

// Record is what an apply records when its plan settles the store: the
// digest of its inputs and their names (computed by the caller, which
// knows the settings and the build; see package inputs).
type Record struct {
	Digest []byte
	// Names is the JSON list of the inputs by name (spec.Inputs.List).
	Names json.RawMessage
	// Keyprov is the recording keyprov's version, for people.
	Keyprov string
}

// Settles reports whether the store, once the plan is applied, is as the
// same inputs want it with nothing to say: the plan has no warning, no
// refusal, no blocked or held key, and no move (a moved block warns once
// the move is applied). The next plan from the same inputs is then empty.
func (p *Plan) Settles() bool {
	if len(p.Warnings) > 0 || len(p.Refusals) > 0 {
		return false
	}
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Action == Blocked || c.Held || c.MovedFrom != nil || c.Action != NoOp && !c.Changed() {
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

// inputRecord is the store's record of a run that settles the store.
func inputRecord(r *Record, s *spec.Spec, st *store.State, opts RunOptions, p *Plan) *store.InputRecord {
	return &store.InputRecord{
		Owner: s.Settings.Owner, Digest: r.Digest, Names: r.Names, Keyprov: r.Keyprov, RunID: opts.Meta.RunID,
		ValidUntil: TimeBound(s, st, opts.WarnExpiry), Plan: settledPlan(p, len(s.Keys)),
	}
}

// settledPlan is what the next plan from the same inputs says once p is
// applied, as JSON: p's own fields (owner, prune…), no change, and keys
// keys unchanged (Unlisted).
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
