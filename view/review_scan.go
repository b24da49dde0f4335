package view

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/keyprov/keyprov/scan"
)

// ScanJSONVersion is the format_version of the JSON scan document.
const ScanJSONVersion = "1"

// ScanDocument is the JSON document printed by `scan -o json`.
type ScanDocument struct {
	FormatVersion string        `json:"format_version"`
	FilesScanned  int           `json:"files_scanned"`
	BinarySkipped int           `json:"binary_skipped"`
	Findings      []ScanFinding `json:"findings"`
}

// ScanFinding is one finding: where, and the token's hint (never the token).
type ScanFinding struct {
	File          string `json:"file"`
	Line          int    `json:"line"`
	Column        int    `json:"column"`
	Hint          string `json:"hint"`
	ChecksumValid bool   `json:"checksum_valid"`
}

// WriteScanJSON writes res as a ScanDocument.
func WriteScanJSON(w io.Writer, res *scan.Result) error {
	doc := ScanDocument{FormatVersion: ScanJSONVersion, FilesScanned: res.Files, BinarySkipped: res.Binary, Findings: []ScanFinding{}}
	for _, f := range res.Findings {
		doc.Findings = append(doc.Findings, ScanFinding{File: f.Path, Line: f.Line, Column: f.Column, Hint: f.Hint, ChecksumValid: f.Checksum})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// WriteScanText writes one line per finding, file:line:col first, then a
// summary line.
func WriteScanText(w io.Writer, res *scan.Result) error {
	var b strings.Builder
	files := map[string]bool{}
	for _, f := range res.Findings {
		files[f.Path] = true
		fmt.Fprintf(&b, "%s:%d:%d: possible token %s (%s)\n", f.Path, f.Line, f.Column, f.Hint, f.ChecksumState())
	}
	if len(res.Findings) == 0 {
		fmt.Fprintf(&b, "No tokens found (%s scanned).\n", countOf(res.Files, "file"))
	} else {
		fmt.Fprintf(&b, "\nFound %s in %s (%s scanned). Treat each as leaked: rotate the key, then remove the token from the files and from the history.\n",
			countOf(len(res.Findings), "possible token"), countOf(len(files), "file"), countOf(res.Files, "file"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteScanGitHub writes one GitHub Actions error annotation per finding.
func WriteScanGitHub(w io.Writer, res *scan.Result) error {
	var b strings.Builder
	for _, f := range res.Findings {
		fmt.Fprintf(&b, "::error file=%s,line=%d,col=%d,title=%s::%s\n", ghProp(f.Path), f.Line, f.Column, ghProp("Committed token"),
			ghData(fmt.Sprintf("A token (%s, %s) is committed here: rotate the key, then remove the token.", f.Hint, f.ChecksumState())))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func countOf(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
