package reconcile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"sort"
	"time"

	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/token"
)

// Options tune Diff.
type Options struct {
	// Adopt takes over keys that another owner holds.
	Adopt bool
	// Prune revokes owned keys that the spec no longer declares.
	Prune bool
	// MaxPrune bounds a prune; the zero value is the default rail.
	MaxPrune MaxPrune
	// WarnExpiry warns about keys that expire within this duration.
	WarnExpiry time.Duration
	// Strict refuses the apply when a key is blocked.
	Strict bool
}

// MaxPrune bounds how many keys one apply may revoke as "removed from spec".
// With neither field set the bound is max(10, 25% of the owned keys).
type MaxPrune struct {
	N       int
	Percent int
	Set     bool
}

// Limit returns the bound for a store holding owned live keys.
func (m MaxPrune) Limit(owned int) int {
	if !m.Set {
		return max(10, owned/4)
	}
	if m.Percent > 0 {
		return owned * m.Percent / 100
	}
	return m.N
}

// String formats m as given on the command line.
func (m MaxPrune) String() string {
	switch {
	case !m.Set:
		return "max(10, 25%)"
	case m.Percent > 0:
		return fmt.Sprintf("%d%%", m.Percent)
	default:
		return fmt.Sprint(m.N)
	}
}

// Reasons written on revoked keys and retired tokens.
const (
	ReasonSpecRevoked    = "revoked = true in spec"
	ReasonRemoved        = "removed from spec"
	ReasonRotated        = "rotated"
	ReasonCutoff         = "previous_until passed"
	ReasonPreviousDroped = "previous_token removed from spec"
	ReasonRevoked        = store.RetiredRevoked
)

// CandidateDigests returns the digests of the spec's tokens that are not
// live in the store: only these need a lookup among retired tokens. A run
// with nothing to change returns none.
func CandidateDigests(s *spec.Spec, st *store.State) []token.Digest {
	live := make(map[token.Digest]struct{}, len(st.Keys))
	for _, k := range st.Keys {
		for _, t := range k.Tokens {
			live[t.Digest] = struct{}{}
		}
	}
	var out []token.Digest
	for _, k := range s.Keys {
		for _, t := range keyTokens(k) {
			d := t.Secret.Digest()
			if _, ok := live[d]; !ok {
				out = append(out, d)
			}
		}
	}
	return out
}

func keyTokens(k *spec.Key) []spec.Token {
	var ts []spec.Token
	if k.Token.Known {
		ts = append(ts, k.Token)
	}
	if k.Previous != nil && k.Previous.Token.Known {
		ts = append(ts, k.Previous.Token)
	}
	return ts
}

// Diff computes the plan that makes the store match the spec. It is a pure
// function: the same spec, state and known tokens give the same plan. known
// holds the stored tokens (of any state) found for CandidateDigests.
func Diff(s *spec.Spec, st *store.State, known map[token.Digest]store.TokenRef, opts Options) *Plan {
	d := &differ{
		s: s, st: st, known: known, opts: opts, now: st.Now,
		owner: s.Settings.Owner, prefix: s.Settings.TokenPrefix,
		plan: &Plan{Owner: s.Settings.Owner, Prune: opts.Prune, Now: st.Now},
	}
	d.run()
	return d.plan
}

type differ struct {
	s      *spec.Spec
	st     *store.State
	known  map[token.Digest]store.TokenRef
	opts   Options
	now    time.Time
	owner  string
	prefix string
	plan   *Plan

	cur       map[spec.Address]*store.Key
	liveOwner map[token.Digest]*store.Key
	movedFrom map[spec.Address]spec.Address
}

func addr(k *store.Key) spec.Address { return spec.Address{Tenant: k.Tenant, Slug: k.Slug} }

