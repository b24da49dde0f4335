package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyprov/keyprov/internal/names"
	"github.com/keyprov/keyprov/token"
)

// Errors wrapped by *Error, one per reason a token does not verify.
var (
	// ErrMalformed: the token breaks the token rules (prefix, length,
	// characters); no query was made.
	ErrMalformed = errors.New("verify: malformed token")
	// ErrUnknown: no stored token has this digest.
	ErrUnknown = errors.New("verify: unknown token")
	// ErrRevoked: the token's key is revoked, or the token was retired when
	// its key was revoked.
	ErrRevoked = errors.New("verify: key revoked")
	// ErrDisabled: the token's key is disabled (by the spec, a prune or an
	// operator); its tokens are kept and verify again once it is enabled.
	ErrDisabled = errors.New("verify: key disabled")
	// ErrExpired: the token's key expired.
	ErrExpired = errors.New("verify: key expired")
	// ErrPreviousExpired: the token is the previous token of a rolling
	// rotation and its cutoff has passed (whether or not an apply has retired
	// it since).
	ErrPreviousExpired = errors.New("verify: previous token past its cutoff")
	// ErrRetired: the token was rotated out, or dropped as previous token.
	ErrRetired = errors.New("verify: token retired")
	// ErrScopeDenied: the key does not reach the tenant (Key.Allows). APIs
	// answer it with 403 SCOPE_DENIED.
	ErrScopeDenied = errors.New("verify: scope denied")
)

// Error is the error of a token that does not verify, or of a key that does
// not reach a tenant. It wraps one of the sentinel errors above. Its message
// may name the key; it never contains the token. Any other error from Verify
// means the store could not be asked.
type Error struct {
	// Err is the sentinel: ErrMalformed, ErrUnknown, ErrRevoked,
	// ErrDisabled, ErrExpired, ErrPreviousExpired, ErrRetired or
	// ErrScopeDenied.
	Err error
	// Address is the key's address (tenant/slug) when the token was found.
	Address string
	// Detail explains the failure for logs (revocation time and reason, the
	// rule a malformed token breaks, …).
	Detail string
	// cause is the token rule broken by a malformed token.
	cause error
}

func (e *Error) Error() string {
	s := e.Err.Error()
	if e.Address != "" {
		s += ": " + e.Address
	}
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Unwrap returns the sentinel and, for a malformed token, the token rule
// error (token.ErrPrefix, token.ErrTooShort, …).
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Err, e.cause}
	}
	return []error{e.Err}
}

// Codes returned by Code.
const (
	CodeMalformed       = "malformed"
	CodeUnknown         = "unknown"
	CodeRevoked         = "revoked"
	CodeDisabled        = "disabled"
	CodeExpired         = "expired"
	CodePreviousExpired = "previous_expired"
	CodeRetired         = "retired"
	CodeScopeDenied     = "scope_denied"
)

// Code returns a short, stable name for the reason err reports (for API
// error bodies and metrics): one of the Code constants, or "" when err is
// not a verification failure (nil, or a database error).
func Code(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrMalformed):
		return CodeMalformed
	case errors.Is(err, ErrUnknown):
		return CodeUnknown
	case errors.Is(err, ErrRevoked):
		return CodeRevoked
	case errors.Is(err, ErrDisabled):
		return CodeDisabled
	case errors.Is(err, ErrExpired):
		return CodeExpired
	case errors.Is(err, ErrPreviousExpired):
		return CodePreviousExpired
	case errors.Is(err, ErrRetired):
		return CodeRetired
	case errors.Is(err, ErrScopeDenied):
		return CodeScopeDenied
	}
	return ""
}

// Reasons keyprov writes in tokens.retired_reason that Verify tells apart.
// They are the values of reconcile's ReasonCutoff and ReasonRevoked.
const (
	reasonCutoff  = "previous_until passed"
	reasonRevoked = "key revoked"
)

// DB is what a Verifier needs from the database. A *pgxpool.Pool satisfies
// it and is what applications pass. A *pgx.Conn does too but is not safe
// for concurrent use: use it from one goroutine only (keyprov verify does).
type DB interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// TokenState says which of its key's tokens a verified token is.
type TokenState string

// Token states a verified token can have.
const (
	Active   TokenState = "active"
	Previous TokenState = "previous"
)

