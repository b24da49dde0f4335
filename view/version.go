package view

import (
	"encoding/json"
	"fmt"
	"io"
)

// BuildInfo is what keyprov knows of its own build: the JSON document of
// `keyprov version -o json`.
type BuildInfo struct {
	FormatVersion string `json:"format_version"`
	// Version is the release number with git's description (a build by
	// make), or the module version (go install …@v0.2.0, or the
	// pseudo-version the go command gives a checkout); empty when unknown.
	Version string `json:"version"`
	// Commit is the full commit hash, empty when unknown.
	Commit string `json:"commit"`
	// Modified: the tree had changes that were not committed.
	Modified bool `json:"modified"`
	// Date is the commit's date (RFC 3339), empty when unknown.
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"` // GOOS/GOARCH
	// Note says what is missing from the version, for the line only.
	Note     string            `json:"-"`
	Path     string            `json:"path,omitempty"` // the main package
	Main     *BuildModule      `json:"main,omitempty"`
	Modules  []BuildModule     `json:"modules"`
	Settings map[string]string `json:"build_settings"`
}

// BuildModule is a module keyprov was built with.
type BuildModule struct {
	Path    string       `json:"path"`
	Version string       `json:"version"`
	Sum     string       `json:"sum,omitempty"`
	Replace *BuildModule `json:"replace,omitempty"`
}

// noVersionInfo stands for the version of a build without version
// information.
const noVersionInfo = "(unknown version: built without version information)"

// Line is the one line `keyprov version` prints, e.g.
// "keyprov 0.2.0-12-gabc1234 (linux/amd64, go1.26.8)".
func (b BuildInfo) Line() string {
	v := b.Version
	if v == "" {
		switch {
		case b.Commit != "":
			// A plain go build that recorded its commit but no version.
			v = "(devel) " + shortCommit(b.Commit)
			if b.Modified {
				v += "-dirty"
			}
		default:
			v = noVersionInfo
		}
	}
	note := ""
	if b.Note != "" {
		note = "; " + b.Note
	}
	return fmt.Sprintf("keyprov %s (%s, %s%s)", v, b.Platform, b.GoVersion, note)
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// WriteVersionText writes keyprov version's line.
func WriteVersionText(w io.Writer, b BuildInfo) error {
	_, err := fmt.Fprintln(w, b.Line())
	return err
}

// WriteVersionJSON writes keyprov version -o json: the build as a JSON
// document (module paths and build settings escaped, PrintableJSON).
func WriteVersionJSON(w io.Writer, b BuildInfo) error {
	doc, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(PrintableJSON(doc), '\n'))
	return err
}
