package reconcile

import (
	"fmt"
	"slices"
	"time"

	"github.com/keyprov/keyprov/internal/keycontent"
	"github.com/keyprov/keyprov/review"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/token"
)

// Options tune Diff.
type Options struct {
	// Adopt takes over keys that another owner holds.
	Adopt bool
	// Prune disables owned keys that the spec no longer declares, keeping
	// their tokens; with PruneRevoke it revokes them.
	Prune bool
	// PruneRevoke makes a prune revoke (--prune=revoke): the keys' tokens
	// are retired and can never be used again.
	PruneRevoke bool
	// MaxPrune bounds a prune; the zero value is the default rail.
	MaxPrune MaxPrune
	// WarnExpiry warns about keys that expire within this duration.
	WarnExpiry time.Duration
	// Strict refuses the apply when a key is blocked.
	Strict bool
	// FailOn refuses the apply when a change carries a risk at or above
	// this severity; 0 refuses none.
	FailOn review.Severity
	// AllowNewPrevious accepts a previous_token that the store does not
	// hold for its key (a token brought over from another system); without
	// it such a token refuses the apply (see checkPrevious).
	AllowNewPrevious bool
}

// MaxPrune bounds how many keys one apply may disable (or revoke) as
// "removed from spec". With neither field set the bound is max(1, 10% of
// the owned live keys): a store of five keys loses at most one at once.
type MaxPrune struct {
	N       int
	Percent int
	Set     bool
}

// Limit returns the bound for a store holding owned live keys.
func (m MaxPrune) Limit(owned int) int {
	if !m.Set {
		return max(1, owned/10)
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
		return "max(1, 10%)"
	case m.Percent > 0:
		return fmt.Sprintf("%d%%", m.Percent)
	default:
		return fmt.Sprint(m.N)
	}
}

// Reasons written on revoked keys and retired tokens.
const (
	ReasonSpecRevoked     = "revoked = true in spec"
	ReasonRemoved         = "removed from spec"
	ReasonRotated         = "rotated"
	ReasonCutoff          = "previous_until passed"
	ReasonPreviousDropped = "previous_token removed from spec"
	ReasonRevoked         = store.RetiredRevoked
	// ReasonNewPrevious is the reason of the event of a key whose
	// previous_token was not a token of the key, kept valid because of
	// --allow-new-previous.
	ReasonNewPrevious = "--allow-new-previous: previous_token was never issued for this key"
)

// Reasons of the events that switch a key off or on (see switchReason).
const (
	ReasonSpecDisabled = "disabled = true in spec"
	ReasonSpecEnabled  = "disabled = true removed from spec"
	ReasonDeclared     = "declared in the spec again"
)

// CandidateDigests returns the digests of the spec's tokens that are not
// live tokens of the key at the same address: only these need a lookup
// (they may be retired, or used by another key). A run with nothing to
// change returns none.
func CandidateDigests(s *spec.Spec, st *store.State) []token.Digest {
	return candidateDigests(s, sortedKeys(st.Keys, nil))
}

// candidateDigests is CandidateDigests on the stored keys sorted by address.
func candidateDigests(s *spec.Spec, have storedKeys) []token.Digest {
	var out []token.Digest
	mergeKeys(s.Keys, have, func(k *spec.Key, cur *store.Key) {
		if k == nil {
			return
		}
		ts, n := keyTokens(k)
		for _, t := range ts[:n] {
			if cur == nil || !hasLive(cur, t.Digest) {
				out = append(out, t.Digest)
			}
		}
	})
	return out
}

func hasLive(k *store.Key, d token.Digest) bool {
	for i := range k.Tokens {
		if k.Tokens[i].Digest == d {
			return true
		}
	}
	return false
}

// keyTokens returns the known tokens of k (at most two) without allocating.
func keyTokens(k *spec.Key) (ts [2]*spec.Token, n int) {
	if k.Token.Known {
		ts[n] = &k.Token
		n++
	}
	if k.Previous != nil && k.Previous.Token.Known {
		ts[n] = &k.Previous.Token
		n++
	}
	return ts, n
}

// storedKeys are the stored keys in the order the plan compares them:
// by address, a moved block's keys under their new address.
type storedKeys struct {
	keys    []*store.Key
	renamed map[*store.Key]spec.Address
}

// addr returns the address the plan compares k under.
func (sk storedKeys) addr(k *store.Key) spec.Address {
	if a, ok := sk.renamed[k]; ok {
		return a
	}
	return addr(k)
}

