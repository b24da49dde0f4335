package view

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyprov/keyprov/internal/keycontent"
	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/store"
)

// PlanJSONVersion is the format_version of the JSON plan document. It
// changes only when a field changes meaning or disappears.
const PlanJSONVersion = "1"

// Report is what plan and apply print.
type Report struct {
	Plan *reconcile.Plan
	// Command is "plan" or "apply".
	Command string
	// Applied is true when an apply committed.
	Applied bool
	RunID   string
	// Stats are the rows written (apply).
	Stats *store.WriteStats
}

// PlanView renders a report.
type PlanView interface {
	Render(w io.Writer, r *Report) error
}

var (
	_ PlanView = (*TextView)(nil)
	_ PlanView = (*JSONView)(nil)
	_ PlanView = (*MarkdownView)(nil)
)

// NewPlanView returns the view for an -o value: text, json or markdown.
func NewPlanView(format string, color bool, maxLines int) (PlanView, error) {
	switch format {
	case "", "text":
		return &TextView{Color: color, MaxLines: maxLines}, nil
	case "json":
		return &JSONView{}, nil
	case "markdown", "md":
		return &MarkdownView{MaxRows: maxLines}, nil
	}
	return nil, fmt.Errorf("unknown output format %q: use text, json or markdown", format)
}

// marker is the one-character sign of an action.
func marker(c *reconcile.Change) string {
	switch c.Action {
	case reconcile.Create:
		return "+"
	case reconcile.Revoke:
		return "-"
	case reconcile.Blocked:
		return "!"
	case reconcile.Held:
		return "="
	case reconcile.Update:
		return "~"
	}
	return " "
}

// label names what happens to a key: "create", "update, rotate", "revoke: removed from spec"…
func label(c *reconcile.Change) string {
	var parts []string
	switch c.Action {
	case reconcile.Create:
		parts = append(parts, "create")
	case reconcile.Revoke:
		return "revoke: " + c.Reason
	case reconcile.Blocked:
		return "blocked: " + c.Reason
	case reconcile.Held:
		return "held: " + c.Reason
	case reconcile.NoOp:
		return "no change"
	}
	if c.MovedFrom != nil {
		parts = append(parts, "moved from "+c.MovedFrom.String())
	}
	if c.AdoptedFrom != "" {
		parts = append(parts, fmt.Sprintf("adopt from owner %q", c.AdoptedFrom))
	}
	fields, switched := 0, ""
	for _, f := range c.Fields {
		switch f.Field {
		case "owner":
		case reconcile.FieldDisabled:
			switched = "enable"
			if f.After == true {
				switched = "disable"
			}
		case reconcile.FieldDisabledBy:
			if len(c.Fields) == 1 {
				fields++ // who holds it changes, nothing else
			}
		default:
			fields++
		}
	}
	if c.Action == reconcile.Update && fields > 0 {
		parts = append(parts, "update")
	}
	if c.Rotated() {
		parts = append(parts, "rotate")
	} else if c.Action == reconcile.Update && c.Token != nil && !hasRevokedField(c) {
		parts = append(parts, "tokens")
	}
	if switched != "" {
		parts = append(parts, switched)
	}
	switch {
	case c.Held:
		parts = append(parts, "held: "+c.Reason)
	case c.Reason != "" && c.Action == reconcile.Update && len(parts) > 0:
		parts[len(parts)-1] += ": " + c.Reason
	}
	return strings.Join(parts, ", ")
}

func hasRevokedField(c *reconcile.Change) bool {
	for _, f := range c.Fields {
		if f.Field == "revoked" {
			return true
		}
	}
	return false
}

// display formats a field value for people.
func display(v any) string {
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		return fmt.Sprintf("%q", x)
	case bool:
		return fmt.Sprint(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case json.RawMessage:
		return Printable(string(x))
	case []string: // who holds a key disabled
		return Printable(strings.Join(x, ", "))
	}
	return Printable(fmt.Sprint(v))
}

// SummaryLine returns e.g. "2 created, 1 updated, 1 rotated, 37 unchanged"
// (past tense) or "2 to create, 1 to update, …" (future).
func SummaryLine(s reconcile.Summary, past bool) string {
	type item struct {
		n          int
		past, plan string
	}
	items := []item{
		{s.Created, "created", "to create"},
		{s.Updated, "updated", "to update"},
		{s.Rotated, "rotated", "to rotate"},
		{s.Revoked, "revoked", "to revoke"},
		{s.Disabled, "disabled", "to disable"},
		{s.Enabled, "enabled", "to enable"},
		{s.Moved, "moved", "to move"},
		{s.Adopted, "adopted", "to adopt"},
		{s.Blocked, "blocked", "blocked"},
		{s.Held, "held", "held"},
	}
	var parts []string
	for _, it := range items {
		if it.n == 0 && it.past != "created" && it.past != "updated" && it.past != "rotated" {
			continue
		}
		if past {
			parts = append(parts, fmt.Sprintf("%d %s", it.n, it.past))
		} else {
			parts = append(parts, fmt.Sprintf("%d %s", it.n, it.plan))
		}
	}
	parts = append(parts, fmt.Sprintf("%d unchanged", s.Unchanged))
	return strings.Join(parts, ", ")
}

