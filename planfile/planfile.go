// Package planfile reads and writes saved plans (keyprov plan -out FILE):
// a plan as reviewed, with everything an apply needs to execute it
// without the spec or any secret, and the state of the store it was
// computed against, so that it is applied to that state only.
//
// A saved plan holds what a plan shows and what an apply writes: the
// keys' content, the digests and hints of tokens, never a token. The
// format is JSON, versioned by format_version; the plan itself is
// reconcile.Plan field by field (Go's names), so that a field a plan
// gains is saved with it, and a value the format cannot carry is an
// error when the plan is saved, never lost.
package planfile

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/google/uuid"
	"io"
	"time"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/review"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/token"
)

// Format names the document; FormatVersion is its version, changed when
// a field changes meaning or disappears. A reader refuses any other.
const (
	Format        = "keyprov-plan"
	FormatVersion = 1
)

// ErrFormat: the file is not a saved plan this keyprov can read.
var ErrFormat = errors.New("planfile: not a saved plan this keyprov reads")

// File is a saved plan.
type File struct {
	// Keyprov is the version of the keyprov that made the plan, and
	// SchemaVersion the version of the store's schema it was made for.
	Keyprov       string
	SchemaVersion int32
	// RunID is the plan's run id (in its log line).
	RunID string
	// InputDigest is the input digest of the run that made the plan
	// (package inputs), hexadecimal: the spec, its inputs, the settings
	// and the build.
	InputDigest string
	// Store is the store's position the plan was computed against: apply
	// refuses a store at any other (StoreID empty: keyprov's schema did not
	// exist, and the store must still be empty).
	Store store.Position
	// StoreInputDigest is the input digest the store recorded for the
	// plan's owner at that moment (hexadecimal; empty for none): which
	// inputs the store was last settled by.
	StoreInputDigest string
	// Record is the input record that applying the plan leaves (nil when
	// the plan does not settle the store): the next boot with the same
	// inputs answers from it.
	Record *store.InputRecord
	Plan   *reconcile.Plan
}

// document is the JSON form of a File.
type document struct {
	Format        string      `json:"format"`
	FormatVersion int         `json:"format_version"`
	Keyprov       string      `json:"keyprov"`
	SchemaVersion int32       `json:"schema_version"`
	RunID         string      `json:"run_id"`
	ComputedAt    time.Time   `json:"computed_at"`
	InputDigest   string      `json:"input_digest"`
	Store         storeState  `json:"store"`
	Record        *wireRecord `json:"record"`
	Plan          *wirePlan   `json:"plan"`
}

type storeState struct {
	ID            string `json:"id"`
	ChangeCounter int64  `json:"change_counter"`
	InputDigest   string `json:"input_digest"`
}

type wireRecord struct {
	Owner      string          `json:"owner"`
	Digest     string          `json:"digest"`
	ValidUntil *time.Time      `json:"valid_until"`
	Names      json.RawMessage `json:"names"`
	Plan       json.RawMessage `json:"plan"`
}

// wirePlan is reconcile.Plan with the changes in their saved form.
type wirePlan struct {
	reconcile.Plan
	Changes []wireChange `json:"Changes"`
}

// wireChange is reconcile.Change with the fields JSON cannot carry as
// they are in their saved form: values of any type, severities, rows and
// token digests.
type wireChange struct {
	reconcile.Change
	Fields       []wireField       `json:"Fields"`
	Risks        []wireRisk        `json:"Risks"`
	Row          *wireRow          `json:"Row"`
	NewTokens    []wireNewToken    `json:"NewTokens"`
	TokenUpdates []wireTokenUpdate `json:"TokenUpdates"`
}

// wireField is a changed field. JSON values (permissions, metadata) are
// kept as text, byte for byte: the content digest of a key is computed
// from their bytes.
type wireField struct {
	Field   string     `json:"Field"`
	Before  typedValue `json:"Before"`
	After   typedValue `json:"After"`
	Added   []string   `json:"Added,omitempty"`
	Removed []string   `json:"Removed,omitempty"`
}

// typedValue is a field's value with its type: review.FieldChange's
// values are string, bool, time.Time, json.RawMessage (saved as its text),
// []string or nil.
type typedValue struct {
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value,omitempty"`
}

type wireRisk struct {
	review.Risk
	Severity string `json:"Severity"`
}

// wireRow is a key row with its JSON columns as their text, byte for
// byte (nil when unset), and its disabled state as the three columns an
// apply writes (a row's Disabled.Operator is never set).
type wireRow struct {
	store.KeyRow
	Disabled      *struct{}  `json:"Disabled,omitempty"` // hides KeyRow.Disabled: always nil
	DisabledAt    *time.Time `json:"DisabledAt"`
	DisabledSpec  bool       `json:"DisabledSpec"`
	DisabledPrune bool       `json:"DisabledPrune"`
	Permissions   *string    `json:"Permissions"`
	Metadata      *string    `json:"Metadata"`
}

