package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5"

	"github.com/keyprov/keyprov/internal/keycontent"
	"github.com/keyprov/keyprov/token"
)

// Token states.
const (
	StateActive   = "active"
	StatePrevious = "previous"
	StateRetired  = "retired"
)

// Key is a stored key with its live (active and previous) tokens: its
// row (KeyRow, whose Disabled includes an operator's disable), and what
// the store keeps besides.
type Key struct {
	KeyRow
	UpdatedAt time.Time
	// Tokens are the live tokens: at most one active and one previous.
	Tokens []Token
}

// setContent sets the content of k to r's, as the database returns it
// (times in UTC, to the microsecond).
func (k *Key) setContent(r *KeyRow) {
	k.Content = r.Content
	k.ExpiresAt, k.RevokedAt = storedTime(r.ExpiresAt), storedTime(r.RevokedAt)
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

// State is what the store holds, read by Load and LoadExpected.
type State struct {
	// Now is the database's transaction time: every time-based decision
	// (expiry, rotation cutoffs) is made against the database clock.
	Now  time.Time
	Keys []*Key
	// ContentRead is the number of keys whose content was read from the
	// database: every key for Load; for LoadExpected, those whose content
	// the caller did not expect.
	ContentRead int
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
// boot (in LoadExpected's form; Load serves list and --full-read), and
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
	st, _, _, err := t.load(ctx, false, 0)
	if err != nil {
		return nil, err
	}
	st.ContentRead = len(st.Keys)
	return st, nil
}

// Expected is the content a caller expects the store to hold: one row per
// address, such as the rows a spec asks for.
type Expected struct {
	// N is the number of rows.
	N int
	// Address returns the address of row i. Addresses ascend: by tenant,
	// then by slug (spec.Address.Compare).
	Address func(i int) (tenant, slug string)
	// Row returns row i (its ID, address and disabled state are not
	// read). It is called on another goroutine while the database reads
	// the keys, and again for each key found to hold it: it must return
	// the same row each time.
	Row func(i int) KeyRow
}

// LoadExpected reads what Load reads, every key with its live tokens, but
// reads a key's content only when it is not what the caller expects:
//
//   - a key whose stored content digest (keys.content_digest, see
//     ContentDigest) is the digest of the expected row at its address
//     holds that row: its content is taken from the row, as the database
//     would return it (times in UTC, to the microsecond), and not read;
//   - every other key's content is read from the database, in one more
//     query: a changed key, a key at an address that want does not list
//     (or lists under another address, after a move), a key whose digest
//     is missing or does not match because another tool changed it.
//
// The caller gets every key complete, as Load would return it; State.Keys
// are in address order, and State.ContentRead counts the keys whose
// content was read. A no-op apply of 100,000 keys reads no content at all.
// What a digest cannot tell is a change made together with a digest
// forged to match the expected row: Load, which reads everything, can.
//
// The digests of the expected rows are computed while the database reads
// the keys, and given up when it has none (the first apply).
func (t *Tx) LoadExpected(ctx context.Context, want Expected) (*State, error) {
	var (
		digests = make(chan [][32]byte, 1)
		stop    atomic.Bool
	)
	go func() { digests <- expectedDigests(want, &stop) }()
	st, index, stored, err := t.load(ctx, true, want.N)
	if err != nil || len(st.Keys) == 0 {
		stop.Store(true)
	}
	wantDigests := <-digests
	if err != nil {
		return nil, err
	}
	if !sortedByAddress(st.Keys) {
		slices.SortFunc(st.Keys, compareAddress)
	}
	var read []*Key
	i := 0
	for _, k := range st.Keys {
		// The expected rows before k's address are not stored: skip them.
		for i < want.N && compareAddressTo(want, i, k) < 0 {
			i++
		}
		if i < want.N && compareAddressTo(want, i, k) == 0 && stored.matches(k.ID, &wantDigests[i]) {
			row := want.Row(i)
			k.setContent(&row)
			continue
		}
		read = append(read, k)
	}
	if err := t.fillContent(ctx, read, index); err != nil {
		return nil, err
	}
	st.ContentRead = len(read)
	return st, nil
}

// expectedDigests returns the content digest of each expected row; nil
// once stop is set.
func expectedDigests(want Expected, stop *atomic.Bool) [][32]byte {
	ds := make([][32]byte, want.N)
	for i := range ds {
		if i%1024 == 0 && stop.Load() {
			return nil
		}
		row := want.Row(i)
		ds[i] = ContentDigest(&row)
	}
	return ds
}

func compareAddress(x, y *Key) int {
	if c := strings.Compare(x.Tenant, y.Tenant); c != 0 {
		return c
	}
	return strings.Compare(x.Slug, y.Slug)
}

// compareAddressTo compares the address of want's row i with k's.
func compareAddressTo(want Expected, i int, k *Key) int {
	tenant, slug := want.Address(i)
	if c := strings.Compare(tenant, k.Tenant); c != 0 {
		return c
	}
	return strings.Compare(slug, k.Slug)
}

func sortedByAddress(keys []*Key) bool {
	for i := 1; i < len(keys); i++ {
		if compareAddress(keys[i-1], keys[i]) > 0 {
			return false
		}
	}
	return true
}

const (
	keyColumns = "id, tenant, slug, updated_at, content_digest, " +
		"disabled_at, disabled_spec, disabled_prune, disabled_operator_at, disabled_operator_actor, disabled_operator_reason"
	// nKeyColumns is the number of keyColumns.
	nKeyColumns = 11
)

// contentColumns select the fields of keycontent.Fields, in its order
// (decodeContent decodes them): JSON as its text, NULL as "".
var contentColumns = func() string {
	var cols []string
	for _, f := range keycontent.Fields {
		col := f.Column
		switch {
		case f.Kind == keycontent.JSON:
			col += "::text"
		case f.Nullable:
			col = "coalesce(" + col + ", '')"
		}
		cols = append(cols, col)
	}
	return strings.Join(cols, ", ")
}()

// load reads the keys, without their content when elide is set, and
// their live tokens. State.Keys are in id order; the index finds them by
// id. With elide, it returns the stored content digests too, room made
// for about expect keys (a million digests appended one by one were
// copied twenty times over).
func (t *Tx) load(ctx context.Context, elide bool, expect int) (*State, keyIndex, storedDigests, error) {
	var stored storedDigests
	if elide {
		stored.ids, stored.digests = make([]int64, 0, expect), make([][32]byte, 0, expect)
	}
	now, err := t.Now(ctx)
	if err != nil {
		return nil, keyIndex{}, stored, err
	}
	st := &State{Now: now}
	var (
		a     arena
		names = interner{}
	)
	cols, ncols := keyColumns+", "+contentColumns, nKeyColumns+len(keycontent.Fields)
	if elide {
		cols, ncols = keyColumns, nKeyColumns
	}
	// DescribeExec returns binary rows without a named prepared statement,
	// so it is safe through PgBouncer.
	rows, err := t.tx.Query(ctx, "SELECT "+cols+" FROM "+t.db.table("keys"), pgx.QueryExecModeDescribeExec)
	if err != nil {
		return nil, keyIndex{}, stored, fmt.Errorf("loading keys: %w", err)
	}
	defer rows.Close()
	var (
		keys   []Key // allocated in chunks: one allocation per chunk, not per key
		sorted = true
	)
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != ncols {
			return nil, keyIndex{}, stored, fmt.Errorf("loading keys: %d columns, want %d", len(v), ncols)
		}
		if len(keys) == cap(keys) {
			keys = make([]Key, 0, 1024)
		}
		keys = append(keys, Key{
			KeyRow:    KeyRow{ID: decodeInt8(v[0]), Tenant: a.string(v[1]), Slug: a.string(v[2])},
			UpdatedAt: decodeTime(v[3]),
		})
		k := &keys[len(keys)-1]
		if elide {
			stored.add(k.ID, v[4])
		}
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
		return nil, keyIndex{}, stored, fmt.Errorf("loading keys: %w", err)
	}
	// Rows come in the table's physical order: in id order until rows are
	// updated, almost in id order after.
	if !sorted {
		slices.SortFunc(st.Keys, func(x, y *Key) int { return cmp.Compare(x.ID, y.ID) })
		stored.sort()
	}
	index := newKeyIndex(st.Keys)
	if err := t.loadTokens(ctx, st.Keys, index, &a, names); err != nil {
		return nil, keyIndex{}, stored, fmt.Errorf("loading keys: %w", err)
	}
	return st, index, stored, nil
}

