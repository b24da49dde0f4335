package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyprov/keyprov/token"
)

// Statuses of keyprov.verify_token besides the codes of failures.
const (
	statusValid   = "valid"
	statusUnknown = "unknown"
)

// sentinels maps the statuses of keyprov.verify_token that fail to the
// errors Verify returns.
var sentinels = map[string]error{
	CodeUnknown:         ErrUnknown,
	CodeRevoked:         ErrRevoked,
	CodeDisabled:        ErrDisabled,
	CodeExpired:         ErrExpired,
	CodePreviousExpired: ErrPreviousExpired,
	CodeRetired:         ErrRetired,
	CodeScopeDenied:     ErrScopeDenied,
}

// lookupSQL is the one query Verify makes for a token: keyprov's
// verify_token, which decides, and the change counter, read in the same
// snapshot (both functions are STABLE), so that the answer can be cached
// for exactly the state it describes. $2 is the time to decide at, NULL for
// the database's clock.
func lookupSQL(schema string) string {
	s := pgx.Identifier{schema}.Sanitize()
	return `SELECT v.status, v.tenant, v.slug, v.universal, v.permissions::text, v.metadata::text, v.expires_at,
	v.key_id, v.token_state, v.valid_until, v.name, v.token_hint, v.status_at, v.status_reason, ` + s + `.change_counter()
FROM ` + s + `.verify_token($1, NULL, $2) v`
}

// record is keyprov.verify_token's answer for a token, without a tenant.
type record struct {
	status string
	// key is nil for an unknown token.
	key *Key
	// at and reason say when and why a token that does not verify
	// stopped (status_at, status_reason).
	at     *time.Time
	reason string
	// until is, for a valid token, when time alone ends the answer: the
	// key's expiry or the previous token's cutoff; nil when never.
	until *time.Time
}

// outdated reports whether the answer may no longer hold at now: a valid
// token past its key's expiry or its cutoff is asked about again.
func (r *record) outdated(now time.Time) bool {
	return r.until != nil && !now.Before(*r.until)
}

// Verify checks tok, the token as the client presented it, and returns its
// key. A token that does not verify yields an *Error wrapping the reason
// (errors.Is(err, verify.ErrRevoked) …); any other error means the store
// could not be asked and says nothing about the token.
func (v *Verifier) Verify(ctx context.Context, tok string) (*Key, error) {
	var (
		st    *watchState
		fresh bool
	)
	if v.watch != nil {
		var err error
		st, fresh, err = v.watch.state(ctx)
		if err != nil && (st == nil || v.prefix != "") {
			return nil, err
		}
	}
	if err := v.wellFormed(tok, st, fresh); err != nil {
		return nil, err
	}
	d := token.DigestOf(tok)
	now := v.now()
	if v.cache != nil && fresh {
		if rec, ok := v.cache.get(d, now); ok && (rec == nil || !rec.outdated(now)) {
			return v.answer(rec, now)
		}
	}
	rec, counter, err := v.fetch(ctx, d)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(d, rec, counter, now)
	}
	if st != nil && counter != st.counter {
		v.watch.wake() // the store changed: tell the other answers sooner
	}
	return v.answer(rec, now)
}

func (v *Verifier) now() time.Time {
	if v.clock != nil {
		return v.clock()
	}
	return time.Now()
}

// answer turns a record into Verify's result, and records the use of a
// valid token.
func (v *Verifier) answer(rec *record, now time.Time) (*Key, error) {
	if rec == nil {
		return nil, &Error{Err: ErrUnknown}
	}
	if rec.status != statusValid {
		return nil, rec.failure()
	}
	if v.rec != nil {
		v.rec.touch(rec.key.ID, now)
	}
	return rec.key, nil
}

// failure is the *Error of a token that does not verify.
func (r *record) failure() error {
	e := &Error{Err: sentinels[r.status]}
	if e.Err == nil {
		// A status this keyprov does not know of, from a newer schema:
		// the token does not verify.
		e.Err, e.Detail = ErrRetired, fmt.Sprintf("status %q", r.status)
	}
	if r.key == nil {
		return e
	}
	e.Address = r.key.Address
	when := ""
	if r.at != nil {
		when = " at " + stamp(*r.at)
	}
	switch r.status {
	case CodeRevoked, CodeDisabled:
		e.Detail = r.status + when
	case CodeExpired:
		e.Detail = "expired" + when
	case CodePreviousExpired:
		if r.key.Token == Previous {
			e.Detail = "previous token " + r.key.TokenHint + " stopped working" + when
		} else {
			e.Detail = "previous token " + r.key.TokenHint + " retired" + when
		}
		return e
	case CodeRetired:
		e.Detail = "token " + r.key.TokenHint + " retired" + when
	}
	if r.reason != "" && e.Detail != "" {
		e.Detail += ": " + r.reason
	}
	return e
}