type wireNewToken struct {
	store.NewToken
	Digest string `json:"Digest"`
}

type wireTokenUpdate struct {
	store.TokenUpdate
	Digest string `json:"Digest"`
}

// Write writes f as JSON.
func Write(w io.Writer, f *File) error {
	doc := document{Format: Format, FormatVersion: FormatVersion, Keyprov: f.Keyprov, SchemaVersion: f.SchemaVersion,
		RunID: f.RunID, ComputedAt: f.Plan.Now.UTC(), InputDigest: f.InputDigest,
		Store: storeState{ID: f.Store.StoreID, ChangeCounter: f.Store.Counter, InputDigest: f.StoreInputDigest}}
	if r := f.Record; r != nil {
		doc.Record = &wireRecord{Owner: r.Owner, Digest: hex.EncodeToString(r.Digest), ValidUntil: r.ValidUntil, Names: r.Names, Plan: r.Plan}
	}
	p, err := encodePlan(f.Plan)
	if err != nil {
		return err
	}
	doc.Plan = p
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(&doc)
}

// Read reads a saved plan.
func Read(r io.Reader) (*File, error) {
	var head struct {
		Format        string `json:"format"`
		FormatVersion int    `json:"format_version"`
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if head.Format != Format {
		return nil, fmt.Errorf("%w: no \"format\": %q", ErrFormat, Format)
	}
	if head.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%w: format_version %d, this keyprov reads %d", ErrFormat, head.FormatVersion, FormatVersion)
	}
	var doc document
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if doc.Plan == nil {
		return nil, fmt.Errorf("%w: no plan", ErrFormat)
	}
	// The store's id is a UUID that keyprov wrote (keyprov.changes.store_id);
	// anything else was not written by keyprov, and is not shown.
	if id := doc.Store.ID; id != "" {
		if _, err := uuid.Parse(id); err != nil {
			return nil, fmt.Errorf("%w: the store id is not a UUID", ErrFormat)
		}
	}
	f := &File{Keyprov: doc.Keyprov, SchemaVersion: doc.SchemaVersion, RunID: doc.RunID, InputDigest: doc.InputDigest,
		Store: store.Position{StoreID: doc.Store.ID, Counter: doc.Store.ChangeCounter}, StoreInputDigest: doc.Store.InputDigest}
	if r := doc.Record; r != nil {
		d, err := hex.DecodeString(r.Digest)
		if err != nil {
			return nil, fmt.Errorf("%w: record digest: %w", ErrFormat, err)
		}
		f.Record = &store.InputRecord{Owner: r.Owner, Digest: d, ValidUntil: r.ValidUntil, Names: compact(r.Names), Plan: compact(r.Plan),
			Keyprov: doc.Keyprov}
	}
	if f.Plan, err = decodePlan(doc.Plan); err != nil {
		return nil, err
	}
	f.Plan.Now = doc.ComputedAt
	return f, nil
}

// compact is m without the indentation of the file.
func compact(m json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, m) != nil {
		return m
	}
	return b.Bytes()
}

func encodePlan(p *reconcile.Plan) (*wirePlan, error) {
	w := &wirePlan{Plan: *p}
	w.Plan.Changes = nil
	w.Changes = make([]wireChange, 0, len(p.Changes))
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Action == reconcile.NoOp {
			// Unchanged keys are counted, not listed.
			w.Unlisted++
			continue
		}
		wc := wireChange{Change: *c}
		wc.Change.Fields, wc.Change.Risks, wc.Change.Row, wc.Change.NewTokens, wc.Change.TokenUpdates = nil, nil, nil, nil, nil
		for _, f := range c.Fields {
			before, err := encodeValue(f.Before)
			if err != nil {
				return nil, fmt.Errorf("saving the plan: %s %s: %w", c.Address, f.Field, err)
			}
			after, err := encodeValue(f.After)
			if err != nil {
				return nil, fmt.Errorf("saving the plan: %s %s: %w", c.Address, f.Field, err)
			}
			wc.Fields = append(wc.Fields, wireField{Field: f.Field, Before: before, After: after, Added: texts(f.Added), Removed: texts(f.Removed)})
		}
		for _, r := range c.Risks {
			wc.Risks = append(wc.Risks, wireRisk{Risk: r, Severity: r.Severity.String()})
		}
		if c.Row != nil {
			if c.Row.Disabled.Operator != nil {
				return nil, fmt.Errorf("saving the plan: %s: a row to write holds an operator's disable, which no apply writes", c.Address)
			}
			wc.Row = &wireRow{KeyRow: *c.Row, Permissions: text(c.Row.Permissions), Metadata: text(c.Row.Metadata),
				DisabledAt: c.Row.Disabled.At, DisabledSpec: c.Row.Disabled.Spec, DisabledPrune: c.Row.Disabled.Prune}
			wc.Row.KeyRow.Permissions, wc.Row.KeyRow.Metadata = nil, nil
		}
		for _, t := range c.NewTokens {
			wc.NewTokens = append(wc.NewTokens, wireNewToken{NewToken: t, Digest: t.Digest.Hex()})
		}
		for _, t := range c.TokenUpdates {
			wc.TokenUpdates = append(wc.TokenUpdates, wireTokenUpdate{TokenUpdate: t, Digest: t.Digest.Hex()})
		}
		w.Changes = append(w.Changes, wc)
	}
	return w, nil
}