// storedDigests are the stored content digests (keys.content_digest, see
// ContentDigest) of the keys LoadExpected loads, by key id, kept beside
// the keys while it compares them: a million keys do not each keep 56
// bytes that serve once.
type storedDigests struct {
	ids []int64 // ascending once sorted
	// digests are zero for a key without one (NULL, or not 32 bytes):
	// no row's digest is zero.
	digests [][32]byte
	// next is where matches looks first: keys made together have their
	// ids in address order, the order in which LoadExpected asks.
	next int
}

func (sd *storedDigests) add(id int64, d []byte) {
	sd.ids = append(sd.ids, id)
	var dg [32]byte
	if len(d) == len(dg) {
		copy(dg[:], d)
	}
	sd.digests = append(sd.digests, dg)
}

// sort orders the digests by id, as load orders the keys.
func (sd *storedDigests) sort() {
	perm := make([]int, len(sd.ids))
	for i := range perm {
		perm[i] = i
	}
	slices.SortFunc(perm, func(x, y int) int { return cmp.Compare(sd.ids[x], sd.ids[y]) })
	ids, digests := make([]int64, len(perm)), make([][32]byte, len(perm))
	for i, p := range perm {
		ids[i], digests[i] = sd.ids[p], sd.digests[p]
	}
	sd.ids, sd.digests = ids, digests
}

