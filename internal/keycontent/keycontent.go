// Package keycontent is the one definition of a key's content: the fields
// a spec sets and an apply writes besides the key's id, address, tokens and
// disabled state. Fields lists them once, each with its name, its column,
// how two values compare, how a value is shown in a change and how it is
// digested; reconcile (the plan's field changes), review (a review's),
// store (the rows it reads and the content digest) all read that table.
package keycontent

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"strconv"
	"time"
)

// Content is what the store keeps of a key besides its id, address,
// tokens and disabled state.
type Content struct {
	Universal   bool
	Name        string
	Description string
	// Permissions is the canonical JSON array of the permissions, as
	// PostgreSQL prints the jsonb value; Metadata the JSON object ("{}").
	Permissions []byte
	Metadata    []byte
	ExpiresAt   *time.Time
	// Owner is the owner that manages the key (settings.owner).
	Owner         string
	RevokedAt     *time.Time
	RevokedReason string
}

// FieldChange is one changed attribute of a key (or a setting): Before
// and After are display values, nil when absent. For the fields of
// Content they are Field.Value's; the callers add their own (revoked,
// disabled, tokens, settings: see review.FieldChange).
type FieldChange struct {
	Field  string
	Before any
	After  any
	// Added and Removed list permission objects (canonical JSON) for the
	// permissions field.
	Added, Removed []json.RawMessage
}

// Kind is how a field is held, compared, shown and digested.
type Kind uint8

// Kinds of fields.
const (
	// Bool is compared with ==, shown as a bool, digested as one byte.
	Bool Kind = iota
	// Text is compared with ==, shown as a string ("" when empty),
	// digested as its length and bytes.
	Text
	// JSON is compared as decoded JSON (SameJSON), shown as
	// json.RawMessage, digested as its text.
	JSON
	// Time is compared as an instant, shown as a UTC time.Time or nil,
	// digested as PostgreSQL's microseconds.
	Time
)

// Field is one field of Content.
type Field struct {
	// Name is the field's name in plans, reviews and events.
	Name string
	// Column is its column in keyprov.keys; Nullable columns hold NULL for
	// an empty text.
	Column   string
	Nullable bool
	Kind     Kind
	// Compared: Compare lists a change of the field. Changes of the owner
	// and of the revocation are not listed: a plan shows them as what
	// they are (an adoption, a revocation), a review as the spec's
	// revoked attribute.
	Compared bool
	// Listed is when a new key's list of attributes shows the field
	// (plans, reviews): a description, metadata or an expiry only when
	// set; a key's universality is in its label, not in the list.
	Listed Rule
	// Created is when the created event of a new key records the field:
	// as Listed, but universality and metadata always; not the owner,
	// which a created key always has, nor the revocation.
	Created Rule

	// id says which field of Content the field is; the accessors (Bool,
	// Text, JSON, Time) read it with a switch, not through a func value:
	// escape analysis cannot see through a func value, and would move every
	// Content compared to the heap (a million at a no-op apply of a million
	// keys).
	id fieldID
}

// fieldID names a field of Content.
type fieldID uint8

const (
	idUniversal fieldID = iota + 1
	idName
	idDescription
	idPermissions
	idMetadata
	idExpires
	idOwner
	idRevokedAt
	idRevokedReason
)

// Equal reports whether a and b hold the same value of the field.
func (f *Field) Equal(a, b *Content) bool {
	switch f.Kind {
	case Bool:
		return f.Bool(a) == f.Bool(b)
	case Text:
		return f.Text(a) == f.Text(b)
	case JSON:
		return SameJSON(f.JSON(a), f.JSON(b))
	default:
		return SameTime(f.Time(a), f.Time(b))
	}
}

// Value is the field's value in c as a change shows it: bool, string (""
// when empty), json.RawMessage, time.Time (UTC) or nil for no time.
func (f *Field) Value(c *Content) any {
	switch f.Kind {
	case Bool:
		return f.Bool(c)
	case Text:
		return f.Text(c)
	case JSON:
		return json.RawMessage(f.JSON(c))
	default:
		return OptTime(f.Time(c))
	}
}

