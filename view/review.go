package view

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/keyprov/keyprov/review"
)

// ReviewReport is what keyprov diff prints: a review and the labels of
// the two compared specs.
type ReviewReport struct {
	Review *review.Review
	// Base and Head name the compared specs as given on the command line,
	// e.g. "git:origin/main" and "keys.hcl". Display only.
	Base, Head string
	// BaseVarFiles and HeadVarFiles are the variable files each side was
	// evaluated with, as given on the command line. Display only.
	BaseVarFiles, HeadVarFiles []string
	// Notes are remarks on how the sides were read, e.g. a variable file
	// that does not exist at a revision. Display only.
	Notes []string
}

// varFilesLine returns e.g. "Variable files: BASE tenants.json; HEAD
// tenants.json, extra.tfvars", or "" when neither side has any; code
// formats each path.
func varFilesLine(rr *ReviewReport, code func(string) string) string {
	if len(rr.BaseVarFiles)+len(rr.HeadVarFiles) == 0 {
		return ""
	}
	list := func(paths []string) string {
		if len(paths) == 0 {
			return "(none)"
		}
		out := make([]string, len(paths))
		for i, p := range paths {
			out[i] = code(p)
		}
		return strings.Join(out, ", ")
	}
	return "Variable files: BASE " + list(rr.BaseVarFiles) + "; HEAD " + list(rr.HeadVarFiles)
}

// ReviewView renders a review.
type ReviewView interface {
	Render(w io.Writer, r *ReviewReport) error
}

var (
	_ ReviewView = (*ReviewTextView)(nil)
	_ ReviewView = (*ReviewJSONView)(nil)
	_ ReviewView = (*ReviewMarkdownView)(nil)
)

// NewReviewView returns the view for an -o value: text, json or markdown.
// maxLines bounds the text output's lines and the Markdown table's rows (0:
// no bound); JSON always lists everything.
func NewReviewView(format string, color bool, maxLines int) (ReviewView, error) {
	switch format {
	case "", "text":
		return &ReviewTextView{Color: color, MaxLines: maxLines}, nil
	case "json":
		return &ReviewJSONView{}, nil
	case "markdown", "md":
		return &ReviewMarkdownView{MaxRows: maxLines}, nil
	}
	return nil, fmt.Errorf("unknown output format %q: use text, json or markdown", format)
}

// ReviewSummaryLine returns e.g. "1 added, 0 removed, 0 moved, 2 changed,
// 5 unchanged, 1 setting changed" (the settings part only when some changed).
func ReviewSummaryLine(s review.Summary) string {
	line := fmt.Sprintf("%d added, %d removed, %d moved, %d changed, %d unchanged", s.Added, s.Removed, s.Moved, s.Changed, s.Unchanged)
	switch s.Settings {
	case 0:
	case 1:
		line += ", 1 setting changed"
	default:
		line += fmt.Sprintf(", %d settings changed", s.Settings)
	}
	return line
}

// RiskSummaryLine returns e.g. "3 risks (1 critical, 2 high)" or "no risks".
func RiskSummaryLine(s review.Summary) string { return RiskCountLine(s.Risks) }

// reviewLabel names what happened to a key, e.g. "moved from acme/web, universal key".
func reviewLabel(c *review.Change) string {
	kind := "tenant key"
	if c.Universal {
		kind = "universal key"
	}
	if c.Kind == review.Moved && c.MovedFrom != nil {
		return "moved from " + c.MovedFrom.String() + ", " + kind
	}
	return string(c.Kind) + ", " + kind
}

// reviewValue formats a review field value for people.
func reviewValue(v any) string {
	switch x := v.(type) {
	case review.Sources:
		if len(x) == 0 {
			return "(an expression)"
		}
		return strings.Join(x, ", ")
	case []string:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return strings.ReplaceAll(string(b), `","`, `", "`)
	}
	return display(v)
}

// risky returns the addresses that carry a risk.
func risky(r *review.Review) map[string]bool {
	m := map[string]bool{}
	for _, rk := range r.Risks {
		if rk.Address != "" {
			m[rk.Address] = true
		}
	}
	return m
}