func (d *differ) run() {
	d.cur = make(map[spec.Address]*store.Key, len(d.st.Keys))
	d.liveOwner = make(map[token.Digest]*store.Key, len(d.st.Keys))
	ownedLive := 0
	for _, k := range d.st.Keys {
		d.cur[addr(k)] = k
		for _, t := range k.Tokens {
			d.liveOwner[t.Digest] = k
		}
		if k.Owner == d.owner && k.RevokedAt == nil {
			ownedLive++
		}
	}
	d.moves()

	seen := make(map[spec.Address]bool, len(d.s.Keys))
	for _, k := range d.s.Keys {
		seen[k.Address] = true
		d.warnExpiry(k)
		if c, ok := d.diffKey(k); ok {
			d.plan.Changes = append(d.plan.Changes, c)
		}
	}

	// Keys in the store that the spec does not declare.
	var missing []*store.Key
	for a, k := range d.cur {
		if !seen[a] && k.Owner == d.owner && k.RevokedAt == nil {
			missing = append(missing, k)
		}
	}
	sort.Slice(missing, func(i, j int) bool { return addr(missing[i]).Compare(addr(missing[j])) < 0 })
	for _, k := range missing {
		if !d.opts.Prune {
			d.plan.Warnings = append(d.plan.Warnings, Warning{Address: addr(k).String(), Kind: WarnUnmanaged,
				Message: "owned by this spec but no longer declared in it; apply --prune revokes it"})
			continue
		}
		c := Change{Address: addr(k), Action: Revoke, Universal: k.Universal, KeyID: k.ID, Reason: ReasonRemoved}
		row := rowOf(k)
		row.RevokedAt, row.RevokedReason = &d.now, ReasonRemoved
		c.Row = row
		c.Fields = []FieldChange{{Field: "revoked", Before: false, After: true}}
		c.Token = d.retireAll(k, &c, ReasonRevoked)
		d.plan.Changes = append(d.plan.Changes, c)
	}
	if d.opts.Prune {
		switch limit := d.opts.MaxPrune.Limit(ownedLive); {
		case len(d.s.Keys) == 0 && ownedLive > 0:
			d.plan.Refusals = append(d.plan.Refusals, Refusal{Message: fmt.Sprintf(
				"the spec declares no keys, but the store holds %d live keys owned by %q: refusing to revoke them all (check the spec paths and variables)", ownedLive, d.owner)})
		case len(missing) > limit:
			d.plan.Refusals = append(d.plan.Refusals, Refusal{Message: fmt.Sprintf(
				"the prune would revoke %d keys, more than --max-prune allows (%d, from %s of %d owned keys): raise --max-prune if this is intended", len(missing), limit, d.opts.MaxPrune, ownedLive)})
		}
	}
	if d.opts.Strict {
		for _, c := range d.plan.Changes {
			if c.Action == Blocked {
				d.plan.Refusals = append(d.plan.Refusals, Refusal{Address: c.Address.String(), Message: "blocked (--strict): " + c.Reason})
			}
		}
	}
	sort.SliceStable(d.plan.Changes, func(i, j int) bool { return d.plan.Changes[i].Address.Compare(d.plan.Changes[j].Address) < 0 })
}

// moves applies the spec's moved blocks to the current state.
func (d *differ) moves() {
	d.movedFrom = map[spec.Address]spec.Address{}
	for _, m := range d.s.Moved {
		src, dst := d.cur[m.From], d.cur[m.To]
		switch {
		case src == nil:
			note := fmt.Sprintf("moved from %s: no such key in the store, nothing to move", m.From)
			if dst != nil {
				note += " (if this move was applied before, the moved block can be removed)"
			}
			d.plan.Warnings = append(d.plan.Warnings, Warning{Address: m.To.String(), Kind: WarnMoveNoSource, Message: note})
		case dst != nil:
			d.plan.Refusals = append(d.plan.Refusals, Refusal{Address: m.To.String(), Message: fmt.Sprintf(
				"cannot move %s to %s: %s already exists in the store", m.From, m.To, m.To)})
		default:
			d.movedFrom[m.To] = m.From
			d.cur[m.To] = src
			delete(d.cur, m.From)
		}
	}
}

func (d *differ) warnExpiry(k *spec.Key) {
	if k.Expires == nil || k.Revoked {
		return
	}
	switch left := k.Expires.Sub(d.now); {
	case left <= 0:
		d.plan.Warnings = append(d.plan.Warnings, Warning{Address: k.Address.String(), Kind: WarnExpired,
			Message: fmt.Sprintf("expired at %s; it no longer verifies", k.Expires.Format(time.RFC3339))})
	case d.opts.WarnExpiry > 0 && left <= d.opts.WarnExpiry:
		d.plan.Warnings = append(d.plan.Warnings, Warning{Address: k.Address.String(), Kind: WarnExpiring,
			Message: fmt.Sprintf("expires at %s, in %s", k.Expires.Format(time.RFC3339), humanDuration(left))})
	}
}