// Bool, Text, JSON and Time read the field's value in c: each for a
// field of its Kind only (TestFieldsCoverContent reads every field of
// Content through them).
func (f *Field) Bool(c *Content) bool {
	switch f.id {
	case idUniversal:
		return c.Universal
	}
	panic(f.misread(Bool))
}

func (f *Field) Text(c *Content) string {
	switch f.id {
	case idName:
		return c.Name
	case idDescription:
		return c.Description
	case idOwner:
		return c.Owner
	case idRevokedReason:
		return c.RevokedReason
	}
	panic(f.misread(Text))
}

func (f *Field) JSON(c *Content) []byte {
	switch f.id {
	case idPermissions:
		return c.Permissions
	case idMetadata:
		return c.Metadata
	}
	panic(f.misread(JSON))
}

func (f *Field) Time(c *Content) *time.Time {
	switch f.id {
	case idExpires:
		return c.ExpiresAt
	case idRevokedAt:
		return c.RevokedAt
	}
	panic(f.misread(Time))
}

func (f *Field) misread(k Kind) string {
	return fmt.Sprintf("keycontent: field %s (kind %d) read as kind %d", f.Name, f.Kind, k)
}

// appendDigest appends the field's encoding in the content digest.
func (f *Field) appendDigest(b []byte, c *Content) []byte {
	switch f.Kind {
	case Bool:
		return appendBool(b, f.Bool(c))
	case Text:
		return appendString(b, f.Text(c))
	case JSON:
		return appendString(b, f.JSON(c))
	default:
		return appendTime(b, f.Time(c))
	}
}

// AppendJSON appends the field's value in c as JSON: the value
// json.Marshal writes for Value's, without escaping HTML (<, >, &) and
// with control characters as \u00XX. It is the created event's fast form
// of a value: no map, no reflection, no allocation.
func (f *Field) AppendJSON(b []byte, c *Content) []byte {
	switch f.Kind {
	case Bool:
		return strconv.AppendBool(b, f.Bool(c))
	case Text:
		return AppendJSONString(b, f.Text(c))
	case JSON:
		return append(b, f.JSON(c)...)
	default:
		t := f.Time(c)
		if t == nil {
			return append(b, "null"...)
		}
		b = append(b, '"')
		return append(t.UTC().AppendFormat(b, time.RFC3339Nano), '"')
	}
}

// AppendJSONString appends s as a JSON string. s is valid UTF-8 (the spec
// checks every string, and a hint is keyprov's own).
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = fmt.Appendf(b, `\u%04x`, c)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Rule is when a new key shows a field: in its list of attributes
// (Field.Listed), in its created event (Field.Created). The zero Rule is
// none: every field states both (TestFieldsAreComplete).
type Rule uint8

// Rules.
const (
	// Never shows the field.
	Never Rule = iota + 1
	// WhenSet shows the field when c sets it (Field.IsSet).
	WhenSet
	// Always shows the field, even false, empty or absent.
	Always
)

// Shows reports whether the rule shows field f of c.
func (r Rule) Shows(f *Field, c *Content) bool {
	return r == Always || r == WhenSet && f.IsSet(c)
}

// IsSet reports whether c sets field f: true, a text not empty, JSON
// other than an empty object, a time.
func (f *Field) IsSet(c *Content) bool {
	switch f.Kind {
	case Bool:
		return f.Bool(c)
	case Text:
		return f.Text(c) != ""
	case JSON:
		return string(f.JSON(c)) != "{}"
	default:
		return f.Time(c) != nil
	}
}

