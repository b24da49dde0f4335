package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyprov/keyprov/internal/keycontent"
	"github.com/keyprov/keyprov/token"
)

// Content is a key's content: keycontent.Content, the one list of a key's
// content fields.
type Content = keycontent.Content

// KeyRow is a key row as an apply writes it: its id, its address, its
// content and its disabled state.
type KeyRow struct {
	// ID is 0 for a key to create.
	ID           int64
	Tenant, Slug string
	Content
	// Disabled is the key's disabled state (see Disabled). It is not
	// content: ContentDigest leaves it out. Write writes who holds the key
	// disabled as an apply decides it (At, Spec, Prune), never an
	// operator's disable (Operator is not written).
	Disabled Disabled
}

// NewToken is a token row to insert.
type NewToken struct {
	Digest        token.Digest
	Hint          string
	State         string
	ValidUntil    *time.Time
	RetiredReason string // only for State == StateRetired
	// Checksum: the token ends in a valid keyprov checksum (tokens.checksum,
	// which tells verifiers what they may reject without a query).
	Checksum bool
}

// TokenUpdate changes the state of a stored token.
type TokenUpdate struct {
	Digest        token.Digest
	State         string
	ValidUntil    *time.Time
	RetiredReason string // only for State == StateRetired
}

// Event is an audit row. Changes is a JSON object of field → {old, new}.
type Event struct {
	Action  string
	Changes []byte
	// ChangesFunc, when set, produces Changes as the row is written: a
	// large apply then never holds every document at once, and producing
	// them overlaps with the database storing the previous rows.
	ChangesFunc func() []byte
	Reason      string
}

// Document returns the event's changes document.
func (e Event) Document() []byte {
	if e.ChangesFunc != nil {
		return e.ChangesFunc()
	}
	return e.Changes
}

// KeyWrite is everything written for one key.
type KeyWrite struct {
	// Create inserts Key; otherwise Key, when set, replaces the content of
	// the existing key KeyID.
	Create bool
	// Key is the key's new content; nil when only tokens or events change.
	// Write only reads it (its ID is not read: KeyID is the key's id).
	Key *KeyRow
	// KeyID is the existing key's id; 0 for a key to create, whose id
	// Write assigns (and returns: WriteResult.KeyIDs).
	KeyID        int64
	Tenant, Slug string
	NewTokens    []NewToken
	TokenUpdates []TokenUpdate
	Events       []Event
}

// Batch is one apply's writes.
type Batch struct {
	RunID string
	Owner string
	Actor string
	// Now stamps created_at, updated_at, retired_at and revoked_at values
	// that the batch sets; it is the transaction's time from State.Now.
	Now  time.Time
	Keys []KeyWrite
}

// WriteStats counts the rows written.
type WriteStats struct {
	KeysInserted, KeysUpdated     int64
	TokensInserted, TokensUpdated int64
	Events                        int64
	// IndexesRebuilt counts the indexes built after the rows of a bulk
	// load into an empty table (not rows: Rows leaves them out).
	IndexesRebuilt int64
}

// WriteResult is what Write did.
type WriteResult struct {
	WriteStats
	// KeyIDs are the ids of the batch's keys, in the batch's order: the
	// ids Write assigned to the keys it created, KeyID for the others.
	KeyIDs []int64
}

// Rows is the total number of rows written.
func (s WriteStats) Rows() int64 {
	return s.KeysInserted + s.KeysUpdated + s.TokensInserted + s.TokensUpdated + s.Events
}