func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	default:
		return d.Round(time.Minute).String()
	}
}

// desiredRow is the key row the spec asks for (revocation set by the caller).
func (d *differ) desiredRow(k *spec.Key) *store.KeyRow {
	return &store.KeyRow{
		Tenant: k.Address.Tenant, Slug: k.Address.Slug, Universal: k.Universal,
		Name: k.Name, Description: k.Description,
		Permissions: k.PermissionsJSON, Metadata: k.MetadataJSON,
		ExpiresAt: k.Expires, Owner: d.owner,
	}
}

func rowOf(k *store.Key) *store.KeyRow {
	return &store.KeyRow{
		ID: k.ID, Tenant: k.Tenant, Slug: k.Slug, Universal: k.Universal, Name: k.Name, Description: k.Description,
		Permissions: k.Permissions, Metadata: k.Metadata, ExpiresAt: k.ExpiresAt, Owner: k.Owner,
		RevokedAt: k.RevokedAt, RevokedReason: k.RevokedReason,
	}
}

func (d *differ) hint(t spec.Token) string { return t.Secret.Hint(d.prefix) }

// blockedBy explains why digest dg cannot become a token of key k (nil for
// a new key), or returns "".
func (d *differ) blockedBy(dg token.Digest, k *store.Key) string {
	if o := d.liveOwner[dg]; o != nil && (k == nil || o.ID != k.ID) {
		return fmt.Sprintf("the token is already used by %s — set a new token", addr(o))
	}
	ref, ok := d.known[dg]
	if !ok || ref.State != store.StateRetired {
		return ""
	}
	when := ""
	if ref.RetiredAt != nil {
		when = " at " + ref.RetiredAt.UTC().Format(time.RFC3339)
	}
	switch {
	case ref.RetiredReason == ReasonRevoked || ref.KeyRevokedAt != nil && ref.RetiredReason != ReasonRotated && ref.RetiredReason != ReasonCutoff:
		return fmt.Sprintf("token was revoked%s — set a new token", when)
	default:
		return fmt.Sprintf("token was retired%s (%s) and can never be active again — set a new token", when, ref.RetiredReason)
	}
}

// diffKey plans one declared key. It reports false when the key is left
// out of the plan (a refusal was recorded instead).
func (d *differ) diffKey(k *spec.Key) (Change, bool) {
	c := Change{Address: k.Address, Action: NoOp, Universal: k.Universal}
	cur := d.cur[k.Address]
	if from, ok := d.movedFrom[k.Address]; ok {
		f := from
		c.MovedFrom = &f
	}
	want := d.desiredRow(k)

	if cur == nil {
		return d.create(k, c, want), true
	}
	c.KeyID = cur.ID
	if cur.Owner != d.owner {
		if !d.opts.Adopt {
			d.plan.Refusals = append(d.plan.Refusals, Refusal{Address: k.Address.String(), Message: fmt.Sprintf(
				"%s exists and is owned by %q, not by this spec's owner %q: it was created by hand or by another spec; use --adopt to take it over", k.Address, cur.Owner, d.owner)})
			return c, false
		}
		c.AdoptedFrom = cur.Owner
	}
	c.Fields = fieldChanges(cur, want)
	if c.AdoptedFrom != "" {
		c.Fields = append(c.Fields, FieldChange{Field: "owner", Before: cur.Owner, After: d.owner})
	}

	switch {
	case cur.RevokedAt != nil && k.Revoked:
		want.RevokedAt, want.RevokedReason = cur.RevokedAt, cur.RevokedReason
		if len(cur.Tokens) > 0 { // drift: a revoked key with live tokens
			c.Token = d.retireAll(cur, &c, ReasonRevoked)
		}
	case cur.RevokedAt != nil:
		// Un-revoking needs a token that was never used.
		if !k.Token.Known {
			return d.blocked(c, "the key is revoked; set a new token to restore it"), true
		}
		dg := k.Token.Secret.Digest()
		if why := d.blockedBy(dg, cur); why != "" {
			return d.blocked(c, why), true
		}
		if d.liveOwner[dg] == cur { // drift: a revoked key with a live token
			return d.blocked(c, fmt.Sprintf("token was revoked at %s — set a new token", cur.RevokedAt.UTC().Format(time.RFC3339))), true
		}
		c.Fields = append(c.Fields, FieldChange{Field: "revoked", Before: true, After: false})
		c.Token = &TokenChange{After: d.hint(k.Token)}
		c.NewTokens = append(c.NewTokens, store.NewToken{Digest: dg, Hint: d.hint(k.Token), State: store.StateActive})
		d.previousOnCreate(k, &c)
	case k.Revoked:
		c.Action = Revoke
		c.Reason = ReasonSpecRevoked
		want.RevokedAt, want.RevokedReason = &d.now, ReasonSpecRevoked
		c.Fields = append(c.Fields, FieldChange{Field: "revoked", Before: false, After: true})
		c.Token = d.retireAll(cur, &c, ReasonRevoked)
	default:
		if reason := d.diffTokens(k, cur, &c); reason != "" {
			return d.blocked(c, reason), true
		}
	}
	if c.Action == NoOp && (len(c.Fields) > 0 || c.Token != nil || c.MovedFrom != nil || len(c.NewTokens) > 0 || len(c.TokenUpdates) > 0) {
		c.Action = Update
	}
	if len(c.Fields) > 0 || c.MovedFrom != nil {
		c.Row = want
	}
	return c, true
}

