package view

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keyprov/keyprov/internal/keycontent"
	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/store"
)

// JSONView renders the documented, versioned JSON plan (see README).
type JSONView struct{}

// PlanDocument is the JSON form of a plan or apply. Unchanged keys are
// counted, not listed; every change is listed, however many there are.
type PlanDocument struct {
	FormatVersion string        `json:"format_version"`
	Command       string        `json:"command"`
	Owner         string        `json:"owner"`
	Prune         bool          `json:"prune"`
	PruneMode     string        `json:"prune_mode"`
	ComputedAt    string        `json:"computed_at"`
	Applied       bool          `json:"applied"`
	Refused       bool          `json:"refused"`
	RunID         string        `json:"run_id,omitempty"`
	RowsWritten   *int64        `json:"rows_written,omitempty"`
	Summary       JSONSummary   `json:"summary"`
	Changes       []JSONChange  `json:"changes"`
	Warnings      []JSONWarning `json:"warnings"`
	Refusals      []JSONRefusal `json:"refusals"`
}

// JSONSummary counts changes by kind.
type JSONSummary struct {
	Create    int `json:"create"`
	Update    int `json:"update"`
	Rotate    int `json:"rotate"`
	Revoke    int `json:"revoke"`
	Move      int `json:"move"`
	Adopt     int `json:"adopt"`
	Blocked   int `json:"blocked"`
	Disable   int `json:"disable"`
	Enable    int `json:"enable"`
	Held      int `json:"held"`
	Unchanged int `json:"unchanged"`
	// Risks counts the changes' risks per severity (every severity
	// present), as keyprov diff does; MaxSeverity is the worst, "" without.
	Risks       map[string]int `json:"risks"`
	MaxSeverity string         `json:"max_severity"`
}

// JSONChange is one changed key.
type JSONChange struct {
	Address     string       `json:"address"`
	Tenant      string       `json:"tenant"`
	Slug        string       `json:"slug"`
	Action      string       `json:"action"`
	Universal   bool         `json:"universal"`
	MovedFrom   string       `json:"moved_from,omitempty"`
	AdoptedFrom string       `json:"adopted_from,omitempty"`
	Reason      string       `json:"reason,omitempty"`
	Held        bool         `json:"held,omitempty"`
	Fields      []JSONField  `json:"fields"`
	Token       *JSONToken   `json:"token,omitempty"`
	Create      *JSONCreated `json:"create,omitempty"`
	// Risks are the change's risk flags, most severe first.
	Risks []JSONRisk `json:"risks"`
}

// JSONCreated is the content of a key to create: every field a new key
// may list (keycontent.Fields whose Listed rule is not Never), in the
// table's order and always present (an empty description as "", no
// expiry as null), then whether the key is created revoked and disabled.
// Its universality is the change's (JSONChange.Universal).
type JSONCreated struct {
	Fields   []JSONValue
	Revoked  bool
	Disabled bool
}

// JSONValue is a field's value in a JSON document: a value encoding/json
// writes (a decoded document holds json.RawMessage).
type JSONValue struct {
	Field string
	Value any
}

// createdJSON is the JSONCreated of a key to create with content c.
func createdJSON(r *store.KeyRow) *JSONCreated {
	jc := &JSONCreated{Revoked: r.RevokedAt != nil, Disabled: r.Disabled.Spec}
	for i := range keycontent.Fields {
		if f := &keycontent.Fields[i]; f.Listed != keycontent.Never {
			v := shownField(keycontent.FieldChange{Field: f.Name, After: f.Value(&r.Content)}).After
			jc.Fields = append(jc.Fields, JSONValue{Field: f.Name, Value: jsonAny(v)})
		}
	}
	return jc
}

// MarshalJSON writes the fields as members, in their order, then revoked
// and disabled. Like the document, it does not escape HTML.
func (c JSONCreated) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	b.WriteByte('{')
	for _, v := range c.Fields {
		if err := enc.Encode(v.Field); err != nil {
			return nil, err
		}
		b.WriteByte(':')
		if err := enc.Encode(v.Value); err != nil {
			return nil, err
		}
		b.WriteByte(',')
	}
	fmt.Fprintf(&b, `"revoked":%t,"disabled":%t}`, c.Revoked, c.Disabled)
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON writes: the members named by a
// field a new key may list, in the order of keycontent.Fields, each value
// as json.RawMessage.
func (c *JSONCreated) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*c = JSONCreated{}
	for i := range keycontent.Fields {
		f := &keycontent.Fields[i]
		if v, ok := m[f.Name]; ok && f.Listed != keycontent.Never {
			c.Fields = append(c.Fields, JSONValue{Field: f.Name, Value: v})
		}
	}
	for name, dst := range map[string]*bool{"revoked": &c.Revoked, "disabled": &c.Disabled} {
		if v, ok := m[name]; ok {
			if err := json.Unmarshal(v, dst); err != nil {
				return fmt.Errorf("create.%s: %w", name, err)
			}
		}
	}
	return nil
}