// Write executes a batch with a bounded number of statements, whatever its
// size: ids for new keys in one query, new rows with COPY (into an empty
// table, with its indexes built after the rows and the ids of its rows
// reserved in one step: bulk.go), updates as one UPDATE … FROM unnest(…)
// per table. It does not change the batch, nor anything the batch points
// to (the rows of a plan): the ids it assigns come back in the result.
func (t *Tx) Write(ctx context.Context, b *Batch) (WriteResult, error) {
	var res WriteResult
	st := &res.WriteStats
	if len(b.Keys) == 0 {
		return res, nil
	}
	ids := make([]int64, len(b.Keys))
	for i := range b.Keys {
		ids[i] = b.Keys[i].KeyID
	}
	res.KeyIDs = ids
	// The new tokens are copied in digest order, which does not depend on
	// the key ids: they are sorted on another core while the keys are
	// copied. Not before: each of the short statements that make the keys'
	// table ready would wait for a core behind the sort.
	sortedTokens := make(chan []rowRef, 1)
	sortTokens := sync.OnceFunc(func() { go func() { sortedTokens <- newTokensByDigest(b) }() })

	var creates []int
	for i := range b.Keys {
		if b.Keys[i].Create {
			creates = append(creates, i)
		}
	}
	if len(creates) > 0 {
		n, rebuilt, err := t.copyInBulk(ctx, load{table: "keys", n: len(creates), reserveIDs: true,
			rows: func(ctx context.Context, firstID int64) ([]string, func(e *copyEncoder, j int), error) {
				var drawn []int64
				if firstID == 0 {
					var err error
					if drawn, err = t.allocateIDs(ctx, len(creates)); err != nil {
						return nil, nil, fmt.Errorf("allocating key ids: %w", err)
					}
				}
				for j, i := range creates {
					id := firstID + int64(j)
					if drawn != nil {
						id = drawn[j]
					}
					ids[i] = id
				}
				sortTokens()
				return keyCopyColumns,
					func(e *copyEncoder, j int) {
						k := b.Keys[creates[j]].Key
						// The content digest is computed as the row is
						// encoded, while the database stores the previous ones.
						digest := ContentDigest(k)
						e.row(len(keyCopyColumns))
						e.int8(ids[creates[j]])
						e.text(k.Tenant)
						e.text(k.Slug)
						e.content(&k.Content)
						e.timestamptz(b.Now)
						e.timestamptz(b.Now)
						e.bytes(digest[:])
						e.timestamptzPtr(k.Disabled.At)
						e.bool(k.Disabled.Spec)
						e.bool(k.Disabled.Prune)
					}, nil
			}})
		if err != nil {
			return res, fmt.Errorf("inserting keys: %w", err)
		}
		st.KeysInserted = n
		st.IndexesRebuilt += rebuilt
	}
	sortTokens() // when no key was created, while the updates are written

	if err := t.updateKeys(ctx, b, st); err != nil {
		return res, err
	}
	if err := t.updateTokens(ctx, b, st); err != nil {
		return res, err
	}

	if toks := <-sortedTokens; len(toks) > 0 {
		n, rebuilt, err := t.copyInBulk(ctx, load{table: "tokens", n: len(toks),
			rows: func(context.Context, int64) ([]string, func(e *copyEncoder, i int), error) {
				return []string{"key_id", "digest", "scheme", "hint", "state", "valid_until", "created_at", "retired_at", "retired_reason", "checksum"},
					func(e *copyEncoder, i int) {
						kw := &b.Keys[toks[i].key]
						nt := &kw.NewTokens[toks[i].i]
						e.row(10)
						e.int8(ids[toks[i].key])
						e.bytes(nt.Digest[:])
						e.text(token.Scheme)
						e.text(nt.Hint)
						e.text(nt.State)
						e.timestamptzPtr(nt.ValidUntil)
						e.timestamptz(b.Now)
						if nt.State == StateRetired {
							e.timestamptz(b.Now)
						} else {
							e.null()
						}
						e.nullText(nt.RetiredReason)
						e.bool(nt.Checksum)
					}, nil
			}})
		if err != nil {
			return res, fmt.Errorf("inserting tokens: %w", err)
		}
		st.TokensInserted = n
		st.IndexesRebuilt += rebuilt
	}

	var evs []rowRef
	for i := range b.Keys {
		for j := range b.Keys[i].Events {
			evs = append(evs, rowRef{i, j})
		}
	}
	if len(evs) > 0 {
		runID, err := parseUUID(b.RunID)
		if err != nil {
			return res, fmt.Errorf("writing events: %w", err)
		}
		// In a bulk load the events' ids are reserved at once and copied
		// (COPY writes even a GENERATED ALWAYS column); otherwise each row
		// draws its own from the column's default.
		n, rebuilt, err := t.copyInBulk(ctx, load{table: "events", n: len(evs), reserveIDs: true,
			rows: func(_ context.Context, firstID int64) ([]string, func(e *copyEncoder, i int), error) {
				columns := []string{"at", "run_id", "key_id", "tenant", "slug", "action", "changes", "owner", "actor", "reason"}
				fields := len(columns)
				if firstID != 0 {
					columns = append(columns, "id")
					fields++
				}
				return columns, func(e *copyEncoder, i int) {
					kw := &b.Keys[evs[i].key]
					ev := &kw.Events[evs[i].i]
					changes := ev.Document()
					if changes == nil {
						changes = []byte("{}")
					}
					e.row(fields)
					e.timestamptz(b.Now)
					e.uuid(runID)
					e.int8(ids[evs[i].key])
					e.text(kw.Tenant)
					e.text(kw.Slug)
					e.text(ev.Action)
					e.json(changes)
					e.text(b.Owner)
					e.text(b.Actor)
					e.nullText(ev.Reason)
					if firstID != 0 {
						e.int8(firstID + int64(i))
					}
				}, nil
			}})
		if err != nil {
			return res, fmt.Errorf("writing events: %w", err)
		}
		st.Events = n
		st.IndexesRebuilt += rebuilt
	}
	return res, nil
}

