package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5"

	"github.com/keyprov/keyprov/token"
)

// Token states.
const (
	StateActive   = "active"
	StatePrevious = "previous"
	StateRetired  = "retired"
)

// Key is a stored key with its live (active and previous) tokens.
type Key struct {
	ID          int64
	Tenant      string
	Slug        string
	Universal   bool
	Name        string
	Description string
	// Permissions and Metadata are PostgreSQL's text of the jsonb values.
	Permissions   []byte
	Metadata      []byte
	ExpiresAt     *time.Time
	Owner         string
	RevokedAt     *time.Time
	RevokedReason string
	UpdatedAt     time.Time
	// ContentDigest is the stored keys.content_digest (see ContentDigest),
	// nil when unknown.
	ContentDigest []byte
	// Elided: LoadElided did not read the content (the fields from
	// Universal to RevokedReason); FillContent reads it.
	Elided bool
	// Disabled says who holds the key disabled. It is not content: it is
	// read for every key, elided or not.
	Disabled Disabled
	// Tokens are the live tokens: at most one active and one previous.
	Tokens []Token
}

// SetContent sets the content of an elided key to r, which the caller has
// found to have the key's stored ContentDigest, as FillContent would read
// it (times in UTC, to the microsecond).
func (k *Key) SetContent(r *KeyRow) {
	k.Universal, k.Name, k.Description = r.Universal, r.Name, r.Description
	k.Permissions, k.Metadata = r.Permissions, r.Metadata
	k.ExpiresAt, k.Owner = storedTime(r.ExpiresAt), r.Owner
	k.RevokedAt, k.RevokedReason = storedTime(r.RevokedAt), r.RevokedReason
	k.Elided = false
}

// Disabled is who holds a key disabled (migration 005): the spec
// (disabled = true), a prune (the spec no longer declares the key), an
// operator (keyprov disable). A key is disabled while any of them holds it;
// its tokens are kept and verify again once none does.
type Disabled struct {
	// At is when the key was switched off; nil while it is enabled.
	At    *time.Time
	Spec  bool
	Prune bool
	// Operator is the operator's disable, nil when there is none. Only
	// keyprov enable lifts it; an apply never writes it.
	Operator *OperatorHold
}

// OperatorHold is an operator's disable: who, when and why.
type OperatorHold struct {
	At     time.Time
	Actor  string
	Reason string
}

// Holders names who holds the key disabled, in a fixed order: "spec",
// "prune", "operator". Empty when the key is enabled.
func (d Disabled) Holders() []string {
	var hs []string
	if d.Spec {
		hs = append(hs, HolderSpec)
	}
	if d.Prune {
		hs = append(hs, HolderPrune)
	}
	if d.Operator != nil {
		hs = append(hs, HolderOperator)
	}
	return hs
}

// Held reports whether any holder holds the key disabled.
func (d Disabled) Held() bool { return d.Spec || d.Prune || d.Operator != nil }

// Holders of a disabled key, as Disabled.Holders names them.
const (
	HolderSpec     = "spec"
	HolderPrune    = "prune"
	HolderOperator = "operator"
)

// storedTime is t as a timestamptz column returns it.
func storedTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	s := t.UTC().Truncate(time.Microsecond)
	return &s
}

// Active returns the active token, or nil.
func (k *Key) Active() *Token {
	for i := range k.Tokens {
		if k.Tokens[i].State == StateActive {
			return &k.Tokens[i]
		}
	}
	return nil
}

// Previous returns the previous token, or nil.
func (k *Key) Previous() *Token {
	for i := range k.Tokens {
		if k.Tokens[i].State == StatePrevious {
			return &k.Tokens[i]
		}
	}
	return nil
}

// Token is a stored token: its digest, never the token. The digest is its
// identity.
type Token struct {
	Digest     token.Digest
	Hint       string
	State      string
	ValidUntil *time.Time
}

// State is what the store holds, read by Load.
type State struct {
	// Now is the database's transaction time: every time-based decision
	// (expiry, rotation cutoffs) is made against the database clock.
	Now  time.Time
	Keys []*Key
}

// TokenRef describes a stored token found by digest, with its key.
type TokenRef struct {
	KeyID         int64
	Tenant, Slug  string
	State         string
	RetiredAt     *time.Time
	RetiredReason string
	KeyRevokedAt  *time.Time
}