// sortedKeys returns the stored keys sorted by address, with renames
// applied. The state's own slice is left as it is; it is returned itself
// when it is in that order already (LoadExpected's order, without
// renames), so that a million keys are not copied.
func sortedKeys(keys []*store.Key, renamed map[*store.Key]spec.Address) storedKeys {
	sk := storedKeys{keys: keys, renamed: renamed}
	for i := 1; i < len(keys); i++ {
		if sk.addr(keys[i-1]).Compare(sk.addr(keys[i])) > 0 {
			sk.keys = slices.Clone(keys)
			slices.SortFunc(sk.keys, func(a, b *store.Key) int { return sk.addr(a).Compare(sk.addr(b)) })
			break
		}
	}
	return sk
}

// mergeKeys walks the spec's keys (sorted by address) and the stored keys
// together, like a merge join: fn sees each address once, with the spec's
// key, the stored key, or both. No map of 100,000 entries is built.
func mergeKeys(want []*spec.Key, have storedKeys, fn func(*spec.Key, *store.Key)) {
	i, j := 0, 0
	for i < len(want) || j < len(have.keys) {
		switch {
		case j == len(have.keys):
			fn(want[i], nil)
			i++
		case i == len(want):
			fn(nil, have.keys[j])
			j++
		default:
			switch c := want[i].Address.Compare(have.addr(have.keys[j])); {
			case c < 0:
				fn(want[i], nil)
				i++
			case c > 0:
				fn(nil, have.keys[j])
				j++
			default:
				fn(want[i], have.keys[j])
				i, j = i+1, j+1
			}
		}
	}
}

// Diff computes the plan that makes the store match the spec. It is a pure
// function: the same spec, state and known tokens give the same plan. known
// holds the stored tokens (of any state, of any key) found for
// CandidateDigests.
func Diff(s *spec.Spec, st *store.State, known map[token.Digest]store.TokenRef, opts Options) *Plan {
	d := &differ{
		s: s, st: st, known: known, opts: opts, now: st.Now,
		owner: s.Settings.Owner, prefix: s.Settings.TokenPrefix,
		plan: &Plan{Owner: s.Settings.Owner, Prune: opts.Prune, PruneRevoke: opts.Prune && opts.PruneRevoke, Now: st.Now},
	}
	d.run()
	markChecksums(d.plan, s)
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

	movedFrom map[*store.Key]spec.Address
	live      map[token.Digest]*store.Key // built on first use: see liveOwner
	slab      slab
}

// liveOwner returns the stored key that holds dg as a live token. The map
// behind it is built only when a plan needs it (a key gets a token it does
// not hold yet): a run that changes no token never builds it.
func (d *differ) liveOwner(dg token.Digest) *store.Key {
	if d.live == nil {
		d.live = make(map[token.Digest]*store.Key, len(d.st.Keys))
		for _, k := range d.st.Keys {
			for _, t := range k.Tokens {
				d.live[t.Digest] = k
			}
		}
	}
	return d.live[dg]
}

func addr(k *store.Key) spec.Address { return spec.Address{Tenant: k.Tenant, Slug: k.Slug} }

