package view

import (
	"encoding/json"
	"io"

	"github.com/keyprov/keyprov/review"
)

// ReviewJSONVersion is the format_version of the JSON review document. It
// changes only when a field changes meaning or disappears.
const ReviewJSONVersion = "1"

// ReviewJSONView renders the versioned JSON review document.
type ReviewJSONView struct{}

// ReviewDocument is the JSON form of a review. Unchanged keys are counted,
// not listed; every change and every risk is listed.
type ReviewDocument struct {
	FormatVersion string         `json:"format_version"`
	Base          string         `json:"base"`
	Head          string         `json:"head"`
	Summary       ReviewSummary  `json:"summary"`
	Risks         []ReviewRisk   `json:"risks"`
	Settings      []JSONField    `json:"settings"`
	Changes       []ReviewChange `json:"changes"`

	// BaseVarFiles and HeadVarFiles are the variable files each side was
	// evaluated with, Notes say how the sides were read; all absent when
	// empty.
	BaseVarFiles []string `json:"base_var_files,omitempty"`
	HeadVarFiles []string `json:"head_var_files,omitempty"`
	Notes        []string `json:"notes,omitempty"`
}

// ReviewSummary counts the changes and risks.
type ReviewSummary struct {
	Added           int `json:"added"`
	Removed         int `json:"removed"`
	Moved           int `json:"moved"`
	Changed         int `json:"changed"`
	Unchanged       int `json:"unchanged"`
	SettingsChanged int `json:"settings_changed"`
	// Risks counts the risk flags per severity (every severity present).
	Risks map[string]int `json:"risks"`
	// MaxSeverity is the severity of the worst risk, "" without risks.
	MaxSeverity string `json:"max_severity"`
}

// ReviewRisk is one risk flag.
type ReviewRisk = JSONRisk

// ReviewChange is one changed key. Fields of an added key have a null
// before; token fields list the token's sources (env("…"), file("…")).
type ReviewChange struct {
	Address   string      `json:"address"`
	Tenant    string      `json:"tenant"`
	Slug      string      `json:"slug"`
	Change    string      `json:"change"`
	Universal bool        `json:"universal"`
	MovedFrom string      `json:"moved_from,omitempty"`
	Fields    []JSONField `json:"fields"`
}

// NewReviewDocument builds the JSON document of a review report.
func NewReviewDocument(rr *ReviewReport) ReviewDocument {
	r := rr.Review
	s := r.Summary()
	doc := ReviewDocument{
		FormatVersion: ReviewJSONVersion, Base: rr.Base, Head: rr.Head,
		Summary: ReviewSummary{Added: s.Added, Removed: s.Removed, Moved: s.Moved, Changed: s.Changed,
			Unchanged: s.Unchanged, SettingsChanged: s.Settings, Risks: map[string]int{}},
		Risks: []ReviewRisk{}, Settings: reviewFields(r.Settings), Changes: []ReviewChange{},
		BaseVarFiles: rr.BaseVarFiles, HeadVarFiles: rr.HeadVarFiles, Notes: rr.Notes,
	}
	doc.Summary.Risks, doc.Summary.MaxSeverity = jsonRiskCounts(s.Risks)
	doc.Risks = jsonRisks(r.Risks)
	for _, c := range r.Changes {
		jc := ReviewChange{Address: c.Address.String(), Tenant: c.Address.Tenant, Slug: c.Address.Slug,
			Change: string(c.Kind), Universal: c.Universal, Fields: reviewFields(c.Fields)}
		if c.MovedFrom != nil {
			jc.MovedFrom = c.MovedFrom.String()
		}
		doc.Changes = append(doc.Changes, jc)
	}
	return doc
}

func reviewFields(fs []review.FieldChange) []JSONField {
	out := []JSONField{}
	for _, f := range fs {
		f = shownField(f)
		out = append(out, JSONField{Field: f.Field, Before: jsonAny(f.Before), After: jsonAny(f.After), Added: f.Added, Removed: f.Removed})
	}
	return out
}

// Render implements ReviewView.
func (ReviewJSONView) Render(w io.Writer, rr *ReviewReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(NewReviewDocument(rr))
}