// TextView renders plans for a terminal or a log.
type TextView struct {
	Color bool
	// MaxLines bounds the per-key lines; beyond it the plan is summarised
	// per tenant and action. 0 means no bound.
	MaxLines int
}

// Render implements PlanView.
func (v *TextView) Render(w io.Writer, r *Report) error {
	st := styles(v.Color)
	p := r.Plan
	var b strings.Builder
	changed := 0
	for i := range p.Changes {
		if p.Changes[i].Action != reconcile.NoOp {
			changed++
		}
	}
	writeRiskList(&b, st, p.Risks(), v.MaxLines, "use -o json for every risk")
	if changed == 0 {
		b.WriteString("No changes: the store matches the spec.\n")
	} else {
		lines := 0
		for i := range p.Changes {
			c := &p.Changes[i]
			if c.Action == reconcile.NoOp {
				continue
			}
			block := v.change(c, st)
			n := strings.Count(block, "\n")
			if v.MaxLines > 0 && lines+n > v.MaxLines {
				b.WriteString(st.dim(fmt.Sprintf("… %d changed keys in all; the rest is summarised (raise --max-lines, or use -o json for every change):\n", changed)))
				b.WriteString(tenantSummary(p.Changes[i:], max(v.MaxLines/2, 10)))
				break
			}
			lines += n
			b.WriteString(block)
		}
	}
	if len(p.Warnings) > 0 {
		b.WriteString("\n" + st.yellow("Warnings:") + "\n")
		for i, wn := range p.Warnings {
			if v.MaxLines > 0 && i >= v.MaxLines {
				fmt.Fprintf(&b, "  … and %d more warnings\n", len(p.Warnings)-i)
				break
			}
			fmt.Fprintf(&b, "  %s %s: %s\n", st.yellow("!"), wn.Address, wn.Message)
		}
	}
	if len(p.Refusals) > 0 {
		b.WriteString("\n" + st.red("Refused:") + "\n")
		for _, rf := range p.Refusals {
			if rf.Address != "" {
				fmt.Fprintf(&b, "  %s %s: %s\n", st.red("✗"), rf.Address, rf.Message)
			} else {
				fmt.Fprintf(&b, "  %s %s\n", st.red("✗"), rf.Message)
			}
		}
	}
	b.WriteString("\n")
	sum := p.Summary()
	switch {
	case len(p.Refusals) > 0:
		b.WriteString(st.red("Nothing was changed: the apply was refused.") + " " + SummaryLine(sum, false) + ".")
	case r.Applied:
		fmt.Fprintf(&b, "%s %s.", st.bold("Apply complete:"), SummaryLine(sum, true))
		if r.Stats != nil {
			fmt.Fprintf(&b, " %d rows written.", r.Stats.Rows())
		}
	default:
		fmt.Fprintf(&b, "%s %s.", st.bold("Plan:"), SummaryLine(sum, false))
	}
	if risks := p.RiskCounts(); len(risks) > 0 {
		b.WriteString(" " + RiskCountLine(risks) + ".")
	}
	if sum.Blocked > 0 {
		b.WriteString(" " + BlockedLine(sum.Blocked))
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// BlockedLine says what n blocked keys mean: the store does not match the
// spec until each gets a new token.
func BlockedLine(n int) string {
	if n == 1 {
		return "1 key is blocked: the store does not match the spec until the key gets a new token."
	}
	return fmt.Sprintf("%d keys are blocked: the store does not match the spec until they get new tokens.", n)
}

func (v *TextView) change(c *reconcile.Change, st style) string {
	var b strings.Builder
	paint := st.yellow
	switch c.Action {
	case reconcile.Create:
		paint = st.green
	case reconcile.Revoke, reconcile.Blocked:
		paint = st.red
	case reconcile.Held:
		paint = st.dim
	}
	l := label(c)
	if c.Universal && c.Action != reconcile.Revoke && c.Action != reconcile.Blocked && c.Action != reconcile.Held {
		l += ", universal"
	}
	// Values read back from the store (a revoked key's address, old
	// field values, hints) are escaped: a writer of the database chose them.
	fmt.Fprintf(&b, "%s %s %s\n", paint(marker(c)), st.bold(Printable(c.Address.String())), st.dim("("+Printable(l)+")"))
	field := func(name, text string) {
		fmt.Fprintf(&b, "    %-12s %s\n", name, text)
	}
	if c.Action == reconcile.Create && c.Row != nil {
		for _, f := range keycontent.Listed(&c.Row.Content) {
			field(f.Field, display(shownField(f).After))
		}
		if c.Row.Disabled.Spec {
			field("disabled", "true")
		}
	}
	for _, f := range c.Fields {
		f = shownField(f)
		switch {
		case f.Field == "permissions" && (len(f.Added) > 0 || len(f.Removed) > 0):
			first := true
			for _, a := range f.Added {
				name := ""
				if first {
					name = "permissions"
				}
				field(name, st.green("+ "+Printable(string(a))))
				first = false
			}
			for _, rm := range f.Removed {
				name := ""
				if first {
					name = "permissions"
				}
				field(name, st.red("- "+Printable(string(rm))))
				first = false
			}
		default:
			field(Printable(f.Field), display(f.Before)+" → "+display(f.After))
		}
	}
	if t := c.Token; t != nil {
		switch {
		case c.Action == reconcile.Create:
			if t.After != "" {
				field("token", Printable(t.After))
			}
		case t.Before != t.After && t.After != "":
			before := t.Before
			if before == "" {
				before = "(none)"
			}
			field("token", Printable(before+" → "+t.After))
		}
		if t.Previous != "" {
			until := ""
			if t.PreviousUntil != nil {
				until = " until " + t.PreviousUntil.UTC().Format(time.RFC3339)
			}
			field("previous", Printable(t.Previous)+" stays valid"+until)
		}
		if len(t.Retired) > 0 {
			field("retired", Printable(strings.Join(t.Retired, ", ")))
		}
	}
	return b.String()
}

// summaryActions are the actions tenantSummary counts, in its order.
var summaryActions = [...]string{"create", "update", "rotate", "revoke", "blocked"}

// actionCounts counts changes per summaryActions entry.
type actionCounts [len(summaryActions)]int

func (c *actionCounts) line() (string, int) {
	var parts []string
	total := 0
	for i, n := range c {
		if n > 0 {
			parts = append(parts, strconv.Itoa(n)+" "+summaryActions[i])
			total += n
		}
	}
	return strings.Join(parts, ", "), total
}

// tenantSummary summarises changes per action, then per tenant (the
// tenants with the most changes first, at most maxTenants of them). It
// runs on plans of 100,000 changes: counts are arrays, a plan's changes
// come in address order so a tenant's are counted as one run (no map of
// every tenant), and only the lines shown are formatted.
func tenantSummary(changes []reconcile.Change, maxTenants int) string {
	type row struct {
		tenant string
		counts actionCounts
		total  int
	}
	var (
		perAction actionCounts
		rows      []row
		inOrder   = true
	)
	for i := range changes {
		c := &changes[i]
		a := -1
		switch c.Action {
		case reconcile.NoOp:
			continue
		case reconcile.Update:
			a = 1
			if len(c.Fields) == 0 && c.Rotated() {
				a = 2
			}
		default:
			a = slices.Index(summaryActions[:], string(c.Action))
		}
		if a < 0 {
			continue
		}
		perAction[a]++
		if n := len(rows); n == 0 || rows[n-1].tenant != c.Address.Tenant {
			if n > 0 && rows[n-1].tenant > c.Address.Tenant {
				inOrder = false
			}
			rows = append(rows, row{tenant: c.Address.Tenant})
		}
		r := &rows[len(rows)-1]
		r.counts[a]++
		r.total++
	}
	if !inOrder {
		// Not in address order (a caller's own plan): merge each tenant's runs.
		slices.SortStableFunc(rows, func(x, y row) int { return strings.Compare(x.tenant, y.tenant) })
		merged := rows[:0]
		for _, r := range rows {
			if n := len(merged); n > 0 && merged[n-1].tenant == r.tenant {
				for i, k := range r.counts {
					merged[n-1].counts[i] += k
				}
				merged[n-1].total += r.total
				continue
			}
			merged = append(merged, r)
		}
		rows = merged
	}
	var b strings.Builder
	all, _ := perAction.line()
	fmt.Fprintf(&b, "  not shown: %s\n", all)
	slices.SortFunc(rows, func(x, y row) int {
		if x.total != y.total {
			return y.total - x.total
		}
		return strings.Compare(x.tenant, y.tenant)
	})
	for i := range rows {
		if maxTenants > 0 && i >= maxTenants {
			fmt.Fprintf(&b, "  … and %d more tenants\n", len(rows)-i)
			break
		}
		text, _ := rows[i].counts.line()
		fmt.Fprintf(&b, "  %s: %s\n", rows[i].tenant, text)
	}
	return b.String()
}