func (d *differ) blocked(c Change, reason string) Change {
	c.Action, c.Reason = Blocked, reason
	c.Fields, c.Token, c.Row, c.NewTokens, c.TokenUpdates = nil, nil, nil, nil, nil
	return c
}

func (d *differ) create(k *spec.Key, c Change, want *store.KeyRow) Change {
	c.Action = Create
	c.Row = want
	if k.Revoked {
		want.RevokedAt, want.RevokedReason = &d.now, ReasonSpecRevoked
		c.Reason = ReasonSpecRevoked
		// A revoked key's token is stored retired so that it can never be used.
		if k.Token.Known {
			dg := k.Token.Secret.Digest()
			if why := d.blockedBy(dg, nil); why == "" && d.known[dg].State == "" {
				c.NewTokens = append(c.NewTokens, store.NewToken{Digest: dg, Hint: d.hint(k.Token), State: store.StateRetired, RetiredReason: ReasonRevoked})
			}
		}
		return c
	}
	if k.Token.Known {
		dg := k.Token.Secret.Digest()
		if why := d.blockedBy(dg, nil); why != "" {
			return d.blocked(c, why)
		}
		c.Token = &TokenChange{After: d.hint(k.Token)}
		c.NewTokens = append(c.NewTokens, store.NewToken{Digest: dg, Hint: d.hint(k.Token), State: store.StateActive})
	}
	d.previousOnCreate(k, &c)
	return c
}

// previousOnCreate stores a previous token for a key that has no live
// tokens (a new key, or one being restored).
func (d *differ) previousOnCreate(k *spec.Key, c *Change) {
	p := k.Previous
	if p == nil || !p.Token.Known {
		return
	}
	if !p.Until.After(d.now) {
		d.warnPreviousExpired(k)
		return
	}
	dg := p.Token.Secret.Digest()
	if d.blockedBy(dg, nil) != "" || d.known[dg].State != "" {
		d.plan.Warnings = append(d.plan.Warnings, Warning{Address: k.Address.String(), Kind: WarnPreviousRetired,
			Message: "previous_token is a retired token and stays retired"})
		return
	}
	until := p.Until
	if c.Token == nil {
		c.Token = &TokenChange{}
	}
	c.Token.Previous, c.Token.PreviousUntil = d.hint(p.Token), &until
	c.NewTokens = append(c.NewTokens, store.NewToken{Digest: dg, Hint: d.hint(p.Token), State: store.StatePrevious, ValidUntil: &until})
}