// rowRef is b.Keys[key].NewTokens[i] or b.Keys[key].Events[i].
type rowRef struct {
	key int
	i   int
}

// newTokensByDigest lists the batch's new tokens in digest order. In that
// order the primary key's index grows at its right edge instead of
// splitting pages all over: the COPY of 100,000 new tokens takes a fifth
// less time.
func newTokensByDigest(b *Batch) []rowRef {
	// Sorted by the digests' first eight bytes as integers, compared in
	// full only on a tie: comparing the digests through the batch took
	// 50 ms of CPU for 100,000 tokens, much of it cache misses.
	type entry struct {
		prefix uint64
		ref    rowRef
	}
	n := 0
	for i := range b.Keys {
		n += len(b.Keys[i].NewTokens)
	}
	es := make([]entry, 0, n)
	for i := range b.Keys {
		for j := range b.Keys[i].NewTokens {
			es = append(es, entry{binary.BigEndian.Uint64(b.Keys[i].NewTokens[j].Digest[:8]), rowRef{i, j}})
		}
	}
	digest := func(r rowRef) []byte { return b.Keys[r.key].NewTokens[r.i].Digest[:] }
	slices.SortFunc(es, func(x, y entry) int {
		if c := cmp.Compare(x.prefix, y.prefix); c != 0 {
			return c
		}
		return bytes.Compare(digest(x.ref), digest(y.ref))
	})
	toks := make([]rowRef, len(es))
	for i := range es {
		toks[i] = es[i].ref
	}
	return toks
}