// Load reads every key with its live tokens: the keys in one query, the
// live tokens in another, joined here. Rows are decoded by hand from
// PostgreSQL's binary format: reading the store is the hot path of every
// boot (in LoadElided's form; Load serves list and --full-read), and
// generic scanning costs more than the queries.
//
// Two plain scans cost the server less than half of one join: joining
// 100,000 keys to their tokens on the server means sorting the tokens by
// key (or an index scan) and took 0.45-0.55 s, the two scans 0.2 s, and
// the join here, through an index of the keys by id, a few milliseconds.
// Both queries run in the caller's transaction: View reads one snapshot;
// Update holds the advisory lock, which apply and revoke, the writers of
// what Load reads, take (verify's last_used_at updates touch neither).
//
// State.Keys are in id order.
func (t *Tx) Load(ctx context.Context) (*State, error) {
	return t.load(ctx, false)
}

// LoadElided is Load without the content of the keys: their id, address,
// updated_at and content digest only, marked Elided. A no-op apply of
// 100,000 keys reads no content at all: the caller compares each digest
// with the digest of the row the spec asks for, sets the content of the
// keys that match (Key.SetContent) and reads the others' (FillContent).
func (t *Tx) LoadElided(ctx context.Context) (*State, error) {
	return t.load(ctx, true)
}

const (
	keyColumns = "id, tenant, slug, updated_at, content_digest, " +
		"disabled_at, disabled_spec, disabled_prune, disabled_operator_at, disabled_operator_actor, disabled_operator_reason"
	// nKeyColumns is the number of keyColumns.
	nKeyColumns    = 11
	contentColumns = "universal, name, description, permissions::text, metadata::text, expires_at, owner, revoked_at, coalesce(revoked_reason, '')"
)

func (t *Tx) load(ctx context.Context, elide bool) (*State, error) {
	now, err := t.Now(ctx)
	if err != nil {
		return nil, err
	}
	st := &State{Now: now}
	var (
		a     arena
		names = interner{}
	)
	cols, ncols := keyColumns+", "+contentColumns, nKeyColumns+9
	if elide {
		cols, ncols = keyColumns, nKeyColumns
	}
	// DescribeExec returns binary rows without a named prepared statement,
	// so it is safe through PgBouncer.
	rows, err := t.tx.Query(ctx, "SELECT "+cols+" FROM "+t.db.table("keys"), pgx.QueryExecModeDescribeExec)
	if err != nil {
		return nil, fmt.Errorf("loading keys: %w", err)
	}
	defer rows.Close()
	var (
		keys   []Key // allocated in chunks: one allocation per chunk, not per key
		sorted = true
	)
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != ncols {
			return nil, fmt.Errorf("loading keys: %d columns, want %d", len(v), ncols)
		}
		if len(keys) == cap(keys) {
			keys = make([]Key, 0, 1024)
		}
		keys = append(keys, Key{
			ID: decodeInt8(v[0]), Tenant: a.string(v[1]), Slug: a.string(v[2]), UpdatedAt: decodeTime(v[3]),
			ContentDigest: a.bytesOrNil(v[4]), Elided: elide,
		})
		k := &keys[len(keys)-1]
		k.decodeDisabled(v[5:nKeyColumns], &a)
		if !elide {
			k.decodeContent(v[nKeyColumns:], &a, names)
		}
		if n := len(st.Keys); n > 0 && st.Keys[n-1].ID > k.ID {
			sorted = false
		}
		st.Keys = append(st.Keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("loading keys: %w", err)
	}
	// Rows come in the table's physical order: in id order until rows are
	// updated, almost in id order after.
	if !sorted {
		slices.SortFunc(st.Keys, func(x, y *Key) int { return cmp.Compare(x.ID, y.ID) })
	}
	if err := t.loadTokens(ctx, newKeyIndex(st.Keys), &a, names); err != nil {
		return nil, fmt.Errorf("loading keys: %w", err)
	}
	return st, nil
}

// decodeContent decodes the contentColumns.
func (k *Key) decodeContent(v [][]byte, a *arena, names interner) {
	k.Universal, k.Name, k.Description = decodeBool(v[0]), a.string(v[1]), a.string(v[2])
	k.Permissions, k.Metadata = a.bytes(v[3]), a.bytes(v[4])
	k.ExpiresAt, k.Owner = decodeTimePtr(v[5]), names.string(v[6])
	k.RevokedAt, k.RevokedReason = decodeTimePtr(v[7]), a.string(v[8])
	k.Elided = false
}

