package review

import (
	"slices"
	"sort"
	"time"

	"github.com/keyprov/keyprov/internal/keycontent"
	"github.com/keyprov/keyprov/spec"
)

// Compare compares BASE and HEAD, two evaluated specs. Moved blocks of HEAD
// are honoured: a key moved from an address that BASE declares is compared
// with BASE's key at that address and reported as Moved. now is the time of
// the review, for the rules that count from it (see PreviousWindow).
//
// Key fields are compared in this order: universal, name, description,
// permissions, metadata, expires, revoked, disabled, token, previous_token,
// previous_until. Settings in this order: token_prefix, owner, root_tenant,
// allowed_permissions, prune.
func Compare(base, head *spec.Spec, now time.Time) *Review {
	r := &Review{Settings: compareSettings(base.Settings, head.Settings)}

	// BASE addresses consumed by a move in HEAD.
	movedFrom := map[spec.Address]spec.Address{} // to -> from
	consumed := map[spec.Address]bool{}
	for _, m := range head.Moved {
		if base.Key(m.From) != nil && base.Key(m.To) == nil && head.Key(m.To) != nil {
			movedFrom[m.To] = m.From
			consumed[m.From] = true
		}
	}

	for _, h := range head.Keys {
		from, moved := movedFrom[h.Address]
		b := base.Key(h.Address)
		if moved {
			b = base.Key(from)
		}
		switch {
		case b == nil:
			r.Changes = append(r.Changes, Change{Address: h.Address, Kind: Added, Universal: h.Universal, Fields: keyFields(h)})
			r.Risks = append(r.Risks, KeyRisks(nil, specVersion(h), now)...)
		default:
			fields := compareKeys(b, h)
			c := Change{Address: h.Address, Kind: Changed, Universal: h.Universal, Fields: fields}
			if moved {
				f := from
				c.Kind, c.MovedFrom = Moved, &f
			}
			if len(fields) == 0 && !moved {
				r.Unchanged++
				continue
			}
			r.Changes = append(r.Changes, c)
			r.Risks = append(r.Risks, KeyRisks(specVersion(b), specVersion(h), now)...)
		}
	}
	for _, b := range base.Keys {
		if head.Key(b.Address) != nil || consumed[b.Address] {
			continue
		}
		r.Changes = append(r.Changes, Change{Address: b.Address, Kind: Removed, Universal: b.Universal,
			Fields: []FieldChange{{Field: "name", Before: b.Name}}})
		if !b.Revoked {
			outcome := "disabled at the next apply --prune, its tokens kept (revoked with --prune=revoke)"
			switch p := head.Settings.Prune; {
			case head.Settings.PruneRevoke:
				outcome = `revoked at the next apply (settings.prune = "revoke"): its tokens can never be used again`
			case p != nil && *p:
				outcome = "disabled at the next apply (settings.prune = true), its tokens kept"
			}
			r.Risks = append(r.Risks, RemovedRisk(b.Address, outcome))
		}
	}
	r.Risks = append(r.Risks, settingsRisks(base, head)...)

	sort.SliceStable(r.Changes, func(i, j int) bool { return r.Changes[i].Address.Compare(r.Changes[j].Address) < 0 })
	SortRisks(r.Risks)
	return r
}

// specVersion is what the risk rules read of a spec's key: tokens are told
// apart by where they are read from.
func specVersion(k *spec.Key) *Version {
	v := &Version{Address: k.Address, Content: ContentOf(k), Perms: k.Permissions, Revoked: k.Revoked, Disabled: k.Disabled}
	if k.Token.Set {
		v.Token = sourceToken(k.Token)
	}
	if p := k.Previous; p != nil {
		v.Previous = &Previous{Token: sourceToken(p.Token), Until: p.Until}
	}
	return v
}

func sourceToken(t spec.Token) Token {
	s := sourcesText(tokenSources(t))
	return Token{ID: s, Label: s}
}