func (d *differ) run() {
	renamed := d.moves()
	if len(d.st.Keys) == 0 {
		// Into an empty store every declared key is created: the list's
		// exact size, in one allocation. Otherwise it grows with the keys
		// that change, and unchanged keys are only counted.
		d.plan.Changes = make([]Change, 0, len(d.s.Keys))
	}
	ownedLive := 0
	var missing []*store.Key
	mergeKeys(d.s.Keys, sortedKeys(d.st.Keys, renamed), func(k *spec.Key, cur *store.Key) {
		if cur != nil && cur.Owner == d.owner && cur.RevokedAt == nil && !cur.Disabled.Held() {
			ownedLive++
		}
		if k == nil {
			if cur.Owner == d.owner && cur.RevokedAt == nil {
				missing = append(missing, cur)
			}
			return
		}
		d.warnExpiry(k)
		c, ok := d.diffKey(k, cur)
		switch {
		case !ok:
		case c.Action == NoOp:
			// Unchanged: counted, not listed (a Change per key would be
			// 224 MB of a no-op plan at a million keys).
			d.plan.Unlisted++
		default:
			c.Risks = d.risks(k, cur, &c)
			d.plan.Changes = append(d.plan.Changes, c)
		}
	})

	// Keys in the store that the spec does not declare, in address order.
	pruned := 0
	for _, k := range missing {
		switch {
		case !d.opts.Prune:
			msg := "owned by this spec but no longer declared in it; apply --prune disables it (its tokens are kept)"
			if k.Disabled.Prune {
				msg = "owned by this spec but no longer declared in it; disabled by an earlier prune, its tokens kept (declaring it again enables it)"
			}
			d.plan.Warnings = append(d.plan.Warnings, Warning{Address: addr(k).String(), Kind: WarnUnmanaged, Message: msg})
		case d.opts.PruneRevoke:
			c := Change{Address: addr(k), Action: Revoke, Universal: k.Universal, KeyID: k.ID, Reason: ReasonRemoved}
			row := rowOf(k)
			row.RevokedAt, row.RevokedReason = &d.now, ReasonRemoved
			c.Row = row
			c.Fields = []FieldChange{{Field: "revoked", Before: false, After: true}}
			c.Token = d.retireAll(k, &c, ReasonRevoked)
			c.Risks = []review.Risk{review.RemovedRisk(c.Address, "revoked by an apply with --prune=revoke: its tokens can never be used again")}
			d.plan.Changes = append(d.plan.Changes, c)
			pruned++
		case k.Disabled.Prune && !k.Disabled.Spec:
			// Disabled by an earlier prune: nothing left to do.
		default:
			c := Change{Address: addr(k), Action: Update, Universal: k.Universal, KeyID: k.ID, Reason: ReasonRemoved}
			row := rowOf(k)
			d.setDisabled(&c, row, k, false, true)
			c.Row = row
			c.Risks = []review.Risk{review.RemovedRisk(c.Address, "disabled by an apply with --prune, its tokens kept (declaring it again enables it)")}
			d.plan.Changes = append(d.plan.Changes, c)
			pruned++
		}
	}
	if pruned > 0 {
		verb := "disable"
		if d.opts.PruneRevoke {
			verb = "revoke"
		}
		switch limit := d.opts.MaxPrune.Limit(ownedLive); {
		case len(d.s.Keys) == 0:
			d.plan.Refusals = append(d.plan.Refusals, Refusal{Message: fmt.Sprintf(
				"the spec declares no keys, but the store holds %d keys owned by %q: refusing to %s them all (check the spec paths and variables)", pruned, d.owner, verb)})
		case pruned > limit:
			d.plan.Refusals = append(d.plan.Refusals, Refusal{Message: d.pruneRefusal(verb, pruned, ownedLive, limit)})
		}
	}
	if d.opts.Strict {
		for _, c := range d.plan.Changes {
			if c.Action == Blocked {
				d.plan.Refusals = append(d.plan.Refusals, Refusal{Address: c.Address.String(), Message: "blocked (--strict): " + c.Reason})
			}
		}
	}
	if pruned > 0 {
		slices.SortStableFunc(d.plan.Changes, func(a, b Change) int { return a.Address.Compare(b.Address) })
	}
	if d.opts.FailOn > 0 {
		d.refuseRisks()
	}
}

// pruneRefusal says why a prune of n keys is refused (a store of live
// owned keys allows limit) and how to allow it.
func (d *differ) pruneRefusal(verb string, n, live, limit int) string {
	allowed := fmt.Sprintf("by default one apply may %s at most %d (10%% of the live keys, at least 1)", verb, limit)
	if d.opts.MaxPrune.Set {
		allowed = fmt.Sprintf("--max-prune %s allows %d", d.opts.MaxPrune, limit)
	}
	how := fmt.Sprintf("--max-prune %d", n)
	if pct := (n*100 + live - 1) / max(live, 1); live > 0 && pct <= 100 {
		how += fmt.Sprintf(" (or --max-prune %d%%)", pct)
	}
	return fmt.Sprintf("the prune would %s %d keys owned by %q that the spec no longer declares, of %d live ones; %s. If this is intended, allow it with %s",
		verb, n, d.owner, live, allowed, how)
}