// Key is a verified key. With the cache on, the same Key value is returned
// to every caller that presents the same token: treat it as read-only.
type Key struct {
	// ID is the key's row id in keyprov's keys table.
	ID int64 `json:"id"`
	// Address is "tenant/slug".
	Address   string `json:"address"`
	Tenant    string `json:"tenant"`
	Slug      string `json:"slug"`
	Universal bool   `json:"universal"`
	Name      string `json:"name"`
	// Permissions are sorted by name.
	Permissions []Permission      `json:"permissions"`
	Metadata    map[string]string `json:"metadata"`
	// ExpiresAt is nil for a key that does not expire.
	ExpiresAt *time.Time `json:"expires_at"`
	// Token is the state of the token that matched.
	Token TokenState `json:"token"`
	// TokenHint is the display hint of the token that matched (wat_…9fQx).
	TokenHint string `json:"token_hint"`
	// ValidUntil is the cutoff of a previous token, nil for the active one.
	ValidUntil *time.Time `json:"valid_until,omitempty"`
}

// Allows reports whether the key may act in tenant: a universal key reaches
// every tenant, a tenant key only its own. It returns an *Error wrapping
// ErrScopeDenied otherwise, and for a tenant name that the spec would
// refuse (empty, uppercase, spaces, …: lowercase letters, digits, '-' and
// '_', starting with a letter or digit, at most 63 characters), whatever
// the key. An invalid name is not repeated in the error.
func (k *Key) Allows(tenant string) error {
	switch {
	case !names.ValidIdent(tenant):
		return &Error{Err: ErrScopeDenied, Address: k.Address,
			Detail: "the tenant asked for is not a valid tenant name (lowercase letters, digits, '-' and '_', starting with a letter or digit, at most 63 characters)"}
	case k.Universal || k.Tenant == tenant:
		return nil
	}
	return &Error{Err: ErrScopeDenied, Address: k.Address,
		Detail: fmt.Sprintf("a key of tenant %q cannot act in tenant %q", k.Tenant, tenant)}
}

// Can reports whether the key grants the permission called name, by
// keyprov's one wildcard rule, the same that keyprov diff ranks and the
// spec's allowed_permissions catalog matches:
//
//   - a permission "*" grants every name;
//   - a permission ending in ".*" or ":*" grants every name below it:
//     "wb.*" grants "wb.page" and "wb.page.edit", not "wb" nor "wbx.page";
//     "search:*" grants "search:index";
//   - any other permission grants exactly its own name (case-sensitive).
//
// Can looks at names only: attributes such as rwd = "r" are the
// application's to interpret; Grants returns the permissions that grant
// name, with their attributes.
func (k *Key) Can(name string) bool {
	for _, p := range k.Permissions {
		if names.Covers(p.Name, name) {
			return true
		}
	}
	return false
}

// Grants returns the key's permissions that grant name (see Can), the most
// specific first: the permission of that exact name, then wildcards from
// the longest to "*". It returns nil when none does.
func (k *Key) Grants(name string) []Permission {
	var out []Permission
	for _, p := range k.Permissions {
		if names.Covers(p.Name, name) {
			out = append(out, p)
		}
	}
	slices.SortStableFunc(out, func(a, b Permission) int {
		return specificity(b.Name, name) - specificity(a.Name, name)
	})
	return out
}

// specificity orders the permissions that grant name: its own name first,
// then longer wildcards before shorter ones.
func specificity(perm, name string) int {
	if perm == name {
		return math.MaxInt32
	}
	return len(perm)
}

// Permission returns the permission named exactly name, if the key has it
// (a wildcard is found by its own name only: use Can or Grants to apply
// wildcards).
func (k *Key) Permission(name string) (Permission, bool) {
	for _, p := range k.Permissions {
		if p.Name == name {
			return p, true
		}
	}
	return Permission{}, false
}

// Permission is one granted permission: a name and the other attributes the
// spec gave it (e.g. { name = "wb.page", rwd = "r" }).
type Permission struct {
	Name string
	// Attributes are the permission's other fields, nil when it has none.
	Attributes map[string]any
}

// MarshalJSON writes the permission as the spec's object: "name" first,
// then its attributes sorted by name, as keyprov shows permissions.
func (p Permission) MarshalJSON() ([]byte, error) {
	name, err := json.Marshal(p.Name)
	if err != nil {
		return nil, err
	}
	out := append([]byte(`{"name":`), name...)
	keys := make([]string, 0, len(p.Attributes))
	for k := range p.Attributes {
		if k != "name" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		vb, err := json.Marshal(p.Attributes[k])
		if err != nil {
			return nil, err
		}
		out = append(append(append(append(out, ','), kb...), ':'), vb...)
	}
	return append(out, '}'), nil
}

// DefaultSchema is the schema keyprov writes by default (KEYPROV_SCHEMA).
const DefaultSchema = "keyprov"

// NegativeTTL bounds how long the cache remembers that a token is unknown.
const NegativeTTL = time.Second

// Option configures a Verifier.
type Option func(*config) error

type config struct {
	schema     string
	prefix     string
	cacheTTL   time.Duration
	cacheMax   int
	lastUsed   time.Duration
	clock      func() time.Time
	onFlushErr func(error)
}