// Fields are the fields of Content, in the order changes list them and
// the content digest encodes them.
var Fields = [...]Field{
	{Name: "universal", Column: "universal", Kind: Bool, Compared: true, Listed: Never, Created: Always,
		id: idUniversal},
	{Name: "name", Column: "name", Kind: Text, Compared: true, Listed: Always, Created: Always,
		id: idName},
	{Name: "description", Column: "description", Kind: Text, Compared: true, Listed: WhenSet, Created: WhenSet,
		id: idDescription},
	{Name: "permissions", Column: "permissions", Kind: JSON, Compared: true, Listed: Always, Created: Always,
		id: idPermissions},
	{Name: "metadata", Column: "metadata", Kind: JSON, Compared: true, Listed: WhenSet, Created: Always,
		id: idMetadata},
	{Name: "expires", Column: "expires_at", Kind: Time, Compared: true, Listed: WhenSet, Created: WhenSet,
		id: idExpires},
	{Name: "owner", Column: "owner", Kind: Text, Listed: Never, Created: Never,
		id: idOwner},
	{Name: "revoked_at", Column: "revoked_at", Kind: Time, Listed: Never, Created: Never,
		id: idRevokedAt},
	{Name: "revoked_reason", Column: "revoked_reason", Nullable: true, Kind: Text, Listed: Never, Created: Never,
		id: idRevokedReason},
}

// Compare lists the Compared fields that differ between before and after,
// in the order of Fields; a change of permissions lists the permission
// objects added and removed. It allocates nothing when nothing differs.
func Compare(before, after *Content) []FieldChange {
	var fs []FieldChange
	for i := range Fields {
		f := &Fields[i]
		if !f.Compared || f.Equal(before, after) {
			continue
		}
		fc := FieldChange{Field: f.Name, Before: f.Value(before), After: f.Value(after)}
		if f.Name == "permissions" {
			fc.Added, fc.Removed = setDiff(after.Permissions, before.Permissions), setDiff(before.Permissions, after.Permissions)
		}
		fs = append(fs, fc)
	}
	return fs
}

// Listed returns the Compared fields a new key with content c shows (see
// Field.Listed), with their values as After.
func Listed(c *Content) []FieldChange {
	var fs []FieldChange
	for i := range Fields {
		if f := &Fields[i]; f.Compared && f.Listed.Shows(f, c) {
			fs = append(fs, FieldChange{Field: f.Name, After: f.Value(c)})
		}
	}
	return fs
}

// Digest is the SHA-256 of c: every field of Fields, in its order.
// keyprov stores it with the content it writes, in keys.content_digest;
// migration 003 computes the same digest in SQL, and a digest must never
// change (an upgrade would rewrite every key).
//
// The encoding is a version byte, then each field in order: booleans as
// one byte, strings (JSON as its text) as a 4-byte big-endian length and
// the bytes, times as 0 (none) or 1 and PostgreSQL's 8-byte count of
// microseconds since 2000-01-01 UTC.
func Digest(c *Content) [32]byte {
	var buf [512]byte
	b := append(buf[:0], 1) // version
	for i := range Fields {
		b = Fields[i].appendDigest(b, c)
	}
	return sha256.Sum256(b)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// appendString appends a string (or JSON text) with its 4-byte length.
func appendString[T string | []byte](b []byte, s T) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, 0)
	}
	return binary.BigEndian.AppendUint64(append(b, 1), uint64(PGMicros(*t)))
}

// pgEpochUnix is PostgreSQL's timestamp epoch (2000-01-01 UTC) in Unix
// seconds.
const pgEpochUnix = 946684800

// PGMicros is t as PostgreSQL stores a timestamptz: microseconds since
// 2000-01-01 UTC, below a microsecond truncated.
func PGMicros(t time.Time) int64 {
	return t.Unix()*1_000_000 + int64(t.Nanosecond()/1000) - pgEpochUnix*1_000_000
}

// OptTime is t in UTC as a change shows it, nil for none.
func OptTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

// SameTime reports whether a and b are the same instant, or both nil.
func SameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// SameJSON compares two JSON texts. Both are normally canonical (the
// spec's, or PostgreSQL's jsonb text), so equal values are equal bytes; the
// decoded comparison guards against a value keyprov would print
// differently (e.g. a number written by hand as 1.0), so that it never
// causes an update on every run.
func SameJSON(a, b []byte) bool {
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
			if SameJSON(x, y) {
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
