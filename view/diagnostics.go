// Package view renders keyprov's values for people and programs: spec
// diagnostics, plans, apply results. Every renderer takes a value and a
// writer; none of them decides anything.
package view

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/keyprov/keyprov/spec"
)

// DiagnosticsJSONVersion is the format_version of the JSON diagnostics document.
const DiagnosticsJSONVersion = "1"

// Diagnostic is the JSON form of one diagnostic.
type Diagnostic struct {
	Severity  string `json:"severity"`
	Summary   string `json:"summary"`
	Detail    string `json:"detail,omitempty"`
	Address   string `json:"address,omitempty"`
	File      string `json:"file,omitempty"`
	Line      int    `json:"line,omitempty"`
	Column    int    `json:"column,omitempty"`
	EndLine   int    `json:"end_line,omitempty"`
	EndColumn int    `json:"end_column,omitempty"`
}

// DiagnosticsDocument is the JSON document printed by `validate -o json`.
type DiagnosticsDocument struct {
	FormatVersion string       `json:"format_version"`
	Valid         bool         `json:"valid"`
	ErrorCount    int          `json:"error_count"`
	WarningCount  int          `json:"warning_count"`
	Diagnostics   []Diagnostic `json:"diagnostics"`
	// Keys is the number of keys the spec declares, when it is valid.
	Keys *int `json:"keys,omitempty"`
	// Blocks are the key blocks and the keys each declares, when the
	// spec is valid: a review sees that no key was left out.
	Blocks []BlockCount `json:"blocks,omitempty"`
}

// BlockCount is one key block of a valid spec and its number of keys.
type BlockCount struct {
	Block string `json:"block"`
	File  string `json:"file"`
	Line  int    `json:"line"`
	Keys  int    `json:"keys"`
}

func severity(d *hcl.Diagnostic) string {
	if d.Severity == hcl.DiagWarning {
		return "warning"
	}
	return "error"
}

// NewDiagnostic converts an hcl diagnostic. Its texts may quote the
// source (HCL names an unknown JSON property), so they pass through
// RedactSource.
func NewDiagnostic(d *hcl.Diagnostic) Diagnostic {
	out := Diagnostic{Severity: severity(d), Summary: RedactSource(d.Summary), Detail: RedactSource(d.Detail),
		Address: RedactSource(spec.DiagnosticAddress(d))}
	if r := d.Subject; r != nil {
		out.File, out.Line, out.Column, out.EndLine, out.EndColumn = r.Filename, r.Start.Line, r.Start.Column, r.End.Line, r.End.Column
	}
	return out
}

// Count returns the number of errors and warnings.
func Count(diags hcl.Diagnostics) (errs, warns int) {
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			warns++
		} else {
			errs++
		}
	}
	return errs, warns
}

// WriteDiagnosticsJSON writes diags as a DiagnosticsDocument.
func WriteDiagnosticsJSON(w io.Writer, diags hcl.Diagnostics) error {
	return WriteValidationJSON(w, diags, nil)
}