// WithSchema names the schema of keyprov's tables (default "keyprov").
func WithSchema(schema string) Option {
	return func(c *config) error {
		if schema == "" {
			return errors.New("verify: empty schema name")
		}
		c.schema = schema
		return nil
	}
}

// WithPrefix sets the token prefix (default token.DefaultPrefix, "wat_");
// it must match the spec's settings.token_prefix.
func WithPrefix(prefix string) Option {
	return func(c *config) error {
		c.prefix = prefix
		return nil
	}
}

// WithCache keeps looked-up tokens for ttl in a table of at most maxEntries
// entries; see the package documentation for what it means for revocations.
func WithCache(ttl time.Duration, maxEntries int) Option {
	return func(c *config) error {
		if ttl <= 0 || maxEntries <= 0 {
			return fmt.Errorf("verify: cache needs a positive TTL and size, not %s and %d", ttl, maxEntries)
		}
		c.cacheTTL, c.cacheMax = ttl, maxEntries
		return nil
	}
}

// WithLastUsed records keys.last_used_at, writing at most once per key per
// interval in the background; see the package documentation for the cost.
// Call Close when done.
func WithLastUsed(interval time.Duration) Option {
	return func(c *config) error {
		if interval <= 0 {
			return fmt.Errorf("verify: last-used interval must be positive, not %s", interval)
		}
		c.lastUsed = interval
		return nil
	}
}

// WithFlushErrors receives the errors of background last_used_at writes
// (by default they are dropped; the uses are kept for the next flush).
func WithFlushErrors(fn func(error)) Option {
	return func(c *config) error {
		c.onFlushErr = fn
		return nil
	}
}

// WithClock replaces time.Now for expiry, cutoffs, the cache's TTL and
// last-used times (tests).
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("verify: nil clock")
		}
		c.clock = now
		return nil
	}
}

// Verifier verifies tokens. It is safe for concurrent use when its DB is.
type Verifier struct {
	db     DB
	prefix string
	query  string
	clock  func() time.Time
	cache  *cache
	rec    *recorder
}

// New returns a Verifier that reads keyprov's tables through db. With
// WithLastUsed it starts a background writer: call Close when done.
func New(db DB, opts ...Option) (*Verifier, error) {
	if db == nil {
		return nil, errors.New("verify: nil database")
	}
	c := config{schema: DefaultSchema, prefix: token.DefaultPrefix, clock: time.Now}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	v := &Verifier{db: db, prefix: c.prefix, query: lookupSQL(c.schema), clock: c.clock}
	if c.cacheTTL > 0 {
		v.cache = newCache(c.cacheTTL, min(c.cacheTTL, NegativeTTL), c.cacheMax)
	}
	if c.lastUsed > 0 {
		v.rec = newRecorder(db, c.schema, c.lastUsed, c.onFlushErr)
	}
	return v, nil
}

// lookupSQL is the one query Verify makes: the token's row by digest (the
// unique index tokens_digest), joined to its key by primary key.
func lookupSQL(schema string) string {
	return `SELECT k.id, k.tenant, k.slug, k.universal, k.name, k.permissions::text, k.metadata::text,
	k.expires_at, k.revoked_at, coalesce(k.revoked_reason, ''), k.disabled_at,
	t.state, t.hint, t.valid_until, t.retired_at, coalesce(t.retired_reason, '')
FROM ` + pgx.Identifier{schema, "tokens"}.Sanitize() + ` t
JOIN ` + pgx.Identifier{schema, "keys"}.Sanitize() + ` k ON k.id = t.key_id
WHERE t.digest = $1 AND t.scheme = 'sha256'`
}

// record is a looked-up token row: the key as Verify returns it and what
// decides whether the token verifies at a given time.
type record struct {
	key           *Key
	revokedAt     *time.Time
	revokedReason string
	// disabledAt is when the key was disabled; nil while it is enabled.
	disabledAt    *time.Time
	state         string
	retiredAt     *time.Time
	retiredReason string
}

// Verify checks tok, the token as the client presented it, and returns its
// key. A token that does not verify yields an *Error wrapping the reason
// (errors.Is(err, verify.ErrRevoked) …); any other error means the store
// could not be asked and says nothing about the token.
func (v *Verifier) Verify(ctx context.Context, tok string) (*Key, error) {
	if err := v.wellFormed(tok); err != nil {
		return nil, err
	}
	d := token.DigestOf(tok)
	now := v.clock()
	rec, err := v.lookup(ctx, d, now)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, &Error{Err: ErrUnknown}
	}
	if err := rec.check(now); err != nil {
		return nil, err
	}
	if v.rec != nil {
		v.rec.touch(rec.key.ID, now)
	}
	return rec.key, nil
}