func (d *differ) warnPreviousExpired(k *spec.Key) {
	d.plan.Warnings = append(d.plan.Warnings, Warning{Address: k.Address.String(), Kind: WarnPreviousExpired,
		Message: fmt.Sprintf("previous_until (%s) has passed: the previous token no longer works; remove previous_token and previous_until from the spec", k.Previous.Until.Format(time.RFC3339))})
}

// retireAll retires every live token of k.
func (d *differ) retireAll(k *store.Key, c *Change, reason string) *TokenChange {
	if len(k.Tokens) == 0 {
		return nil
	}
	tc := &TokenChange{}
	for _, t := range k.Tokens {
		c.TokenUpdates = append(c.TokenUpdates, store.TokenUpdate{ID: t.ID, State: store.StateRetired, RetiredReason: reason})
		tc.Retired = append(tc.Retired, t.Hint)
		if t.State == store.StateActive {
			tc.Before = t.Hint
		}
	}
	return tc
}

// diffTokens plans the token changes of a live key that stays live. It
// returns a reason when the key must be blocked.
func (d *differ) diffTokens(k *spec.Key, cur *store.Key, c *Change) string {
	if !k.Token.Known {
		return "" // offline plan: tokens are not compared
	}
	active, prev := cur.Active(), cur.Previous()
	tc := &TokenChange{}
	if active != nil {
		tc.Before, tc.After = active.Hint, active.Hint
	}
	retire := func(t *store.Token, reason string) {
		c.TokenUpdates = append(c.TokenUpdates, store.TokenUpdate{ID: t.ID, State: store.StateRetired, RetiredReason: reason})
		tc.Retired = append(tc.Retired, t.Hint)
	}
	// A previous token past its cutoff is retired whatever the spec says,
	// and stays retired even if the spec moves the cutoff later.
	var cutoff *store.Token
	if prev != nil && prev.ValidUntil != nil && !prev.ValidUntil.After(d.now) {
		retire(prev, ReasonCutoff)
		cutoff, prev = prev, nil
	}
	var wantPrev *spec.PreviousToken
	if k.Previous != nil && k.Previous.Token.Known {
		if k.Previous.Until.After(d.now) {
			wantPrev = k.Previous
		} else {
			d.warnPreviousExpired(k)
		}
	}
	var wantPrevDigest token.Digest
	if wantPrev != nil {
		wantPrevDigest = wantPrev.Token.Secret.Digest()
	}

	dg := k.Token.Secret.Digest()
	prevHandled := false
	switch {
	case active != nil && active.Digest == dg:
		// unchanged
	case prev != nil && prev.Digest == dg:
		// Rolling a rotation back: the previous token becomes active again.
		c.TokenUpdates = append(c.TokenUpdates, store.TokenUpdate{ID: prev.ID, State: store.StateActive})
		tc.After = prev.Hint
		if active != nil {
			if wantPrev != nil && wantPrevDigest == active.Digest {
				until := wantPrev.Until
				c.TokenUpdates = append(c.TokenUpdates, store.TokenUpdate{ID: active.ID, State: store.StatePrevious, ValidUntil: &until})
				tc.Previous, tc.PreviousUntil = active.Hint, &until
				prevHandled = true
			} else {
				retire(active, ReasonRotated)
			}
		}
		prev = nil
	case cutoff != nil && cutoff.Digest == dg:
		return fmt.Sprintf("token was the previous token until %s and can never be active again — set a new token", cutoff.ValidUntil.UTC().Format(time.RFC3339))
	default:
		if why := d.blockedBy(dg, cur); why != "" {
			return why
		}
		c.NewTokens = append(c.NewTokens, store.NewToken{Digest: dg, Hint: d.hint(k.Token), State: store.StateActive})
		tc.After = d.hint(k.Token)
		if active != nil {
			if wantPrev != nil && wantPrevDigest == active.Digest {
				// Rolling rotation: the old token stays valid until the cutoff.
				until := wantPrev.Until
				c.TokenUpdates = append(c.TokenUpdates, store.TokenUpdate{ID: active.ID, State: store.StatePrevious, ValidUntil: &until})
				tc.Previous, tc.PreviousUntil = active.Hint, &until
				prevHandled = true
			} else {
				retire(active, ReasonRotated)
			}
		}
	}

	if !prevHandled {
		switch {
		case wantPrev == nil:
			if prev != nil {
				retire(prev, ReasonPreviousDroped)
			}
		case prev != nil && prev.Digest == wantPrevDigest:
			if prev.ValidUntil == nil || !prev.ValidUntil.Equal(wantPrev.Until) {
				until := wantPrev.Until
				c.TokenUpdates = append(c.TokenUpdates, store.TokenUpdate{ID: prev.ID, State: store.StatePrevious, ValidUntil: &until})
				tc.Previous, tc.PreviousUntil = prev.Hint, &until
			}
		default:
			if prev != nil {
				retire(prev, ReasonPreviousDroped)
			}
			if active != nil && active.Digest == wantPrevDigest {
				break // the previous token is the active one: nothing to keep
			}
			if d.blockedBy(wantPrevDigest, cur) != "" || d.known[wantPrevDigest].State != "" || cutoff != nil && cutoff.Digest == wantPrevDigest {
				d.plan.Warnings = append(d.plan.Warnings, Warning{Address: k.Address.String(), Kind: WarnPreviousRetired,
					Message: "previous_token is a retired token and stays retired"})
				break
			}
			until := wantPrev.Until
			c.NewTokens = append(c.NewTokens, store.NewToken{Digest: wantPrevDigest, Hint: d.hint(wantPrev.Token), State: store.StatePrevious, ValidUntil: &until})
			tc.Previous, tc.PreviousUntil = d.hint(wantPrev.Token), &until
		}
	}
	if len(c.NewTokens) > 0 || len(c.TokenUpdates) > 0 {
		c.Token = tc
	}
	return ""
}