// decodeDisabled decodes the disabled columns of keyColumns. Almost every
// key is enabled: its columns are NULL or false, and nothing is allocated.
func (k *Key) decodeDisabled(v [][]byte, a *arena) {
	if v[0] == nil && v[3] == nil && !decodeBool(v[1]) && !decodeBool(v[2]) {
		return
	}
	k.Disabled = Disabled{At: decodeTimePtr(v[0]), Spec: decodeBool(v[1]), Prune: decodeBool(v[2])}
	if v[3] != nil {
		k.Disabled.Operator = &OperatorHold{At: decodeTime(v[3]), Actor: a.string(v[4]), Reason: a.string(v[5])}
	}
}

// FillScanAbove is the number of keys above which FillContent reads the
// content of every key instead of finding the keys by id.
const FillScanAbove = 10_000

// FillContent reads the content of elided keys (of the State of this
// transaction's LoadElided).
func (t *Tx) FillContent(ctx context.Context, keys []*Key) error {
	if len(keys) == 0 {
		return nil
	}
	byID := make(map[int64]*Key, len(keys))
	for _, k := range keys {
		byID[k.ID] = k
	}
	// A few keys are found by id; many are found faster by reading them all.
	q := "SELECT id, " + contentColumns + " FROM " + t.db.table("keys") + " k"
	var args []any
	if len(keys) <= FillScanAbove {
		ids := make([]int64, len(keys))
		for i, k := range keys {
			ids[i] = k.ID
		}
		q += " JOIN unnest($1::bigint[]) AS w(id) USING (id)"
		args = append(args, ids)
	}
	rows, err := t.tx.Query(ctx, q, append([]any{pgx.QueryExecModeDescribeExec}, args...)...)
	if err != nil {
		return fmt.Errorf("loading the content of %d keys: %w", len(keys), err)
	}
	defer rows.Close()
	var (
		a     arena
		names = interner{}
	)
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != 10 {
			return fmt.Errorf("loading the content of keys: %d columns, want 10", len(v))
		}
		if k := byID[decodeInt8(v[0])]; k != nil {
			k.decodeContent(v[1:], &a, names)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("loading the content of %d keys: %w", len(keys), err)
	}
	for _, k := range keys {
		if k.Elided {
			return fmt.Errorf("loading the content of keys: key %d (%s/%s) is gone", k.ID, k.Tenant, k.Slug)
		}
	}
	return nil
}

// loadTokens reads the active and previous tokens of every key and gives
// each to its key.
func (t *Tx) loadTokens(ctx context.Context, byID keyIndex, a *arena, names interner) error {
	rows, err := t.tx.Query(ctx, `SELECT key_id, digest, hint, state, valid_until
FROM `+t.db.table("tokens")+` WHERE state <> 'retired'`, pgx.QueryExecModeDescribeExec)
	if err != nil {
		return err
	}
	defer rows.Close()
	var toks []Token // allocated in chunks, like the keys
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != 5 {
			return fmt.Errorf("%d token columns, want 5", len(v))
		}
		k := byID.get(decodeInt8(v[0]))
		if k == nil {
			continue // a token of a key that is not loaded: none under the lock
		}
		if len(toks) == cap(toks) {
			toks = make([]Token, 0, 1024)
		}
		toks = append(toks, Token{Hint: a.string(v[2]), State: names.string(v[3]), ValidUntil: decodeTimePtr(v[4])})
		tok := &toks[len(toks)-1]
		copy(tok.Digest[:], v[1])
		if k.Tokens == nil {
			k.Tokens = toks[len(toks)-1 : len(toks) : len(toks)]
		} else {
			k.Tokens = append(k.Tokens, *tok) // a second live token: rare, copies
		}
	}
	return rows.Err()
}

// keyIndex finds loaded keys by id: a slice indexed by id when the ids are
// dense (they come from a sequence), a map otherwise.
type keyIndex struct {
	min   int64
	dense []*Key
	m     map[int64]*Key
}

// newKeyIndex indexes keys sorted by id.
func newKeyIndex(keys []*Key) keyIndex {
	if len(keys) == 0 {
		return keyIndex{}
	}
	lo, hi := keys[0].ID, keys[len(keys)-1].ID
	if span := uint64(hi - lo); span < uint64(4*len(keys)+1024) {
		ix := keyIndex{min: lo, dense: make([]*Key, span+1)}
		for _, k := range keys {
			ix.dense[k.ID-lo] = k
		}
		return ix
	}
	ix := keyIndex{m: make(map[int64]*Key, len(keys))}
	for _, k := range keys {
		ix.m[k.ID] = k
	}
	return ix
}