// WriteValidationJSON writes diags as a DiagnosticsDocument with, when s
// is not nil, the number of keys each key block of s declares.
func WriteValidationJSON(w io.Writer, diags hcl.Diagnostics, s *spec.Spec) error {
	errs, warns := Count(diags)
	doc := DiagnosticsDocument{FormatVersion: DiagnosticsJSONVersion, Valid: errs == 0, ErrorCount: errs, WarningCount: warns, Diagnostics: []Diagnostic{}}
	if s != nil && errs == 0 {
		n := len(s.Keys)
		doc.Keys = &n
		for _, b := range s.Blocks {
			doc.Blocks = append(doc.Blocks, BlockCount{Block: b.Type + "." + b.Label, File: b.DefRange.Filename, Line: b.DefRange.Start.Line, Keys: b.Keys})
		}
	}
	for _, d := range diags {
		doc.Diagnostics = append(doc.Diagnostics, NewDiagnostic(d))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// WriteDiagnosticsText writes diags for people: the position as
// file:line:col, the severity and summary, the key's address, the detail
// and the source line with the range underlined. Whatever comes from the
// source passes through RedactSource: a spec path may be a symbolic link
// to a secrets file. The token prefixes that sources set are redacted too.
func WriteDiagnosticsText(w io.Writer, diags hcl.Diagnostics, sources map[string][]byte, color bool) {
	st := styles(color)
	prefixes := SourcePrefixes(sources)
	redact := func(s string) string { return RedactSource(s, prefixes...) }
	// A line that a diagnostic hides (it holds a token written into the
	// spec) is hidden for every diagnostic: a slug error on a one-line
	// block would otherwise print the same line.
	type fileLine struct {
		file string
		line int
	}
	hidden := map[fileLine]bool{}
	for _, d := range diags {
		if d.Subject != nil && spec.DiagnosticHidesSource(d) {
			for l := d.Subject.Start.Line; l <= max(d.Subject.End.Line, d.Subject.Start.Line); l++ {
				hidden[fileLine{d.Subject.Filename, l}] = true
			}
		}
	}
	for _, d := range diags {
		var b strings.Builder
		sev, paint := "error", st.red
		if d.Severity == hcl.DiagWarning {
			sev, paint = "warning", st.yellow
		}
		if d.Subject != nil {
			b.WriteString(spec.Pos(*d.Subject) + ": ")
		} else {
			b.WriteString("keyprov: ")
		}
		b.WriteString(paint(sev) + ": " + st.bold(redact(d.Summary)))
		if addr := spec.DiagnosticAddress(d); addr != "" {
			b.WriteString(" (" + redact(addr) + ")")
		}
		b.WriteByte('\n')
		if d.Detail != "" {
			b.WriteString("  " + strings.ReplaceAll(redact(d.Detail), "\n", "\n  ") + "\n")
		}
		if d.Subject != nil && !spec.DiagnosticHidesSource(d) && !hidden[fileLine{d.Subject.Filename, d.Subject.Start.Line}] {
			if src, ok := sources[d.Subject.Filename]; ok {
				b.WriteString(snippet(src, *d.Subject, st, prefixes))
			}
		}
		fmt.Fprint(w, b.String())
	}
}

// snippet prints the first source line of rng, redacted, with the range
// underlined.
func snippet(src []byte, rng hcl.Range, st style, prefixes []string) string {
	lines := bytes.Split(src, []byte("\n"))
	if rng.Start.Line < 1 || rng.Start.Line > len(lines) {
		return ""
	}
	line := strings.TrimRight(string(lines[rng.Start.Line-1]), "\r")
	if !isPrintable(line) || len(line) > 300 {
		return ""
	}
	start := rng.Start.Column - 1
	end := len(line)
	if rng.End.Line == rng.Start.Line {
		end = rng.End.Column - 1
	}
	start, end = clamp(start, 0, len(line)), clamp(end, 0, len(line))
	if end <= start {
		end = min(start+1, len(line))
	}
	prefix := fmt.Sprintf("  %4d | ", rng.Start.Line)
	pad := strings.Repeat(" ", len(prefix)-2) + "| "
	shown, under := redactedLine(line, start, end, prefixes)
	return prefix + shown + "\n" + pad + st.red(under) + "\n"
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// WriteDiagnosticsGitHub writes diags as GitHub Actions workflow commands
// (::error file=…,line=…,col=…::message) so they show on the changed lines.
func WriteDiagnosticsGitHub(w io.Writer, diags hcl.Diagnostics) {
	for _, d := range diags {
		var props []string
		if r := d.Subject; r != nil {
			props = append(props,
				"file="+ghProp(r.Filename),
				fmt.Sprintf("line=%d", r.Start.Line),
				fmt.Sprintf("col=%d", r.Start.Column),
				fmt.Sprintf("endLine=%d", r.End.Line),
				fmt.Sprintf("endColumn=%d", r.End.Column))
		}
		props = append(props, "title="+ghProp(RedactSource(d.Summary)))
		msg := RedactSource(d.Detail)
		if addr := spec.DiagnosticAddress(d); addr != "" {
			msg = RedactSource(addr) + ": " + msg
		}
		fmt.Fprintf(w, "::%s %s::%s\n", severity(d), strings.Join(props, ","), ghData(msg))
	}
}

func ghData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func ghProp(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// style paints text with ANSI colours, or not at all.
type style struct {
	red, yellow, green, cyan, bold, dim func(string) string
}

func styles(color bool) style {
	if !color {
		id := func(s string) string { return s }
		return style{id, id, id, id, id, id}
	}
	sgr := func(code string) func(string) string {
		return func(s string) string { return "\x1b[" + code + "m" + s + "\x1b[0m" }
	}
	return style{sgr("31"), sgr("33"), sgr("32"), sgr("36"), sgr("1"), sgr("2")}
}
