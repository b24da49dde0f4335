package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyprov/keyprov/internal/names"
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
	prefix     string // "": the store's prefixes (keyprov.token_prefixes)
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

// WithPrefix sets the one token prefix that tokens must carry, instead of
// the prefixes keyprov records in the store for each spec owner
// (settings.token_prefix). A token with another prefix is then malformed,
// and no token is rejected for its checksum without a query.
func WithPrefix(prefix string) Option {
	return func(c *config) error {
		if prefix == "" {
			return errors.New("verify: empty token prefix")
		}
		c.prefix = prefix
		return nil
	}
}

// WithCache keeps looked-up tokens in memory for at most ttl, in a table of
// at most maxEntries entries, and drops them all within a second of any
// change to keys or tokens in the store (see the package documentation).
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

// WithClock replaces the time at which tokens are checked (expiry and
// cutoffs, otherwise decided with the database's clock), the cache's TTL
// and last-used times (tests). The cache's invalidation keeps real time.
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
	db DB
	// prefix is WithPrefix's; "" when the prefixes come from the store.
	prefix string
	sql    string
	// clock is WithClock's, nil for the database's clock.
	clock func() time.Time
	cache *cache
	watch *watch
	rec   *recorder
}

// New returns a Verifier that asks keyprov's verification functions in
// schema "keyprov" (WithSchema) through db. It makes no query until the
// first Verify. With WithCache, or without WithPrefix, a Verifier keeps a
// background poll of the store's change counter (one query a second); with
// WithLastUsed, a background writer. Close stops them.
func New(db DB, opts ...Option) (*Verifier, error) {
	if db == nil {
		return nil, errors.New("verify: nil database")
	}
	c := config{schema: DefaultSchema}
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	v := &Verifier{db: db, prefix: c.prefix, sql: lookupSQL(c.schema), clock: c.clock}
	if c.cacheTTL > 0 {
		v.cache = newCache(c.cacheTTL, min(c.cacheTTL, NegativeTTL), c.cacheMax)
	}
	if v.cache != nil || v.prefix == "" {
		v.watch = newWatch(db, c.schema, v.prefix == "", v.cache)
		// A Verifier dropped without Close stops polling once collected.
		runtime.AddCleanup(v, func(w *watch) { w.close() }, v.watch)
	}
	if c.lastUsed > 0 {
		v.rec = newRecorder(db, c.schema, c.lastUsed, c.onFlushErr)
	}
	return v, nil
}