// JSONField is one changed attribute; before and after are JSON values
// (null when absent).
type JSONField struct {
	Field   string            `json:"field"`
	Before  any               `json:"before"`
	After   any               `json:"after"`
	Added   []json.RawMessage `json:"added,omitempty"`
	Removed []json.RawMessage `json:"removed,omitempty"`
}

// JSONToken describes a token change by hints.
// Before and After are null when there is no active token.
type JSONToken struct {
	Before        *string  `json:"before"`
	After         *string  `json:"after"`
	Rotated       bool     `json:"rotated"`
	Previous      string   `json:"previous,omitempty"`
	PreviousUntil *string  `json:"previous_until,omitempty"`
	Retired       []string `json:"retired,omitempty"`
}

// JSONWarning is a warning.
type JSONWarning struct {
	Address string `json:"address,omitempty"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// JSONRefusal is a reason the apply was refused.
type JSONRefusal struct {
	Address string `json:"address,omitempty"`
	Message string `json:"message"`
}

func jsonAny(v any) any {
	if t, ok := v.(time.Time); ok {
		return t.UTC().Format(time.RFC3339Nano)
	}
	return v
}

func timeString(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

func hintOrNull(h string) *string {
	if h == "" {
		return nil
	}
	return &h
}

// Document builds the JSON document of a report.
func Document(r *Report) PlanDocument {
	p := r.Plan
	s := p.Summary()
	doc := PlanDocument{
		FormatVersion: PlanJSONVersion, Command: r.Command, Owner: p.Owner, Prune: p.Prune,
		ComputedAt: p.Now.UTC().Format(time.RFC3339Nano), Applied: r.Applied, Refused: len(p.Refusals) > 0, RunID: r.RunID,
		Summary: JSONSummary{Create: s.Created, Update: s.Updated, Rotate: s.Rotated, Revoke: s.Revoked,
			Move: s.Moved, Adopt: s.Adopted, Blocked: s.Blocked, Unchanged: s.Unchanged,
			Disable: s.Disabled, Enable: s.Enabled, Held: s.Held},
		Changes: []JSONChange{}, Warnings: []JSONWarning{}, Refusals: []JSONRefusal{},
	}
	doc.Summary.Risks, doc.Summary.MaxSeverity = jsonRiskCounts(p.RiskCounts())
	switch {
	case p.Prune && p.PruneRevoke:
		doc.PruneMode = "revoke"
	case p.Prune:
		doc.PruneMode = "disable"
	}
	if r.Stats != nil {
		n := r.Stats.Rows()
		doc.RowsWritten = &n
	}
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Action == reconcile.NoOp {
			continue
		}
		jc := JSONChange{Address: c.Address.String(), Tenant: c.Address.Tenant, Slug: c.Address.Slug,
			Action: string(c.Action), Universal: c.Universal, AdoptedFrom: c.AdoptedFrom, Reason: c.Reason, Held: c.Held, Fields: []JSONField{},
			Risks: jsonRisks(c.Risks)}
		if c.MovedFrom != nil {
			jc.MovedFrom = c.MovedFrom.String()
		}
		jc.Fields = reviewFields(c.Fields)
		if t := c.Token; t != nil {
			jc.Token = &JSONToken{Before: hintOrNull(t.Before), After: hintOrNull(t.After), Rotated: c.Rotated(), Previous: t.Previous,
				PreviousUntil: timeString(t.PreviousUntil), Retired: t.Retired}
		}
		if c.Action == reconcile.Create && c.Row != nil {
			jc.Create = createdJSON(c.Row)
		}
		doc.Changes = append(doc.Changes, jc)
	}
	for _, w := range p.Warnings {
		doc.Warnings = append(doc.Warnings, JSONWarning(w))
	}
	for _, rf := range p.Refusals {
		doc.Refusals = append(doc.Refusals, JSONRefusal(rf))
	}
	return doc
}

// Render implements PlanView.
func (JSONView) Render(w io.Writer, r *Report) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// The document is read by tools and people, never embedded in HTML:
	// keep "<" and ">" in descriptions as they are. Values read back from
	// the store may hold controls that encoding/json writes as they are.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Document(r)); err != nil {
		return err
	}
	_, err := w.Write(PrintableJSON(buf.Bytes()))
	return err
}

// MarkdownView renders a plan as a pull-request comment: a summary line and
// a table of changes.
type MarkdownView struct {
	// MaxRows bounds the table; 0 means no bound.
	MaxRows int
}

// Render implements PlanView.
func (v MarkdownView) Render(w io.Writer, r *Report) error {
	p := r.Plan
	var b strings.Builder
	title := "keyprov plan"
	if r.Command == "apply" {
		title = "keyprov apply"
	}
	sum := SummaryLine(p.Summary(), r.Applied)
	if risks := p.RiskCounts(); len(risks) > 0 {
		sum += " · " + RiskCountLine(risks)
	}
	if n := p.Summary().Blocked; n > 0 {
		sum += " · " + BlockedLine(n)
	}
	fmt.Fprintf(&b, "### %s for owner `%s`\n\n**%s**\n\n", title, mdCode(p.Owner), sum)
	if len(p.Refusals) > 0 {
		b.WriteString("> [!CAUTION]\n> The apply is refused; nothing is written:\n")
		for _, rf := range p.Refusals {
			if rf.Address != "" {
				fmt.Fprintf(&b, "> - `%s`: %s\n", mdCode(rf.Address), mdText(rf.Message))
			} else {
				fmt.Fprintf(&b, "> - %s\n", mdText(rf.Message))
			}
		}
		b.WriteString("\n")
	}
	intro := "review these changes before applying."
	if r.Applied {
		intro = "these changes were applied."
	}
	writeMDRisks(&b, p.Risks(), intro, v.MaxRows, "see `"+title+" -o json`")
	rows := 0
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Action == reconcile.NoOp {
			continue
		}
		if rows == 0 {
			b.WriteString("| | Key | Change | Details |\n|---|---|---|---|\n")
		}
		if v.MaxRows > 0 && rows >= v.MaxRows {
			fmt.Fprintf(&b, "| | … | | %d more changes (see `keyprov plan -o json`) |\n", countChanged(p)-rows)
			break
		}
		rows++
		l := label(c)
		if c.Universal && c.Action != reconcile.Revoke && c.Action != reconcile.Blocked && c.Action != reconcile.Held {
			l += ", universal" // as the text view: the kind matters when a key reaches every tenant
		}
		mark := mdMarker(c)
		if len(c.Risks) > 0 {
			mark += " ⚠️"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", mark, mdCode(c.Address.String()), mdText(l), mdDetails(c))
	}
	if rows == 0 {
		b.WriteString("No changes: the store matches the spec.\n")
	}
	if len(p.Warnings) > 0 {
		b.WriteString("\n**Warnings**\n\n")
		for _, wn := range p.Warnings {
			fmt.Fprintf(&b, "- ⚠️ `%s`: %s\n", mdCode(wn.Address), mdText(wn.Message))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func countChanged(p *reconcile.Plan) int {
	n := 0
	for i := range p.Changes {
		if p.Changes[i].Action != reconcile.NoOp {
			n++
		}
	}
	return n
}

func mdMarker(c *reconcile.Change) string {
	switch c.Action {
	case reconcile.Create:
		return "➕"
	case reconcile.Revoke:
		return "➖"
	case reconcile.Blocked:
		return "⛔"
	case reconcile.Held:
		return "⏸️"
	}
	return "✏️"
}

// mdCellLeavesOut reports whether a new key's cell in the Markdown table
// leaves out a field its text lists: the description and metadata, free
// text that would make a row of the table long.
func mdCellLeavesOut(field string) bool {
	return field == "description" || field == "metadata"
}

func mdDetails(c *reconcile.Change) string {
	var parts []string
	if c.Action == reconcile.Create && c.Row != nil {
		for _, f := range keycontent.Listed(&c.Row.Content) {
			if mdCellLeavesOut(f.Field) {
				continue
			}
			switch v := shownField(f).After.(type) {
			case json.RawMessage:
				parts = append(parts, f.Field+" `"+mdCode(string(v))+"`")
			default:
				parts = append(parts, f.Field+" "+mdText(display(v)))
			}
		}
	}
	for _, f := range c.Fields {
		f = shownField(f)
		switch {
		case f.Field == "permissions" && (len(f.Added) > 0 || len(f.Removed) > 0):
			for _, a := range f.Added {
				parts = append(parts, "permission added `"+mdCode(string(a))+"`")
			}
			for _, rm := range f.Removed {
				parts = append(parts, "permission removed `"+mdCode(string(rm))+"`")
			}
		default:
			parts = append(parts, f.Field+" "+mdText(display(f.Before))+" → "+mdText(display(f.After)))
		}
	}
	if t := c.Token; t != nil && t.After != "" && c.Action == reconcile.Create {
		parts = append(parts, "token `"+mdCode(t.After)+"`")
	} else if t != nil && t.After != "" && t.Before != t.After {
		before := t.Before
		if before == "" {
			before = "(none)"
		}
		parts = append(parts, "token `"+mdCode(before)+"` → `"+mdCode(t.After)+"`")
	}
	if t := c.Token; t != nil && t.Previous != "" && t.PreviousUntil != nil {
		parts = append(parts, "previous `"+mdCode(t.Previous)+"` valid until "+t.PreviousUntil.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, "<br>")
}

// mdText escapes text for a Markdown table cell.
func mdText(s string) string {
	r := strings.NewReplacer("|", "\\|", "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;", "`", "\\`", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]")
	return r.Replace(Printable(s))
}

// mdCode makes s safe inside a code span in a table cell.
func mdCode(s string) string {
	return strings.NewReplacer("`", "'", "|", "\\|", "\n", " ", "\r", " ").Replace(Printable(s))
}