// text is a JSON column as its text (nil when unset).
func text(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	return &s
}

func texts(ms []json.RawMessage) []string {
	if ms == nil {
		return nil
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m)
	}
	return out
}

func raws(ss []string) []json.RawMessage {
	if ss == nil {
		return nil
	}
	out := make([]json.RawMessage, len(ss))
	for i, s := range ss {
		out[i] = json.RawMessage(s)
	}
	return out
}

func decodePlan(w *wirePlan) (*reconcile.Plan, error) {
	p := w.Plan
	p.Changes = make([]reconcile.Change, 0, len(w.Changes))
	for _, wc := range w.Changes {
		c := wc.Change
		for _, f := range wc.Fields {
			before, err := decodeValue(f.Before)
			if err != nil {
				return nil, fmt.Errorf("%w: %s %s: %w", ErrFormat, c.Address, f.Field, err)
			}
			after, err := decodeValue(f.After)
			if err != nil {
				return nil, fmt.Errorf("%w: %s %s: %w", ErrFormat, c.Address, f.Field, err)
			}
			c.Fields = append(c.Fields, reconcile.FieldChange{Field: f.Field, Before: before, After: after, Added: raws(f.Added), Removed: raws(f.Removed)})
		}
		for _, r := range wc.Risks {
			sev, err := review.ParseSeverity(r.Severity)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrFormat, c.Address, err)
			}
			rk := r.Risk
			rk.Severity = sev
			c.Risks = append(c.Risks, rk)
		}
		if wc.Row != nil {
			row := wc.Row.KeyRow
			row.Permissions, row.Metadata = bytesOf(wc.Row.Permissions), bytesOf(wc.Row.Metadata)
			row.Disabled = store.Disabled{At: wc.Row.DisabledAt, Spec: wc.Row.DisabledSpec, Prune: wc.Row.DisabledPrune}
			c.Row = &row
		}
		for _, t := range wc.NewTokens {
			nt := t.NewToken
			if err := decodeDigest(t.Digest, &nt.Digest); err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrFormat, c.Address, err)
			}
			c.NewTokens = append(c.NewTokens, nt)
		}
		for _, t := range wc.TokenUpdates {
			tu := t.TokenUpdate
			if err := decodeDigest(t.Digest, &tu.Digest); err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrFormat, c.Address, err)
			}
			c.TokenUpdates = append(c.TokenUpdates, tu)
		}
		p.Changes = append(p.Changes, c)
	}
	return &p, nil
}

func bytesOf(s *string) []byte {
	if s == nil {
		return nil
	}
	return []byte(*s)
}

func decodeDigest(s string, d *token.Digest) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(d) {
		return fmt.Errorf("invalid token digest %q", s)
	}
	copy(d[:], b)
	return nil
}

func encodeValue(v any) (typedValue, error) {
	var typ string
	switch v.(type) {
	case nil:
		return typedValue{Type: "null"}, nil
	case string:
		typ = "string"
	case bool:
		typ = "bool"
	case time.Time:
		typ = "time"
	case json.RawMessage:
		b, err := json.Marshal(string(v.(json.RawMessage)))
		return typedValue{Type: "json", Value: b}, err
	case []string:
		typ = "strings"
	default:
		return typedValue{}, fmt.Errorf("a value of type %T cannot be saved", v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return typedValue{}, err
	}
	return typedValue{Type: typ, Value: b}, nil
}

func decodeValue(t typedValue) (any, error) {
	var err error
	switch t.Type {
	case "null":
		return nil, nil
	case "string":
		var s string
		err = json.Unmarshal(t.Value, &s)
		return s, err
	case "bool":
		var b bool
		err = json.Unmarshal(t.Value, &b)
		return b, err
	case "time":
		var tm time.Time
		err = json.Unmarshal(t.Value, &tm)
		return tm, err
	case "json":
		var s string
		err = json.Unmarshal(t.Value, &s)
		return json.RawMessage(s), err
	case "strings":
		var ss []string
		err = json.Unmarshal(t.Value, &ss)
		return ss, err
	}
	return nil, fmt.Errorf("a value of unknown type %q", t.Type)
}
