package view

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/keyprov/keyprov/review"
)

// ReviewCommentMarker starts every Markdown review, so that a bot can find
// its earlier comment on a pull request and update it.
const ReviewCommentMarker = "<!-- keyprov-diff -->"

// ReviewMarkdownView renders a review as a pull-request comment: a summary
// line, the risks (each with a severity marker), then a table of changes.
type ReviewMarkdownView struct {
	// MaxRows bounds the risks listed and the table's rows; 0 means no bound.
	MaxRows int
}

// Render implements ReviewView.
func (v ReviewMarkdownView) Render(w io.Writer, rr *ReviewReport) error {
	r := rr.Review
	sum := r.Summary()
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n### keyprov diff: `%s` → `%s`\n\n**%s · %s**\n\n",
		ReviewCommentMarker, mdCode(rr.Base), mdCode(rr.Head), ReviewSummaryLine(sum), RiskSummaryLine(sum))
	if line := varFilesLine(rr, func(p string) string { return "`" + mdCode(p) + "`" }); line != "" {
		b.WriteString(line + "\n\n")
	}
	for _, n := range rr.Notes {
		b.WriteString("> [!NOTE]\n> " + mdText(n) + "\n\n")
	}

	writeMDRisks(&b, r.Risks, "review these changes before approving.", v.MaxRows, "see `keyprov diff -o json`")

	if !r.HasChanges() {
		b.WriteString("No changes: both specs declare the same keys and settings.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("| | Key | Change | Details |\n|---|---|---|---|\n")
	rows := 0
	if len(r.Settings) > 0 {
		var parts []string
		for _, f := range r.Settings {
			parts = append(parts, f.Field+" "+mdValue(f.Before)+" → "+mdValue(f.After))
		}
		fmt.Fprintf(&b, "| ✏️ | settings | changed | %s |\n", strings.Join(parts, "<br>"))
		rows++
	}
	flagged := risky(r)
	for i := range r.Changes {
		c := &r.Changes[i]
		if v.MaxRows > 0 && rows >= v.MaxRows {
			fmt.Fprintf(&b, "| | … | | %d more changes (see `keyprov diff -o json`) |\n", len(r.Changes)-i)
			break
		}
		rows++
		mark := reviewMDMarker(c.Kind)
		if flagged[c.Address.String()] {
			mark += " ⚠️"
		}
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s |\n", mark, mdCode(c.Address.String()), mdText(reviewLabel(c)), reviewMDDetails(c))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func reviewMDMarker(k review.Kind) string {
	switch k {
	case review.Added:
		return "➕"
	case review.Removed:
		return "➖"
	case review.Moved:
		return "🔀"
	}
	return "✏️"
}

func reviewMDDetails(c *review.Change) string {
	var parts []string
	for _, f := range c.Fields {
		f = shownField(f)
		switch {
		case c.Kind == review.Added:
			parts = append(parts, f.Field+" "+mdValue(f.After))
		case c.Kind == review.Removed:
			parts = append(parts, f.Field+" "+mdValue(f.Before))
		case f.Field == "permissions" && len(f.Added)+len(f.Removed) > 0:
			for _, p := range f.Added {
				parts = append(parts, "permission added `"+mdCode(string(p))+"`")
			}
			for _, p := range f.Removed {
				parts = append(parts, "permission removed `"+mdCode(string(p))+"`")
			}
		default:
			parts = append(parts, f.Field+" "+mdValue(f.Before)+" → "+mdValue(f.After))
		}
	}
	return strings.Join(parts, "<br>")
}

// mdValue formats a field value for a table cell: JSON, lists and token
// sources as code, the rest as escaped text.
func mdValue(v any) string {
	switch v.(type) {
	case json.RawMessage, review.Sources, []string:
		return "`" + mdCode(reviewValue(v)) + "`"
	}
	return mdText(reviewValue(v))
}