// matches reports whether the key id has the stored digest want.
func (sd *storedDigests) matches(id int64, want *[32]byte) bool {
	i, found := sd.next, sd.next < len(sd.ids) && sd.ids[sd.next] == id
	if !found {
		i, found = slices.BinarySearch(sd.ids, id)
	}
	if !found {
		return false
	}
	sd.next = i + 1
	return sd.digests[i] != [32]byte{} && sd.digests[i] == *want
}

// decodeContent decodes the contentColumns. It is written out, not read
// from keycontent.Fields: it runs for every key a full load reads.
func (k *Key) decodeContent(v [][]byte, a *arena, names interner) {
	k.Universal, k.Name, k.Description = decodeBool(v[0]), a.string(v[1]), a.string(v[2])
	k.Permissions, k.Metadata = a.bytes(v[3]), a.bytes(v[4])
	k.ExpiresAt, k.Owner = decodeTimePtr(v[5]), names.string(v[6])
	k.RevokedAt, k.RevokedReason = decodeTimePtr(v[7]), a.string(v[8])
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

// fillScanAbove is the number of keys above which fillContent reads the
// content of every key instead of finding the keys by id.
const fillScanAbove = 10_000

// fillContent reads the content of keys loaded without it (by load, in
// this transaction; index finds every loaded key by id).
func (t *Tx) fillContent(ctx context.Context, keys []*Key, index keyIndex) error {
	if len(keys) == 0 {
		return nil
	}
	// A few keys are found by id; many are found faster by reading them all.
	q := "SELECT id, " + contentColumns + " FROM " + t.db.table("keys") + " k"
	var args []any
	if len(keys) <= fillScanAbove {
		ids := make([]int64, len(keys))
		for i, k := range keys {
			ids[i] = k.ID
		}
		q += " JOIN unnest($1::bigint[]) AS w(id) USING (id)"
		args = append(args, ids)
	}
	// Which of keys are still to read: a key's content is read once, and
	// only the content of keys (not of the others a scan returns).
	pending := make(map[*Key]bool, len(keys))
	for _, k := range keys {
		pending[k] = true
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
		if len(v) != 1+len(keycontent.Fields) {
			return fmt.Errorf("loading the content of keys: %d columns, want %d", len(v), 1+len(keycontent.Fields))
		}
		if k := index.get(decodeInt8(v[0])); k != nil && pending[k] {
			k.decodeContent(v[1:], &a, names)
			delete(pending, k)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("loading the content of %d keys: %w", len(keys), err)
	}
	for _, k := range keys {
		if pending[k] {
			return fmt.Errorf("loading the content of keys: key %d (%s/%s) is gone", k.ID, k.Tenant, k.Slug)
		}
	}
	return nil
}

// loadTokens reads the active and previous tokens of every key and gives
// them to their keys. Tokens come in the table's physical order, which is
// not the keys' (the tokens of 1,000,000 keys made by one apply came in
// random key order): each token goes straight to its key's place in one
// slab, in key order, and the keys then take their tokens in one pass.
// Giving each token to its key as it came read a random key each time,
// and the plan then read a random token for each key: 1,000,000 cache
// misses each way. A key's second live token (rare) is kept aside.
func (t *Tx) loadTokens(ctx context.Context, keys []*Key, byID keyIndex, a *arena, names interner) error {
	rows, err := t.tx.Query(ctx, `SELECT key_id, digest, hint, state, valid_until
FROM `+t.db.table("tokens")+` WHERE state <> 'retired'`, pgx.QueryExecModeDescribeExec)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		slab  = make([]Token, len(keys))
		held  = make([]bool, len(keys))
		extra map[int][]Token
	)
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != 5 {
			return fmt.Errorf("%d token columns, want 5", len(v))
		}
		i := byID.pos(decodeInt8(v[0]))
		if i < 0 {
			continue // a token of a key that is not loaded: none under the lock
		}
		tok := Token{Hint: a.string(v[2]), State: names.string(v[3]), ValidUntil: decodeTimePtr(v[4])}
		copy(tok.Digest[:], v[1])
		if held[i] {
			if extra == nil {
				extra = map[int][]Token{}
			}
			extra[i] = append(extra[i], tok)
			continue
		}
		slab[i], held[i] = tok, true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i, k := range keys {
		switch {
		case extra[i] != nil:
			k.Tokens = append([]Token{slab[i]}, extra[i]...)
		case held[i]:
			k.Tokens = slab[i : i+1 : i+1]
		}
	}
	return nil
}

// keyIndex finds loaded keys by id: their position among the keys sorted
// by id, from a slice indexed by id when the ids are dense (they come
// from a sequence), from a map otherwise. It keeps its own list of the
// keys: the state's is sorted by address later.
type keyIndex struct {
	keys  []*Key
	min   int64
	dense []int32 // position + 1; 0: no key
	m     map[int64]int
}

// newKeyIndex indexes keys sorted by id.
func newKeyIndex(keys []*Key) keyIndex {
	if len(keys) == 0 {
		return keyIndex{}
	}
	keys = slices.Clone(keys)
	lo, hi := keys[0].ID, keys[len(keys)-1].ID
	if span := uint64(hi - lo); span < uint64(4*len(keys)+1024) && len(keys) < math.MaxInt32 {
		ix := keyIndex{keys: keys, min: lo, dense: make([]int32, span+1)}
		for i, k := range keys {
			ix.dense[k.ID-lo] = int32(i + 1)
		}
		return ix
	}
	ix := keyIndex{keys: keys, m: make(map[int64]int, len(keys))}
	for i, k := range keys {
		ix.m[k.ID] = i
	}
	return ix
}

// pos returns the position of the key of that id, or -1.
func (ix keyIndex) pos(id int64) int {
	if ix.m != nil {
		if i, ok := ix.m[id]; ok {
			return i
		}
		return -1
	}
	if i := uint64(id - ix.min); i < uint64(len(ix.dense)) {
		return int(ix.dense[i]) - 1
	}
	return -1
}

func (ix keyIndex) get(id int64) *Key {
	if i := ix.pos(id); i >= 0 {
		return ix.keys[i]
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