// wellFormed applies the token rules, except the entropy rule (a weak token
// that apply accepted before the rule existed still gets a clear answer),
// with the prefix of WithPrefix or any of the store's prefixes. With a
// fresh view of the store, a token whose prefixes are all carried with a
// checksum by every live token is rejected when it has no valid one.
func (v *Verifier) wellFormed(tok string, st *watchState, fresh bool) error {
	prefixes := []prefixInfo{{prefix: v.prefix}}
	if v.prefix == "" {
		prefixes = st.prefixes
	}
	var (
		ok []prefixInfo
		// broken is the first rule the token breaks with the longest
		// prefix it carries, or with the first prefix if it carries none.
		broken    error
		brokenLen = -1
	)
	for _, p := range prefixes {
		err := firstBroken(tok, p.prefix)
		if err == nil {
			ok = append(ok, p)
			continue
		}
		carried := -1
		if strings.HasPrefix(tok, p.prefix) {
			carried = len(p.prefix)
		}
		if broken == nil || carried > brokenLen {
			broken, brokenLen = err, carried
		}
	}
	if len(ok) == 0 {
		detail := strings.TrimPrefix(broken.Error(), "token: ")
		if errors.Is(broken, token.ErrPrefix) && len(prefixes) > 1 {
			quoted := make([]string, len(prefixes))
			for i, p := range prefixes {
				quoted[i] = fmt.Sprintf("%q", p.prefix)
			}
			detail = "missing prefix: tokens must start with " + strings.Join(quoted, " or ")
		}
		return &Error{Err: ErrMalformed, Detail: detail, cause: broken}
	}
	if !fresh {
		return nil
	}
	for _, p := range ok {
		if !p.checksums || token.HasChecksum(tok, p.prefix) {
			return nil
		}
	}
	return &Error{Err: ErrMalformed, Detail: fmt.Sprintf("no valid checksum, which every live token of prefix %q carries", ok[0].prefix)}
}

// firstBroken returns the first token rule tok breaks with prefix, the
// entropy rule aside, or nil.
func firstBroken(tok, prefix string) error {
	for _, err := range token.Check(tok, prefix) {
		if !errors.Is(err, token.ErrLowEntropy) {
			return err
		}
	}
	return nil
}

// fetch asks keyprov.verify_token about digest d and returns its answer
// (nil for an unknown token) and the change counter it was read at.
func (v *Verifier) fetch(ctx context.Context, d token.Digest) (*record, int64, error) {
	var (
		at                         *time.Time
		status                     string
		tenant, slug, perms, meta  *string
		universal                  *bool
		expires, validUntil, since *time.Time
		id                         *int64
		state, name, hint, reason  *string
		counter                    int64
	)
	if v.clock != nil {
		t := v.clock()
		at = &t
	}
	err := v.db.QueryRow(ctx, v.sql, d[:], at).Scan(&status, &tenant, &slug, &universal, &perms, &meta, &expires,
		&id, &state, &validUntil, &name, &hint, &since, &reason, &counter)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, nil // a store without keyprov's schema (keyprov verify)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("verify: looking up the token: %w", err)
	}
	if status == statusUnknown || id == nil {
		return nil, counter, nil
	}
	k := &Key{ID: *id, Tenant: deref(tenant), Slug: deref(slug), Universal: universal != nil && *universal,
		Name: deref(name), TokenHint: deref(hint), ExpiresAt: utc(expires)}
	k.Address = k.Tenant + "/" + k.Slug
	if k.Permissions, err = decodePermissions(deref(perms)); err != nil {
		return nil, 0, fmt.Errorf("verify: decoding the permissions of %s: %w", k.Address, err)
	}
	if err := json.Unmarshal([]byte(deref(meta)), &k.Metadata); err != nil {
		return nil, 0, fmt.Errorf("verify: decoding the metadata of %s: %w", k.Address, err)
	}
	if k.Metadata == nil {
		k.Metadata = map[string]string{}
	}
	switch deref(state) {
	case string(Active):
		k.Token = Active
	case string(Previous):
		k.Token, k.ValidUntil = Previous, utc(validUntil)
	}
	rec := &record{status: status, key: k, at: utc(since), reason: deref(reason)}
	if status == statusValid {
		rec.until = earliest(k.ExpiresAt, k.ValidUntil)
	}
	return rec, counter, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func earliest(a, b *time.Time) *time.Time {
	switch {
	case a == nil:
		return b
	case b == nil || a.Before(*b):
		return a
	}
	return b
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// decodePermissions decodes the jsonb array of permission objects.
func decodePermissions(text string) ([]Permission, error) {
	var objs []map[string]any
	if err := json.Unmarshal([]byte(text), &objs); err != nil {
		return nil, err
	}
	perms := make([]Permission, 0, len(objs))
	for _, o := range objs {
		name, _ := o["name"].(string)
		delete(o, "name")
		if len(o) == 0 {
			o = nil
		}
		perms = append(perms, Permission{Name: name, Attributes: o})
	}
	return perms, nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
