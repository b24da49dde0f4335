package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/keyprov/keyprov/review"
)

// ReviewTextView renders a review for a terminal or a log: risks first,
// then the changes, then a summary line.
type ReviewTextView struct {
	Color bool
	// MaxLines bounds the lines of changes; 0 means no bound.
	MaxLines int
}

// Render implements ReviewView.
func (v *ReviewTextView) Render(w io.Writer, rr *ReviewReport) error {
	st := styles(v.Color)
	r := rr.Review
	var b strings.Builder
	writeRiskList(&b, st, r.Risks, 0, "")
	if !r.HasChanges() {
		b.WriteString("No changes: both specs declare the same keys and settings.\n")
	}
	lines := 0
	width := 0
	field := func(b *strings.Builder, name, text string) {
		fmt.Fprintf(b, "    %-*s %s\n", width, name, text)
	}
	if len(r.Settings) > 0 {
		fmt.Fprintf(&b, "%s %s\n", st.yellow("~"), st.bold("settings"))
		width = fieldWidth(r.Settings)
		for _, f := range r.Settings {
			field(&b, f.Field, reviewValue(f.Before)+" → "+reviewValue(f.After))
		}
		lines += 1 + len(r.Settings)
	}
	for i := range r.Changes {
		c := &r.Changes[i]
		var kb strings.Builder
		mark, paint := "~", st.yellow
		switch c.Kind {
		case review.Added:
			mark, paint = "+", st.green
		case review.Removed:
			mark, paint = "-", st.red
		}
		fmt.Fprintf(&kb, "%s %s %s\n", paint(mark), st.bold(c.Address.String()), st.dim("("+reviewLabel(c)+")"))
		width = fieldWidth(c.Fields)
		for _, f := range c.Fields {
			f = shownField(f)
			switch {
			case c.Kind == review.Added:
				field(&kb, f.Field, reviewValue(f.After))
			case c.Kind == review.Removed:
				field(&kb, f.Field, reviewValue(f.Before))
			case f.Field == "permissions" && len(f.Added)+len(f.Removed) > 0:
				name := "permissions"
				for _, p := range f.Added {
					field(&kb, name, st.green("+ "+string(p)))
					name = ""
				}
				for _, p := range f.Removed {
					field(&kb, name, st.red("- "+string(p)))
					name = ""
				}
			default:
				field(&kb, f.Field, reviewValue(f.Before)+" → "+reviewValue(f.After))
			}
		}
		n := strings.Count(kb.String(), "\n")
		if v.MaxLines > 0 && lines+n > v.MaxLines {
			fmt.Fprintf(&b, "%s\n", st.dim(fmt.Sprintf("… and %d more changed keys (raise --max-lines, or use -o json for every change)", len(r.Changes)-i)))
			break
		}
		lines += n
		b.WriteString(kb.String())
	}
	sum := r.Summary()
	if line := varFilesLine(rr, func(p string) string { return p }); line != "" || len(rr.Notes) > 0 {
		b.WriteString("\n")
		if line != "" {
			b.WriteString(line + "\n")
		}
		for _, n := range rr.Notes {
			fmt.Fprintf(&b, "Note: %s\n", n)
		}
	}
	fmt.Fprintf(&b, "\n%s %s → %s: %s; %s.\n", st.bold("Diff"), rr.Base, rr.Head, ReviewSummaryLine(sum), RiskSummaryLine(sum))
	_, err := io.WriteString(w, b.String())
	return err
}

// fieldWidth is the width of the field-name column of one block.
func fieldWidth(fs []review.FieldChange) int {
	w := 11 // len("permissions")
	for _, f := range fs {
		w = max(w, len(f.Field))
	}
	return w
}