func (ix keyIndex) get(id int64) *Key {
	if ix.m != nil {
		return ix.m[id]
	}
	if i := uint64(id - ix.min); i < uint64(len(ix.dense)) {
		return ix.dense[i]
	}
	return nil
}

// arena hands out strings and byte slices carved from large byte chunks:
// loading 100,000 keys makes a few hundred allocations instead of a
// million, and the chunks hold no pointers for the garbage collector to scan.
type arena struct {
	buf []byte
}

const arenaChunk = 64 << 10

func (a *arena) bytes(b []byte) []byte {
	if len(b) == 0 {
		return []byte{}
	}
	if len(b) > arenaChunk/4 {
		return append([]byte(nil), b...)
	}
	if len(a.buf)+len(b) > cap(a.buf) {
		a.buf = make([]byte, 0, arenaChunk)
	}
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[start:len(a.buf):len(a.buf)]
}

// bytesOrNil is bytes, with NULL (nil) kept as nil.
func (a *arena) bytesOrNil(b []byte) []byte {
	if b == nil {
		return nil
	}
	return a.bytes(b)
}

func (a *arena) string(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	c := a.bytes(b)
	return unsafe.String(&c[0], len(c))
}

// interner returns one string per distinct value of a low-cardinality
// column (owners, token states).
type interner map[string]string

func (in interner) string(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	in[s] = s
	return s
}

// Now returns the transaction's time on the database clock, at microsecond precision.
func (t *Tx) Now(ctx context.Context) (time.Time, error) {
	var now time.Time
	if err := t.tx.QueryRow(ctx, "SELECT now()").Scan(&now); err != nil {
		return time.Time{}, fmt.Errorf("reading the database time: %w", err)
	}
	return now.UTC(), nil
}

// LookupDigests finds stored tokens (any state, any key) by digest, in one query.
func (t *Tx) LookupDigests(ctx context.Context, digests []token.Digest) (map[token.Digest]TokenRef, error) {
	out := map[token.Digest]TokenRef{}
	if len(digests) == 0 {
		return out, nil
	}
	if len(digests) >= 1000 {
		// The first apply into an empty store looks up every token; one
		// cheap question saves sending and probing them all.
		var none bool
		if err := t.tx.QueryRow(ctx, "SELECT NOT EXISTS (SELECT 1 FROM "+t.db.table("tokens")+")").Scan(&none); err != nil {
			return nil, fmt.Errorf("looking up tokens: %w", err)
		}
		if none {
			return out, nil
		}
	}
	arg := make([][]byte, len(digests))
	for i := range digests {
		arg[i] = digests[i][:]
	}
	rows, err := t.tx.Query(ctx, `SELECT t.digest, t.key_id, k.tenant, k.slug, t.state, t.retired_at, coalesce(t.retired_reason, ''), k.revoked_at
FROM `+t.db.table("tokens")+` t JOIN `+t.db.table("keys")+` k ON k.id = t.key_id
WHERE t.digest = ANY($1::bytea[])`, arg)
	if err != nil {
		return nil, fmt.Errorf("looking up tokens: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			d   []byte
			ref TokenRef
		)
		if err := rows.Scan(&d, &ref.KeyID, &ref.Tenant, &ref.Slug, &ref.State, &ref.RetiredAt, &ref.RetiredReason, &ref.KeyRevokedAt); err != nil {
			return nil, fmt.Errorf("looking up tokens: %w", err)
		}
		var dg token.Digest
		copy(dg[:], d)
		out[dg] = ref
	}
	return out, rows.Err()
}

// Binary format decoders for the columns Load reads.

func decodeInt8(b []byte) int64 { return int64(binary.BigEndian.Uint64(b)) }

func decodeBool(b []byte) bool { return len(b) == 1 && b[0] != 0 }

// pgEpochUnix is PostgreSQL's timestamp epoch (2000-01-01 UTC) in Unix
// seconds: binary timestamptz is microseconds since it.
const pgEpochUnix = 946684800

func decodeTime(b []byte) time.Time {
	if len(b) != 8 {
		return time.Time{}
	}
	us := int64(binary.BigEndian.Uint64(b))
	switch us {
	case math.MaxInt64:
		return time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC) // 'infinity'
	case math.MinInt64:
		return time.Time{} // '-infinity'
	}
	return time.Unix(pgEpochUnix+us/1e6, (us%1e6)*1e3).UTC()
}

func decodeTimePtr(b []byte) *time.Time {
	if b == nil {
		return nil
	}
	t := decodeTime(b)
	return &t
}
