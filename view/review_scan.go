package view

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/keyprov/keyprov/scan"
)

// ScanJSONVersion is the format_version of the JSON scan document.
const ScanJSONVersion = "1"

// ScanDocument is the JSON document printed by `scan -o json`. In a
// history scan (`scan --history`), FilesScanned and BinarySkipped count
// versions of files (blobs), CommitsScanned is set, and each finding names
// its commit.
type ScanDocument struct {
	FormatVersion  string        `json:"format_version"`
	CommitsScanned *int          `json:"commits_scanned,omitempty"`
	Shallow        bool          `json:"shallow,omitempty"`
	FilesScanned   int           `json:"files_scanned"`
	BinarySkipped  int           `json:"binary_skipped"`
	Findings       []ScanFinding `json:"findings"`
}

// ScanFinding is one finding: where, and the token's hint (never the token).
type ScanFinding struct {
	// Commit is, in a history scan, the commit that added the token to File.
	Commit        string `json:"commit,omitempty"`
	File          string `json:"file"`
	Line          int    `json:"line"`
	Column        int    `json:"column"`
	Hint          string `json:"hint"`
	ChecksumValid bool   `json:"checksum_valid"`
}

// WriteScanJSON writes res as a ScanDocument.
func WriteScanJSON(w io.Writer, res *scan.Result) error {
	doc := ScanDocument{FormatVersion: ScanJSONVersion, FilesScanned: res.Files, BinarySkipped: res.Binary, Findings: []ScanFinding{}}
	if h := res.History; h != nil {
		doc.CommitsScanned, doc.Shallow = &h.Commits, h.Shallow
	}
	for _, f := range res.Findings {
		doc.Findings = append(doc.Findings, ScanFinding{Commit: f.Commit, File: f.Path, Line: f.Line, Column: f.Column, Hint: f.Hint, ChecksumValid: f.Checksum})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// WriteScanText writes one line per finding, file:line:col first (in a
// history scan commit:file:line:col), then a summary line. A path holding
// control characters or invalid UTF-8 is printed quoted, as a Go string.
func WriteScanText(w io.Writer, res *scan.Result) error {
	var b strings.Builder
	files := map[string]bool{}
	for _, f := range res.Findings {
		files[f.Path] = true
		if f.Commit != "" {
			fmt.Fprintf(&b, "%s:", f.Commit)
		}
		fmt.Fprintf(&b, "%s:%d:%d: possible token %s (%s)\n", printablePath(f.Path), f.Line, f.Column, f.Hint, f.ChecksumState())
	}
	scanned := countOf(res.Files, "file") + " scanned"
	if h := res.History; h != nil {
		scanned = fmt.Sprintf("%s, %s scanned", countOf(h.Commits, "commit"), countOf(res.Files, "file version"))
	}
	switch {
	case len(res.Findings) == 0:
		fmt.Fprintf(&b, "No tokens found (%s).\n", scanned)
	case res.History != nil:
		fmt.Fprintf(&b, "\nFound %s in %s (%s). Treat each as leaked: rotate the key, then remove the token from the history: each line names the commit that added it.\n",
			countOf(len(res.Findings), "possible token"), countOf(len(files), "file"), scanned)
	default:
		fmt.Fprintf(&b, "\nFound %s in %s (%s). Treat each as leaked: rotate the key, then remove the token from the files and from the history.\n",
			countOf(len(res.Findings), "possible token"), countOf(len(files), "file"), scanned)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// printablePath quotes a path that would break a line of text or the
// terminal showing it.
func printablePath(p string) string {
	if !utf8.ValidString(p) || strings.IndexFunc(p, unicode.IsControl) >= 0 {
		return strconv.Quote(p)
	}
	return p
}

// WriteScanGitHub writes one GitHub Actions error annotation per finding.
func WriteScanGitHub(w io.Writer, res *scan.Result) error {
	var b strings.Builder
	for _, f := range res.Findings {
		msg := fmt.Sprintf("A token (%s, %s) is committed here: rotate the key, then remove the token.", f.Hint, f.ChecksumState())
		if f.Commit != "" {
			msg = fmt.Sprintf("A token (%s, %s) was added here by commit %s: rotate the key, then remove the token from the history.", f.Hint, f.ChecksumState(), f.Commit)
		}
		fmt.Fprintf(&b, "::error file=%s,line=%d,col=%d,title=%s::%s\n", ghProp(f.Path), f.Line, f.Column, ghProp("Committed token"), ghData(msg))
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