// allocateIDs draws n ids from the keys sequence. When nobody else draws
// at the same time (the usual case: writers of this schema hold the
// advisory lock) they are consecutive, and only the range comes back
// instead of n rows; otherwise the ids are read one by one.
func (t *Tx) allocateIDs(ctx context.Context, n int) ([]int64, error) {
	// The sequence is looked up once: pg_get_serial_sequence inside the
	// select would run for every row.
	var seqName string
	if err := t.tx.QueryRow(ctx, "SELECT pg_get_serial_sequence($1, 'id')", t.db.table("keys")).Scan(&seqName); err != nil {
		return nil, err
	}
	seq := "nextval(" + quoteLiteral(seqName) + "::regclass)"
	var lo, hi, count int64
	if err := t.tx.QueryRow(ctx, "SELECT min(v), max(v), count(*) FROM (SELECT "+seq+" AS v FROM generate_series(1, $1)) s", n).Scan(&lo, &hi, &count); err != nil {
		return nil, err
	}
	ids := make([]int64, 0, n)
	if count == int64(n) && hi-lo+1 == count {
		for id := lo; id <= hi; id++ {
			ids = append(ids, id)
		}
		return ids, nil
	}
	// Another session drew ids in between: draw a fresh set one by one.
	rows, err := t.tx.Query(ctx, "SELECT "+seq+" FROM generate_series(1, $1)", n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// keyCopyColumns are the columns of a created key's row: its id and
// address, the content fields (keycontent.Fields, encoded by
// copyEncoder.content), then what Write stamps and the disabled state.
var keyCopyColumns = slices.Concat([]string{"id", "tenant", "slug"}, contentColumnNames(),
	[]string{"created_at", "updated_at", "content_digest", "disabled_at", "disabled_spec", "disabled_prune"})

func contentColumnNames() []string {
	cols := make([]string, len(keycontent.Fields))
	for i := range keycontent.Fields {
		cols[i] = keycontent.Fields[i].Column
	}
	return cols
}

// content encodes the content fields in the order of keycontent.Fields.
func (c *copyEncoder) content(k *Content) {
	for i := range keycontent.Fields {
		switch f := &keycontent.Fields[i]; f.Kind {
		case keycontent.Bool:
			c.bool(f.Bool(k))
		case keycontent.Text:
			if f.Nullable {
				c.nullText(f.Text(k))
			} else {
				c.text(f.Text(k))
			}
		case keycontent.JSON:
			c.jsonb(f.JSON(k))
		case keycontent.Time:
			c.timestamptzPtr(f.Time(k))
		}
	}
}

// contentArrays are the content fields of the keys updateKeys writes, one
// array per field of keycontent.Fields, of the Go type its SQL array
// takes (see updateKeysSQL).
type contentArrays []any

func newContentArrays(n int) contentArrays {
	a := make(contentArrays, len(keycontent.Fields))
	for i := range keycontent.Fields {
		switch f := &keycontent.Fields[i]; {
		case f.Kind == keycontent.Bool:
			a[i] = make([]bool, 0, n)
		case f.Kind == keycontent.Time:
			a[i] = make([]*time.Time, 0, n)
		case f.Nullable:
			a[i] = make([]*string, 0, n)
		default: // text, and JSON as its text
			a[i] = make([]string, 0, n)
		}
	}
	return a
}

func (a contentArrays) add(k *Content) {
	for i := range keycontent.Fields {
		switch f := &keycontent.Fields[i]; {
		case f.Kind == keycontent.Bool:
			a[i] = append(a[i].([]bool), f.Bool(k))
		case f.Kind == keycontent.Time:
			a[i] = append(a[i].([]*time.Time), f.Time(k))
		case f.Kind == keycontent.JSON:
			a[i] = append(a[i].([]string), string(f.JSON(k)))
		case f.Nullable:
			a[i] = append(a[i].([]*string), nullString(f.Text(k)))
		default:
			a[i] = append(a[i].([]string), f.Text(k))
		}
	}
}

// updateKeysSQL updates keys from arrays: $1 the ids, $2 the updated_at,
// then the tenants, slugs, content digests, disabled_at, disabled_spec
// and disabled_prune ($3-$8), then one array per content field ($9…, in
// the order of keycontent.Fields). %s is the table.
var updateKeysSQL = func() string {
	set := []string{"tenant = u.tenant", "slug = u.slug", "updated_at = $2", "content_digest = u.content_digest",
		"disabled_at = u.disabled_at", "disabled_spec = u.disabled_spec", "disabled_prune = u.disabled_prune"}
	arrays := []string{"$1::bigint[]", "$3::text[]", "$4::text[]", "$5::bytea[]", "$6::timestamptz[]", "$7::boolean[]", "$8::boolean[]"}
	names := []string{"id", "tenant", "slug", "content_digest", "disabled_at", "disabled_spec", "disabled_prune"}
	for i := range keycontent.Fields {
		f := &keycontent.Fields[i]
		value, typ := "u."+f.Column, "text[]"
		switch f.Kind {
		case keycontent.Bool:
			typ = "boolean[]"
		case keycontent.Time:
			typ = "timestamptz[]"
		case keycontent.JSON:
			value += "::jsonb"
		}
		set = append(set, f.Column+" = "+value)
		arrays = append(arrays, fmt.Sprintf("$%d::%s", 9+i, typ))
		names = append(names, f.Column)
	}
	return "UPDATE %s AS k SET " + strings.Join(set, ", ") +
		" FROM unnest(" + strings.Join(arrays, ", ") + ") AS u(" + strings.Join(names, ", ") + ") WHERE k.id = u.id"
}()

// updateKeys writes the content of changed existing keys in one statement.
func (t *Tx) updateKeys(ctx context.Context, b *Batch, st *WriteStats) error {
	n := 0
	for i := range b.Keys {
		if kw := &b.Keys[i]; !kw.Create && kw.Key != nil {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	var (
		ids               = make([]int64, 0, n)
		tenants, slugs    = make([]string, 0, n), make([]string, 0, n)
		digests           = make([][]byte, 0, n)
		disabledAt        = make([]*time.Time, 0, n)
		disSpec, disPrune = make([]bool, 0, n), make([]bool, 0, n)
		content           = newContentArrays(n)
	)
	for i := range b.Keys {
		kw := &b.Keys[i]
		if kw.Create || kw.Key == nil {
			continue
		}
		k := kw.Key
		ids = append(ids, kw.KeyID)
		tenants = append(tenants, k.Tenant)
		slugs = append(slugs, k.Slug)
		d := ContentDigest(k)
		digests = append(digests, d[:])
		disabledAt = append(disabledAt, k.Disabled.At)
		disSpec = append(disSpec, k.Disabled.Spec)
		disPrune = append(disPrune, k.Disabled.Prune)
		content.add(&k.Content)
	}
	args := append([]any{ids, b.Now, tenants, slugs, digests, disabledAt, disSpec, disPrune}, content...)
	tag, err := t.tx.Exec(ctx, fmt.Sprintf(updateKeysSQL, t.db.table("keys")), args...)
	if err != nil {
		return fmt.Errorf("updating keys: %w", err)
	}
	st.KeysUpdated = tag.RowsAffected()
	return nil
}

// updateTokens changes token states in two statements: first the tokens that
// stop being active, then those that become active, so that the
// one-active-token-per-key index holds after every row.
func (t *Tx) updateTokens(ctx context.Context, b *Batch, st *WriteStats) error {
	for _, toActive := range []bool{false, true} {
		var (
			digests [][]byte
			states  []string
			until   []*time.Time
			reasons []*string
		)
		for i := range b.Keys {
			for _, u := range b.Keys[i].TokenUpdates {
				if (u.State == StateActive) != toActive {
					continue
				}
				digests = append(digests, u.Digest[:])
				states = append(states, u.State)
				until = append(until, u.ValidUntil)
				reasons = append(reasons, nullString(u.RetiredReason))
			}
		}
		if len(digests) == 0 {
			continue
		}
		tag, err := t.tx.Exec(ctx, `UPDATE `+t.db.table("tokens")+` AS t SET
	state = u.state,
	valid_until = CASE WHEN u.state = 'retired' THEN t.valid_until ELSE u.valid_until END,
	retired_at = CASE WHEN u.state = 'retired' THEN $5::timestamptz END,
	retired_reason = u.retired_reason
FROM unnest($1::bytea[], $2::text[], $3::timestamptz[], $4::text[]) AS u(digest, state, valid_until, retired_reason)
WHERE t.digest = u.digest`, digests, states, until, reasons, b.Now)
		if err != nil {
			return fmt.Errorf("updating tokens: %w", err)
		}
		st.TokensUpdated += tag.RowsAffected()
	}
	return nil
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
