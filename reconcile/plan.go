// Package reconcile turns a spec and the store's state into a plan (Diff, a
// pure function), and executes plans (Apply). Run ties them together in one
// locked transaction.
package reconcile

import (
	"time"

	"github.com/keyprov/keyprov/review"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
)

// Action is what a plan does to one key.
type Action string

// Actions, ordered from the most to the least consequential in Summary.
const (
	Create  Action = "create"
	Update  Action = "update"
	Revoke  Action = "revoke"
	Blocked Action = "blocked"
	// Held is a key that an operator's disable (keyprov disable) keeps
	// disabled while the spec would have it enabled, and that nothing else
	// changes: not a change, not blocked; keyprov enable lifts it.
	Held Action = "held"
	NoOp Action = "no-op"
)

// Plan is the result of Diff: what an apply would change, and why it might
// refuse to. It holds no secrets: tokens appear as digests and hints only.
type Plan struct {
	Owner string
	Prune bool
	// PruneRevoke: the prune revokes the keys the spec no longer declares
	// (--prune=revoke) instead of disabling them.
	PruneRevoke bool
	// Now is the database time the plan was computed for.
	Now time.Time
	// Changes lists, sorted by address, the keys that change (created,
	// updated, revoked, disabled or enabled, pruned), are blocked or are
	// held. An unchanged key is not listed: Unlisted counts it. (A plan
	// made by hand may still list NoOp changes; every reader of a plan
	// skips them, and Summary counts them as unchanged.)
	Changes []Change
	// Warnings do not stop an apply.
	Warnings []Warning
	// Refusals stop the whole apply (exit 4): nothing is written.
	Refusals []Refusal
	// Unlisted counts the unchanged keys, which Changes does not list:
	// those of Diff, of a plan answered from an input record (a boot with
	// nothing to do), and of a plan read from a saved plan.
	Unlisted int
}

// Change is the planned change of one key.
type Change struct {
	Address   spec.Address
	Action    Action
	Universal bool
	// MovedFrom is the key's old address when a moved block renames it.
	MovedFrom *spec.Address
	// AdoptedFrom is the previous owner of a key taken over with --adopt.
	AdoptedFrom string
	// Fields are the changed attributes, in a fixed order.
	Fields []FieldChange
	// Token describes a token change (rotation, previous token, retirement).
	Token *TokenChange
	// Reason explains a revocation, a blocked key, a key disabled by a
	// prune, or a held key.
	Reason string
	// Held: an operator's disable keeps the key disabled, which no apply
	// lifts (Action is Held when nothing else changes).
	Held bool
	// Risks flag what the change lets someone do that they could not do
	// before, by the rules of keyprov diff (review.KeyRisks) applied to the
	// stored key and the key the change leaves behind, in review's order.
	Risks []review.Risk

	// Execution data for Apply (not shown by renderers): the existing
	// key's id (0 on create), its content after the change (nil when the
	// content does not change), and the token rows to write.
	KeyID        int64
	Row          *store.KeyRow
	NewTokens    []store.NewToken
	TokenUpdates []store.TokenUpdate
}

// Changed reports whether the change writes anything.
func (c *Change) Changed() bool { return c.Action != NoOp && c.Action != Blocked && c.Action != Held }

// Rotated reports whether the active token changes on an existing key.
func (c *Change) Rotated() bool {
	return c.Token != nil && c.Action != Create && c.Token.Before != c.Token.After && c.Token.After != ""
}

// FieldChange is one changed attribute, as review compares them: a
// content field's change (keycontent.Compare, whose values are
// keycontent.Field.Value's), or owner, revoked, disabled, disabled_by.
// Before and After are string, bool, time.Time, json.RawMessage,
// []string or nil (absent).
type FieldChange = review.FieldChange

// TokenChange describes what happens to a key's tokens. Tokens are shown
// by their hints (prefix and last four characters).
type TokenChange struct {
	// Before and After are the hints of the active token ("" for none).
	Before, After string
	// Previous is the hint of the old token kept valid until PreviousUntil.
	Previous      string
	PreviousUntil *time.Time
	// PreviousNew: Previous was not a token the store held for the key;
	// it is kept valid because of --allow-new-previous.
	PreviousNew bool
	// Retired lists the hints of tokens that stop working.
	Retired []string
}

// Warning is a finding that does not stop an apply.
type Warning struct {
	Address string
	Kind    string
	Message string
}

// Warning kinds.
const (
	WarnUnmanaged       = "not-in-spec"
	WarnExpiring        = "expiring"
	WarnExpired         = "expired"
	WarnPreviousExpired = "previous-token-expired"
	WarnMoveNoSource    = "moved-no-source"
	WarnPreviousRetired = "previous-token-retired"
	WarnPreviousNew     = "previous-token-new"
)

// Refusal is a reason to refuse the whole apply.
type Refusal struct {
	Address string
	Message string
}

// Summary counts a plan's changes.
type Summary struct {
	Created, Updated, Rotated, Revoked, Moved, Adopted, Blocked, Unchanged int
	// Disabled and Enabled count the keys switched off and on; Held the
	// keys an operator's disable keeps off (a held key that nothing else
	// changes counts as Held only).
	Disabled, Enabled, Held int
}

// Summary counts the plan's changes. Every key counts at least once; a key
// that is, say, updated and rotated counts in both.
func (p *Plan) Summary() Summary {
	s := Summary{Unchanged: p.Unlisted}
	for i := range p.Changes {
		c := &p.Changes[i]
		switch c.Action {
		case Create:
			s.Created++
		case Revoke:
			s.Revoked++
		case Blocked:
			s.Blocked++
		case NoOp:
			s.Unchanged++
		case Held:
			s.Held++
		case Update:
			counted := false
			for _, f := range c.Fields {
				if f.Field != "owner" && f.Field != FieldDisabled && f.Field != FieldDisabledBy {
					s.Updated++
					counted = true
					break
				}
			}
			for _, f := range c.Fields {
				if f.Field == FieldDisabled {
					if f.After == true {
						s.Disabled++
					} else {
						s.Enabled++
					}
					counted = true
				}
			}
			if c.Held {
				s.Held++
			}
			if c.Rotated() {
				s.Rotated++
				counted = true
			}
			if c.MovedFrom != nil {
				s.Moved++
				counted = true
			}
			if c.AdoptedFrom != "" {
				s.Adopted++
				counted = true
			}
			if !counted { // token changes other than a rotation
				s.Updated++
			}
		}
	}
	return s
}

// Fields of a key's disabled state in a change: FieldDisabled (bool) when
// the key is switched off or on, FieldDisabledBy ([]string, the holders as
// store.Disabled.Holders names them, nil for none) when who holds it
// disabled changes.
const (
	FieldDisabled   = "disabled"
	FieldDisabledBy = "disabled_by"
)

// HasChanges reports whether applying the plan writes anything.
func (p *Plan) HasChanges() bool {
	for i := range p.Changes {
		if p.Changes[i].Changed() {
			return true
		}
	}
	return false
}

// RiskCounts counts the changes' risks per severity.
func (p *Plan) RiskCounts() map[review.Severity]int {
	m := map[review.Severity]int{}
	for i := range p.Changes {
		for _, rk := range p.Changes[i].Risks {
			m[rk.Severity]++
		}
	}
	return m
}

// Risks returns the risks of every change, most severe first (see
// review.SortRisks).
func (p *Plan) Risks() []review.Risk {
	var out []review.Risk
	for i := range p.Changes {
		out = append(out, p.Changes[i].Risks...)
	}
	review.SortRisks(out)
	return out
}