// moves applies the spec's moved blocks: it returns the stored keys to
// compare under a new address. Moves are few; a map of them is cheap.
func (d *differ) moves() map[*store.Key]spec.Address {
	if len(d.s.Moved) == 0 {
		return nil
	}
	byAddr := make(map[spec.Address]*store.Key, len(d.s.Moved)*2)
	want := make(map[spec.Address]bool, len(d.s.Moved)*2)
	for _, m := range d.s.Moved {
		want[m.From], want[m.To] = true, true
	}
	for _, k := range d.st.Keys {
		if a := addr(k); want[a] {
			byAddr[a] = k
		}
	}
	renamed := map[*store.Key]spec.Address{}
	d.movedFrom = map[*store.Key]spec.Address{}
	for _, m := range d.s.Moved {
		src, dst := byAddr[m.From], byAddr[m.To]
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
			renamed[src] = m.To
			d.movedFrom[src] = m.From
		}
	}
	return renamed
}

func (d *differ) warnExpiry(k *spec.Key) {
	if k.Expires == nil || k.Revoked {
		return
	}
	if w, ok := ExpiryWarning(k.Address, Expires, *k.Expires, d.now, d.opts.WarnExpiry); ok {
		d.plan.Warnings = append(d.plan.Warnings, w)
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
func (d *differ) desiredRow(k *spec.Key) store.KeyRow { return desiredRow(k, d.owner) }

func desiredRow(k *spec.Key, owner string) store.KeyRow {
	row := store.KeyRow{Tenant: k.Address.Tenant, Slug: k.Address.Slug, Content: review.ContentOf(k)}
	row.Owner = owner
	return row
}

// rowOf is k's row as an apply writes it back: without an operator's
// disable, which is not the apply's to write.
func rowOf(k *store.Key) *store.KeyRow {
	row := k.KeyRow
	row.Disabled.Operator = nil
	return &row
}

func (d *differ) hint(t spec.Token) string { return t.Secret.Hint(d.prefix) }

// blockedBy explains why digest dg cannot become a token of key k (nil for
// a new key), or returns "": it is live on another key, or retired.
func (d *differ) blockedBy(dg token.Digest, k *store.Key) string {
	if o := d.liveOwner(dg); o != nil && (k == nil || o.ID != k.ID) {
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
func (d *differ) diffKey(k *spec.Key, cur *store.Key) (Change, bool) {
	c := Change{Address: k.Address, Action: NoOp, Universal: k.Universal}
	if from, ok := d.movedFrom[cur]; ok && cur != nil {
		f := from
		c.MovedFrom = &f
	}
	want := d.desiredRow(k) // a value: only a change that writes the row copies it to the heap

	if cur == nil {
		if k.Disabled {
			want.Disabled = store.Disabled{At: &d.now, Spec: true}
		}
		return d.create(k, c, want, d.checkPrevious(k, nil)), true
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
	pk := d.checkPrevious(k, cur)
	c.Fields = fieldChanges(cur, &want)
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
		dg := k.Token.Digest
		if why := d.blockedBy(dg, cur); why != "" {
			return d.blocked(c, why), true
		}
		if hasLive(cur, dg) { // drift: a revoked key with a live token
			return d.blocked(c, fmt.Sprintf("token was revoked at %s — set a new token", cur.RevokedAt.UTC().Format(time.RFC3339))), true
		}
		c.Fields = append(c.Fields, FieldChange{Field: "revoked", Before: true, After: false})
		h := d.hint(k.Token)
		c.Token = &TokenChange{After: h}
		if len(cur.Tokens) > 0 {
			// Drift: a key revoked by hand, its tokens left live. A revoked
			// key's tokens are burned: they are retired now, as keyprov
			// revoke would have, before the new token restores the key.
			c.Token = d.retireAll(cur, &c, ReasonRevoked)
			c.Token.After = h
		}
		c.NewTokens = append(c.NewTokens, store.NewToken{Digest: dg, Hint: h, State: store.StateActive})
		d.previousOnCreate(k, &c, pk)
	case k.Revoked:
		c.Action = Revoke
		c.Reason = ReasonSpecRevoked
		want.RevokedAt, want.RevokedReason = &d.now, ReasonSpecRevoked
		c.Fields = append(c.Fields, FieldChange{Field: "revoked", Before: false, After: true})
		c.Token = d.retireAll(cur, &c, ReasonRevoked)
	default:
		if reason := d.diffTokens(k, cur, &c, pk); reason != "" {
			return d.blocked(c, reason), true
		}
	}
	// Declared, the key is held disabled by the spec alone, and by an
	// operator's disable, which no apply lifts.
	d.setDisabled(&c, &want, cur, k.Disabled, false)
	if c.Action == NoOp && (len(c.Fields) > 0 || c.Token != nil || c.MovedFrom != nil || len(c.NewTokens) > 0 || len(c.TokenUpdates) > 0) {
		c.Action = Update
	}
	if len(c.Fields) > 0 || c.MovedFrom != nil {
		row := want
		c.Row = &row
	}
	if op := cur.Disabled.Operator; op != nil && !k.Disabled && !k.Revoked {
		c.Held = true
		c.Reason = fmt.Sprintf("disabled by %s at %s: %s; keyprov enable %s lifts it", op.Actor, op.At.UTC().Format(time.RFC3339), op.Reason, k.Address)
		if c.Action == NoOp {
			c.Action = Held
		}
	}
	return c, true
}

// setDisabled sets row's disabled state: held by the spec and by a prune
// as spec and prune say, and by cur's operator's disable, which an apply
// never lifts nor sets (cur is the stored key, never nil). A change of
// that state is recorded in c's fields: FieldDisabled when the key is
// switched off or on, FieldDisabledBy whenever who holds it changes.
func (d *differ) setDisabled(c *Change, row *store.KeyRow, cur *store.Key, spec, prune bool) {
	before := cur.Disabled
	after := store.Disabled{Spec: spec, Prune: prune, Operator: before.Operator}
	if after.Held() {
		after.At = before.At
		if after.At == nil {
			after.At = &d.now
		}
	}
	row.Disabled = store.Disabled{At: after.At, Spec: spec, Prune: prune} // an operator's disable is not the apply's to write
	if before.Spec == spec && before.Prune == prune && before.Held() == after.Held() {
		return
	}
	if before.Held() != after.Held() {
		c.Fields = append(c.Fields, FieldChange{Field: FieldDisabled, Before: before.Held(), After: after.Held()})
	}
	c.Fields = append(c.Fields, FieldChange{Field: FieldDisabledBy, Before: holdersValue(before), After: holdersValue(after)})
}

// holdersValue is the FieldDisabledBy value of d: its holders, nil for none.
func holdersValue(d store.Disabled) any {
	if hs := d.Holders(); hs != nil {
		return hs
	}
	return nil
}

func (d *differ) blocked(c Change, reason string) Change {
	c.Action, c.Reason = Blocked, reason
	c.Fields, c.Token, c.Row, c.NewTokens, c.TokenUpdates = nil, nil, nil, nil, nil
	return c
}

func (d *differ) create(k *spec.Key, c Change, row store.KeyRow, pk previousKind) Change {
	want := d.slab.row(row)
	c.Action = Create
	c.Row = want
	if k.Revoked {
		want.RevokedAt, want.RevokedReason = &d.now, ReasonSpecRevoked
		c.Reason = ReasonSpecRevoked
		// A revoked key's token is stored retired so that it can never be used.
		if k.Token.Known {
			dg := k.Token.Digest
			if why := d.blockedBy(dg, nil); why == "" && d.known[dg].State == "" {
				c.NewTokens = append(c.NewTokens, store.NewToken{Digest: dg, Hint: d.hint(k.Token), State: store.StateRetired, RetiredReason: ReasonRevoked})
			}
		}
		return c
	}
	if k.Token.Known {
		dg := k.Token.Digest
		if why := d.blockedBy(dg, nil); why != "" {
			return d.blocked(c, why)
		}
		h := d.hint(k.Token)
		c.Token = d.slab.tokenChange(TokenChange{After: h})
		c.NewTokens = d.slab.newToken(store.NewToken{Digest: dg, Hint: h, State: store.StateActive})
	}
	d.previousOnCreate(k, &c, pk)
	return c
}

// slab hands out the rows and token changes of created keys from large
// chunks: an initial apply of 100,000 keys makes a few hundred allocations
// for them instead of 300,000.
type slab struct {
	rows   []store.KeyRow
	tcs    []TokenChange
	tokens []store.NewToken
}

const slabChunk = 1024

func (s *slab) row(r store.KeyRow) *store.KeyRow {
	if len(s.rows) == cap(s.rows) {
		s.rows = make([]store.KeyRow, 0, slabChunk)
	}
	s.rows = append(s.rows, r)
	return &s.rows[len(s.rows)-1]
}

func (s *slab) tokenChange(tc TokenChange) *TokenChange {
	if len(s.tcs) == cap(s.tcs) {
		s.tcs = make([]TokenChange, 0, slabChunk)
	}
	s.tcs = append(s.tcs, tc)
	return &s.tcs[len(s.tcs)-1]
}

// newToken returns a slice of one token, at its capacity: appending to it
// (a previous token) copies it out of the slab.
func (s *slab) newToken(t store.NewToken) []store.NewToken {
	if len(s.tokens) == cap(s.tokens) {
		s.tokens = make([]store.NewToken, 0, slabChunk)
	}
	s.tokens = append(s.tokens, t)
	n := len(s.tokens)
	return s.tokens[n-1 : n : n]
}

// previousOnCreate stores a previous token for a key that has no live
// tokens (a new key, or one being restored). pk is checkPrevious's
// verdict: such a key holds no token that could stay valid, so only a new
// token allowed by --allow-new-previous is stored.
func (d *differ) previousOnCreate(k *spec.Key, c *Change, pk previousKind) {
	p := k.Previous
	if p == nil || !p.Token.Known {
		return
	}
	if !p.Until.After(d.now) {
		d.warnPreviousExpired(k)
		return
	}
	switch pk {
	case prevRetired:
		d.warnPreviousRetired(k)
	case prevNew:
		if c.Token == nil {
			c.Token = &TokenChange{}
		}
		d.keepNewPrevious(k, c, c.Token)
	}
}

// keepNewPrevious stores k's previous token, which the store did not hold
// for k, as allowed by --allow-new-previous: the plan warns and the key's
// event records it.
func (d *differ) keepNewPrevious(k *spec.Key, c *Change, tc *TokenChange) {
	p := k.Previous
	until, h := p.Until, d.hint(p.Token)
	tc.Previous, tc.PreviousUntil, tc.PreviousNew = h, &until, true
	c.NewTokens = append(c.NewTokens, store.NewToken{Digest: p.Token.Digest, Hint: h, State: store.StatePrevious, ValidUntil: &until})
	d.plan.Warnings = append(d.plan.Warnings, Warning{Address: k.Address.String(), Kind: WarnPreviousNew, Message: fmt.Sprintf(
		"previous_token %s was never issued for this key; --allow-new-previous keeps it valid until %s (recorded in the key's event)", h, until.UTC().Format(time.RFC3339))})
}

func (d *differ) warnPreviousRetired(k *spec.Key) {
	d.plan.Warnings = append(d.plan.Warnings, Warning{Address: k.Address.String(), Kind: WarnPreviousRetired,
		Message: "previous_token is a retired token and stays retired"})
}

// previousKind is checkPrevious's verdict on a key's previous_token.
type previousKind uint8

const (
	// prevNone: nothing to keep valid: no previous_token, an offline
	// plan, previous_until has passed, or the spec revokes the key.
	prevNone previousKind = iota
	// prevHeld: the key's active token (kept valid while a new token
	// replaces it) or its previous token within its window.
	prevHeld
	// prevRetired: a retired token of this key, or its previous token
	// past the stored cutoff: it stays retired, with a warning.
	prevRetired
	// prevNew: a token the store does not hold, allowed by
	// --allow-new-previous.
	prevNew
	// prevRefused: a token the store holds for another key, or a new
	// token without --allow-new-previous: the plan has a refusal.
	prevRefused
)

// checkPrevious decides whether the previous_token of k (cur is the stored
// key, nil for a new one) may be kept valid, and records a refusal when it
// may not. Previous tokens are rotations, not back doors: while
// previous_until is in the future, a previous token must be a token the
// store already holds for the key, that is its active token (which a new
// token replaces in a rolling rotation, or which stays active) or its
// previous token within its window. A token the store does not hold would
// become valid without ever having been issued for the key; a token it
// holds for another key is never this key's. --allow-new-previous admits
// the first (a migration from another system), never the second. A token
// retired from this key stays retired, as before.
func (d *differ) checkPrevious(k *spec.Key, cur *store.Key) previousKind {
	p := k.Previous
	if p == nil || !p.Token.Known || k.Revoked || !p.Until.After(d.now) {
		return prevNone
	}
	dg := p.Token.Digest
	if cur != nil {
		for i := range cur.Tokens {
			switch t := &cur.Tokens[i]; {
			case t.Digest != dg:
			case cur.RevokedAt != nil:
				return prevRetired // drift: a live token of a revoked key is never kept
			case t.State == store.StateActive, t.ValidUntil == nil || t.ValidUntil.After(d.now):
				return prevHeld
			default:
				return prevRetired // past its stored cutoff: this apply retires it
			}
		}
	}
	refuse := func(msg string) previousKind {
		d.plan.Refusals = append(d.plan.Refusals, Refusal{Address: k.Address.String(), Message: msg})
		return prevRefused
	}
	h, until := d.hint(p.Token), p.Until.UTC().Format(time.RFC3339)
	if ref, ok := d.known[dg]; ok {
		if cur != nil && ref.KeyID == cur.ID {
			return prevRetired
		}
		return refuse(fmt.Sprintf("the previous_token of %s (%s) is a token the store holds for %s, not for this key: a previous token must be this key's current token",
			k.Address, h, spec.Address{Tenant: ref.Tenant, Slug: ref.Slug}))
	}
	if o := d.liveOwner(dg); o != nil && (cur == nil || o.ID != cur.ID) {
		return refuse(fmt.Sprintf("the previous_token of %s (%s) is a token the store holds for %s, not for this key: a previous token must be this key's current token",
			k.Address, h, addr(o)))
	}
	if d.opts.AllowNewPrevious {
		return prevNew
	}
	if cur == nil {
		return refuse(fmt.Sprintf("the previous_token of %s (%s) was never issued for it: %s is a new key, and the apply would make a token the store never held valid until %s. "+
			"Create the key with its token alone, or use --allow-new-previous to bring a token over from another system", k.Address, h, k.Address, until))
	}
	return refuse(fmt.Sprintf("the previous_token of %s (%s) was never issued for it: it is neither the key's active token nor its previous token, and the apply would make it valid until %s. "+
		"A rolling rotation sets token to the new value and previous_token to the current one; use --allow-new-previous to bring a token over from another system", k.Address, h, until))
}

func (d *differ) warnPreviousExpired(k *spec.Key) {
	w, _ := ExpiryWarning(k.Address, PreviousUntil, k.Previous.Until, d.now, 0) // past: always a warning
	d.plan.Warnings = append(d.plan.Warnings, w)
}

// retireAll retires every live token of k.
func (d *differ) retireAll(k *store.Key, c *Change, reason string) *TokenChange {
	if len(k.Tokens) == 0 {
		return nil
	}
	tc := &TokenChange{}
	for _, t := range k.Tokens {
		c.TokenUpdates = append(c.TokenUpdates, store.TokenUpdate{Digest: t.Digest, State: store.StateRetired, RetiredReason: reason})
		tc.Retired = append(tc.Retired, t.Hint)
		if t.State == store.StateActive {
			tc.Before = t.Hint
		}
	}
	return tc
}

// diffTokens plans the token changes of a live key that stays live. It
// returns a reason when the key must be blocked.
//
// pk is checkPrevious's verdict on the spec's previous token.
func (d *differ) diffTokens(k *spec.Key, cur *store.Key, c *Change, pk previousKind) string {
	if !k.Token.Known {
		return "" // offline plan: tokens are not compared
	}
	active, prev := cur.Active(), cur.Previous()
	if active != nil && active.Digest == k.Token.Digest && prev == nil && k.Previous == nil {
		return "" // the usual case, decided without allocating
	}
	tc := &TokenChange{}
	if active != nil {
		tc.Before, tc.After = active.Hint, active.Hint
	}
	retire := func(t *store.Token, reason string) {
		c.TokenUpdates = append(c.TokenUpdates, store.TokenUpdate{Digest: t.Digest, State: store.StateRetired, RetiredReason: reason})
		tc.Retired = append(tc.Retired, t.Hint)
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
		wantPrevDigest = wantPrev.Token.Digest
	}
	// A key holds at most one previous token, but a store written by hand,
	// or by a keyprov whose rotation started in an open window left two,
	// may hold more: the one the spec asks for (as its token, then as its
	// previous token) is planned below, the others are retired.
	prev = d.pickPrevious(cur, prev, k.Token.Digest, wantPrevDigest, retire)
	// A previous token past its cutoff is retired whatever the spec says,
	// and stays retired even if the spec moves the cutoff later.
	var cutoff *store.Token
	if prev != nil && prev.ValidUntil != nil && !prev.ValidUntil.After(d.now) {
		retire(prev, ReasonCutoff)
		cutoff, prev = prev, nil
	}

	dg := k.Token.Digest
	prevHandled := false
	// replaceActive handles the active token that a new one replaces: it
	// stays valid until the cutoff when the spec names it as the previous
	// token (a rolling rotation), and is retired at once otherwise.
	replaceActive := func() {
		switch {
		case active == nil:
		case wantPrev != nil && wantPrevDigest == active.Digest:
			until := wantPrev.Until
			c.TokenUpdates = append(c.TokenUpdates, store.TokenUpdate{Digest: active.Digest, State: store.StatePrevious, ValidUntil: &until})
			tc.Previous, tc.PreviousUntil = active.Hint, &until
			prevHandled = true
		default:
			retire(active, ReasonRotated)
		}
	}
	switch {
	case active != nil && active.Digest == dg:
		// unchanged
	case prev != nil && prev.Digest == dg:
		// Rolling a rotation back: the previous token becomes active again.
		c.TokenUpdates = append(c.TokenUpdates, store.TokenUpdate{Digest: prev.Digest, State: store.StateActive})
		tc.After = prev.Hint
		replaceActive()
		prev = nil
	case cutoff != nil && cutoff.Digest == dg:
		return fmt.Sprintf("token was the previous token until %s and can never be active again — set a new token", cutoff.ValidUntil.UTC().Format(time.RFC3339))
	default:
		if why := d.blockedBy(dg, cur); why != "" {
			return why
		}
		c.NewTokens = append(c.NewTokens, store.NewToken{Digest: dg, Hint: d.hint(k.Token), State: store.StateActive})
		tc.After = d.hint(k.Token)
		replaceActive()
	}

	if prevHandled {
		// A rolling rotation started while an earlier window is open: the
		// spec names one previous token, the one the new token replaces, so
		// the earlier previous token stops verifying now.
		if prev != nil {
			retire(prev, ReasonPreviousDropped)
		}
	} else {
		switch {
		case wantPrev == nil:
			if prev != nil {
				retire(prev, ReasonPreviousDropped)
			}
		case prev != nil && prev.Digest == wantPrevDigest:
			if prev.ValidUntil == nil || !prev.ValidUntil.Equal(wantPrev.Until) {
				until := wantPrev.Until
				c.TokenUpdates = append(c.TokenUpdates, store.TokenUpdate{Digest: prev.Digest, State: store.StatePrevious, ValidUntil: &until})
				tc.Previous, tc.PreviousUntil = prev.Hint, &until
			}
		default:
			if prev != nil {
				retire(prev, ReasonPreviousDropped)
			}
			if active != nil && active.Digest == wantPrevDigest {
				break // the previous token is the active one: nothing to keep
			}
			// Not a token the key holds live: checkPrevious has refused
			// it, or found it retired, or let --allow-new-previous admit it.
			switch pk {
			case prevRetired:
				d.warnPreviousRetired(k)
			case prevNew:
				d.keepNewPrevious(k, c, tc)
			}
		}
	}
	if len(c.NewTokens) > 0 || len(c.TokenUpdates) > 0 {
		c.Token = tc
	}
	return ""
}

// pickPrevious returns the previous token of cur that the plan keeps
// track of: prev, cur's first, unless cur holds more than one, in which
// case the one that is the spec's token (a rollback), else the spec's
// previous token, else prev; the others are retired at once.
func (d *differ) pickPrevious(cur *store.Key, prev *store.Token, dg, wantPrev token.Digest, retire func(*store.Token, string)) *store.Token {
	n := 0
	for i := range cur.Tokens {
		if cur.Tokens[i].State == store.StatePrevious {
			n++
		}
	}
	if n < 2 {
		return prev
	}
	pick := prev
	for _, want := range []token.Digest{wantPrev, dg} {
		for i := range cur.Tokens {
			if t := &cur.Tokens[i]; t.State == store.StatePrevious && t.Digest == want {
				pick = t
			}
		}
	}
	for i := range cur.Tokens {
		t := &cur.Tokens[i]
		if t.State != store.StatePrevious || t == pick {
			continue
		}
		if t.ValidUntil != nil && !t.ValidUntil.After(d.now) {
			retire(t, ReasonCutoff)
		} else {
			retire(t, ReasonPreviousDropped)
		}
	}
	return pick
}

// fieldChanges compares the content of a stored key with the spec's
// (keycontent.Compare).
func fieldChanges(cur *store.Key, want *store.KeyRow) []FieldChange {
	return keycontent.Compare(&cur.Content, &want.Content)
}