// keyFields lists the attributes an added key sets: the content fields
// keycontent.Listed shows, then the others.
func keyFields(k *spec.Key) []FieldChange {
	c := ContentOf(k)
	fs := keycontent.Listed(&c)
	if k.Revoked {
		fs = append(fs, FieldChange{Field: "revoked", After: true})
	}
	if k.Disabled {
		fs = append(fs, FieldChange{Field: "disabled", After: true})
	}
	if k.Token.Set {
		fs = append(fs, FieldChange{Field: "token", After: Sources(k.Token.Sources())})
	}
	if k.Previous != nil {
		fs = append(fs, FieldChange{Field: "previous_token", After: Sources(k.Previous.Token.Sources())},
			FieldChange{Field: "previous_until", After: k.Previous.Until})
	}
	return fs
}

// compareKeys lists the attributes that differ between b and h.
func compareKeys(b, h *spec.Key) []FieldChange {
	bc, hc := ContentOf(b), ContentOf(h)
	fs := keycontent.Compare(&bc, &hc)
	if b.Revoked != h.Revoked {
		fs = append(fs, FieldChange{Field: "revoked", Before: b.Revoked, After: h.Revoked})
	}
	if b.Disabled != h.Disabled {
		fs = append(fs, FieldChange{Field: "disabled", Before: b.Disabled, After: h.Disabled})
	}
	if bs, hs := tokenSources(b.Token), tokenSources(h.Token); !slices.Equal(bs, hs) {
		fs = append(fs, FieldChange{Field: "token", Before: optSources(bs), After: optSources(hs)})
	}
	var bp, hp Sources
	var bu, hu *time.Time
	if b.Previous != nil {
		bp, bu = tokenSources(b.Previous.Token), &b.Previous.Until
	}
	if h.Previous != nil {
		hp, hu = tokenSources(h.Previous.Token), &h.Previous.Until
	}
	if !slices.Equal(bp, hp) {
		fs = append(fs, FieldChange{Field: "previous_token", Before: optSources(bp), After: optSources(hp)})
	}
	if !keycontent.SameTime(bu, hu) {
		fs = append(fs, FieldChange{Field: "previous_until", Before: keycontent.OptTime(bu), After: keycontent.OptTime(hu)})
	}
	return fs
}

// tokenSources returns where t is read from; nil when t is not set.
func tokenSources(t spec.Token) Sources {
	if !t.Set {
		return nil
	}
	srcs := t.Sources()
	if len(srcs) == 0 {
		return Sources{}
	}
	return Sources(srcs)
}

func optSources(s Sources) any {
	if s == nil {
		return nil
	}
	return s
}

func compareSettings(b, h spec.Settings) []FieldChange {
	var fs []FieldChange
	str := func(name, bv, hv string) {
		if bv != hv {
			fs = append(fs, FieldChange{Field: name, Before: bv, After: hv})
		}
	}
	str("token_prefix", b.TokenPrefix, h.TokenPrefix)
	str("owner", b.Owner, h.Owner)
	str("root_tenant", b.RootTenant, h.RootTenant)
	if !slices.Equal(b.AllowedPermissions, h.AllowedPermissions) {
		fs = append(fs, FieldChange{Field: "allowed_permissions", Before: optList(b.AllowedPermissions), After: optList(h.AllowedPermissions)})
	}
	if !samePrune(b.Prune, h.Prune) || b.PruneRevoke != h.PruneRevoke {
		fs = append(fs, FieldChange{Field: "prune", Before: pruneValue(b), After: pruneValue(h)})
	}
	return fs
}

func optList(l []string) any {
	if len(l) == 0 {
		return nil
	}
	return l
}

func optBool(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

// pruneValue is the display value of the prune setting: nil, a bool, or
// "revoke".
func pruneValue(s spec.Settings) any {
	if s.PruneRevoke {
		return "revoke"
	}
	return optBool(s.Prune)
}

func samePrune(a, b *bool) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}