// fieldChanges compares the managed fields of a stored key with the spec's.
func fieldChanges(cur *store.Key, want *store.KeyRow) []FieldChange {
	var fs []FieldChange
	if cur.Universal != want.Universal {
		fs = append(fs, FieldChange{Field: "universal", Before: cur.Universal, After: want.Universal})
	}
	if cur.Name != want.Name {
		fs = append(fs, FieldChange{Field: "name", Before: cur.Name, After: want.Name})
	}
	if cur.Description != want.Description {
		fs = append(fs, FieldChange{Field: "description", Before: cur.Description, After: want.Description})
	}
	if !sameJSON(cur.Permissions, want.Permissions) {
		fc := FieldChange{Field: "permissions", Before: json.RawMessage(cur.Permissions), After: json.RawMessage(want.Permissions)}
		fc.Added, fc.Removed = setDiff(want.Permissions, cur.Permissions), setDiff(cur.Permissions, want.Permissions)
		fs = append(fs, fc)
	}
	if !sameJSON(cur.Metadata, want.Metadata) {
		fs = append(fs, FieldChange{Field: "metadata", Before: json.RawMessage(cur.Metadata), After: json.RawMessage(want.Metadata)})
	}
	if !sameTime(cur.ExpiresAt, want.ExpiresAt) {
		fs = append(fs, FieldChange{Field: "expires", Before: timeOrNil(cur.ExpiresAt), After: timeOrNil(want.ExpiresAt)})
	}
	return fs
}

func timeOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// sameJSON compares two JSON texts. Both are normally PostgreSQL's jsonb
// text, so equal values are equal bytes; the decoded comparison guards
// against a value keyprov would print differently (e.g. a number written
// by hand as 1.0), so that it never causes an update on every run.
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	va, errA := decodeJSON(a)
	vb, errB := decodeJSON(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return normNumbers(v), nil
}

// normNumbers replaces json.Numbers by a canonical decimal form.
func normNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, ok := new(big.Float).SetPrec(512).SetString(string(x))
		if !ok {
			return string(x)
		}
		return f.Text('g', 100)
	case []any:
		for i := range x {
			x[i] = normNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normNumbers(x[k])
		}
	}
	return v
}

// setDiff returns the items of JSON array a that are not in JSON array b.
func setDiff(a, b []byte) []json.RawMessage {
	var ia, ib []json.RawMessage
	if json.Unmarshal(a, &ia) != nil {
		return nil
	}
	_ = json.Unmarshal(b, &ib)
	var out []json.RawMessage
	for _, x := range ia {
		found := false
		for _, y := range ib {
			if sameJSON(x, y) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, x)
		}
	}
	return out
}