// wellFormed applies the token rules, except the entropy rule (a weak token
// that apply accepted before the rule existed still gets a clear answer).
func (v *Verifier) wellFormed(tok string) error {
	for _, err := range token.Check(tok, v.prefix) {
		if errors.Is(err, token.ErrLowEntropy) {
			continue
		}
		return &Error{Err: ErrMalformed, Detail: strings.TrimPrefix(err.Error(), "token: "), cause: err}
	}
	return nil
}

func (v *Verifier) lookup(ctx context.Context, d token.Digest, now time.Time) (*record, error) {
	if v.cache != nil {
		if rec, ok := v.cache.get(d, now); ok {
			return rec, nil
		}
	}
	rec, err := v.fetch(ctx, d)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(d, rec, now)
	}
	return rec, nil
}

// fetch runs the lookup query; it returns nil, nil for an unknown digest.
func (v *Verifier) fetch(ctx context.Context, d token.Digest) (*record, error) {
	var (
		k                    Key
		perms, meta          string
		validUntil           *time.Time
		revokedAt            *time.Time
		disabledAt           *time.Time
		retiredAt            *time.Time
		revReason, retReason string
		state                string
	)
	err := v.db.QueryRow(ctx, v.query, d[:]).Scan(&k.ID, &k.Tenant, &k.Slug, &k.Universal, &k.Name, &perms, &meta,
		&k.ExpiresAt, &revokedAt, &revReason, &disabledAt, &state, &k.TokenHint, &validUntil, &retiredAt, &retReason)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("verify: looking up the token: %w", err)
	}
	k.Address = k.Tenant + "/" + k.Slug
	if k.Permissions, err = decodePermissions(perms); err != nil {
		return nil, fmt.Errorf("verify: decoding the permissions of %s: %w", k.Address, err)
	}
	if err := json.Unmarshal([]byte(meta), &k.Metadata); err != nil {
		return nil, fmt.Errorf("verify: decoding the metadata of %s: %w", k.Address, err)
	}
	if k.Metadata == nil {
		k.Metadata = map[string]string{}
	}
	k.ExpiresAt = utc(k.ExpiresAt)
	switch state {
	case string(Active):
		k.Token = Active
	case string(Previous):
		k.Token, k.ValidUntil = Previous, utc(validUntil)
	}
	return &record{key: &k, revokedAt: utc(revokedAt), revokedReason: revReason, disabledAt: utc(disabledAt),
		state: state, retiredAt: utc(retiredAt), retiredReason: retReason}, nil
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

// check decides whether the token verifies at now. The order of the cases
// is the precedence documented in the package documentation and in the SQL
// contract: key revoked, key disabled, key expired, then the token's own
// state.
func (r *record) check(now time.Time) error {
	k := r.key
	switch {
	case r.revokedAt != nil:
		detail := "revoked at " + stamp(*r.revokedAt)
		if r.revokedReason != "" {
			detail += ": " + r.revokedReason
		}
		return &Error{Err: ErrRevoked, Address: k.Address, Detail: detail}
	case r.disabledAt != nil:
		return &Error{Err: ErrDisabled, Address: k.Address, Detail: "disabled at " + stamp(*r.disabledAt)}
	case k.ExpiresAt != nil && !k.ExpiresAt.After(now):
		return &Error{Err: ErrExpired, Address: k.Address, Detail: "expired at " + stamp(*k.ExpiresAt)}
	case r.state == string(Active):
		return nil
	case r.state == string(Previous) && k.ValidUntil != nil && k.ValidUntil.After(now):
		return nil
	case r.state == string(Previous):
		detail := "previous token " + k.TokenHint
		if k.ValidUntil != nil {
			detail += " stopped working at " + stamp(*k.ValidUntil)
		}
		return &Error{Err: ErrPreviousExpired, Address: k.Address, Detail: detail}
	case r.retiredReason == reasonCutoff:
		return &Error{Err: ErrPreviousExpired, Address: k.Address, Detail: "previous token " + k.TokenHint + r.retiredWhen()}
	case r.retiredReason == reasonRevoked:
		return &Error{Err: ErrRevoked, Address: k.Address, Detail: "token " + k.TokenHint + " revoked" + r.retiredWhen()}
	default:
		detail := "token " + k.TokenHint + r.retiredWhen()
		if r.retiredReason != "" {
			detail += ": " + r.retiredReason
		}
		return &Error{Err: ErrRetired, Address: k.Address, Detail: detail}
	}
}

func (r *record) retiredWhen() string {
	if r.retiredAt == nil {
		return " retired"
	}
	return " retired at " + stamp(*r.retiredAt)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
