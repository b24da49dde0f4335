package reconcile

import (
	"fmt"
	"time"

	"github.com/keyprov/keyprov/review"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
)

// risks flags change c of the spec's key k (cur is the stored key, nil for
// a new key) by keyprov diff's rules: the store keeps no token sources, so
// here a token is told apart by its digest, and a new one is a rotation.
func (d *differ) risks(k *spec.Key, cur *store.Key, c *Change) []review.Risk {
	switch {
	case c.Action == NoOp || c.Action == Blocked || c.Action == Held:
		return nil
	case cur == nil:
		// A new key's risks read only its address, reach and permissions:
		// nothing about tokens is built for the 100,000 keys of a first apply.
		after := review.Version{Address: k.Address, Content: review.ContentOf(k), Perms: k.Permissions, Revoked: k.Revoked}
		return review.KeyRisks(nil, &after, d.now)
	}
	before, after := storedVersion(cur), d.plannedVersion(k, cur, c)
	return review.KeyRisks(&before, &after, d.now)
}

// storedVersion is the stored key as the risk rules read it.
func storedVersion(k *store.Key) review.Version {
	v := review.Version{Address: addr(k), Revoked: k.RevokedAt != nil, Disabled: k.Disabled.Held(), Content: k.Content}
	if t := k.Active(); t != nil {
		v.Token = review.Token{ID: string(t.Digest[:]), Label: t.Hint}
	}
	if t := k.Previous(); t != nil && t.ValidUntil != nil {
		v.Previous = &review.Previous{Token: review.Token{ID: string(t.Digest[:]), Label: t.Hint}, Until: *t.ValidUntil}
	}
	return v
}

// plannedVersion is the key that change c of k leaves in the store: the
// spec's key, with the previous token only when the plan keeps it valid,
// disabled as the plan leaves it.
func (d *differ) plannedVersion(k *spec.Key, cur *store.Key, c *Change) review.Version {
	v := review.Version{Address: k.Address, Content: review.ContentOf(k), Perms: k.Permissions, Revoked: k.Revoked, Disabled: cur.Disabled.Held()}
	if c.Row != nil {
		v.Disabled = c.Row.Disabled.At != nil
	}
	if k.Token.Known {
		v.Token = review.Token{ID: string(k.Token.Digest[:]), Label: d.hint(k.Token)}
	}
	if p := k.Previous; p != nil && p.Token.Known && keepsPrevious(p, cur, c, d.now) {
		v.Previous = &review.Previous{Token: review.Token{ID: string(p.Token.Digest[:]), Label: d.hint(p.Token)}, Until: p.Until}
	}
	return v
}

// keepsPrevious reports whether the plan leaves previous token p valid:
// it writes it (a rolling rotation, a new cutoff, a token let in with
// --allow-new-previous), or the store holds it as the key's previous
// token within its window and the plan leaves it as it is. A previous
// token that stays retired, or is refused, is not kept.
func keepsPrevious(p *spec.PreviousToken, cur *store.Key, c *Change, now time.Time) bool {
	switch {
	case !p.Until.After(now):
		return false
	case c.Token != nil && c.Token.Previous != "":
		return true
	case cur == nil:
		return false
	}
	t := cur.Previous()
	return t != nil && t.Digest == p.Token.Digest && t.ValidUntil != nil && t.ValidUntil.After(now)
}

// refuseRisks refuses the apply for every risk at or above --fail-on.
func (d *differ) refuseRisks() {
	for i := range d.plan.Changes {
		for _, rk := range d.plan.Changes[i].Risks {
			if rk.Severity >= d.opts.FailOn {
				d.plan.Refusals = append(d.plan.Refusals, Refusal{Address: rk.Address,
					Message: fmt.Sprintf("%s risk (--fail-on %s): %s", rk.Severity, d.opts.FailOn, rk.Reason)})
			}
		}
	}
}
