package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/keyprov/keyprov/view"
)

// The version stamp, set by `make build` and `make dist` (see Makefile):
//
//	-ldflags "-X main.version=0.2.0-12-gabc1234 -X main.commit=… -X main.date=…"
//
// version is the release number of the VERSION file followed by git's
// description of the tree; commit is the full commit hash, empty when git
// could not describe the tree; date is the commit's date (RFC 3339), so
// that two builds of one commit stamp the same. A plain `go build` sets
// none of them: buildInfo then falls back on what the Go toolchain records.
var (
	version = ""
	commit  = ""
	date    = ""
)

var versionCmd = &command{
	name:    "version",
	summary: "print keyprov's version",
	help: `Prints one line: keyprov's version, the platform and the Go version, e.g.
"keyprov 0.2.0-12-gabc1234 (linux/amd64, go1.26.8)". A release build says
its release number (the VERSION file) and git's description of the tree it
was built from; a build by plain "go build" says its commit; a build with no
version information says so.

With -o json: the version, commit, whether the tree was modified, the
commit's date, the Go version, the platform, the build settings and every
module keyprov was built with.`,
	run: func(ctx context.Context, a *app, c *command, args []string) int {
		fs := newFlagSet(c)
		out := addOutputFlag(fs, "text (one line) or json (with the commit, date and module versions)", "text", "json")
		pos, code, ok := fs.parse(a, args)
		if !ok {
			return code
		}
		if len(pos) > 0 {
			a.errorf("keyprov version: takes no arguments\nRun \"keyprov version --help\" for usage.")
			return exitInvalid
		}
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			bi = nil
		}
		b := readBuildInfo(stamp{version, commit, date}, bi, runtime.GOOS+"/"+runtime.GOARCH, runtime.Version())
		if out.val == "json" {
			doc, err := json.MarshalIndent(b, "", "  ")
			if err != nil {
				a.errorf("keyprov version: %v", err)
				return exitInvalid
			}
			a.out.Write(append(view.PrintableJSON(doc), '\n'))
			return exitOK
		}
		fmt.Fprintln(a.out, b.line())
		return exitOK
	},
}

// stamp is what the linker flags of a release build set.
type stamp struct{ version, commit, date string }

// buildInfo is what keyprov knows of its own build: the JSON document of
// `keyprov version -o json`.
type buildInfo struct {
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
	Main     *buildModule      `json:"main,omitempty"`
	Modules  []buildModule     `json:"modules"`
	Settings map[string]string `json:"build_settings"`
}

type buildModule struct {
	Path    string       `json:"path"`
	Version string       `json:"version"`
	Sum     string       `json:"sum,omitempty"`
	Replace *buildModule `json:"replace,omitempty"`
}

const (
	noVersionInfo = "(unknown version: built without version information)"
	noRevision    = "revision unknown: git could not describe the source tree"
)

// readBuildInfo combines the linker stamp with the Go toolchain's build
// information (nil when the binary has none), preferring the stamp.
func readBuildInfo(s stamp, bi *debug.BuildInfo, platform, goVersion string) buildInfo {
	b := buildInfo{FormatVersion: "1", GoVersion: goVersion, Platform: platform, Modules: []buildModule{}, Settings: map[string]string{}}
	var mainVersion string
	if bi != nil {
		b.Path = bi.Path
		if bi.Main.Path != "" {
			b.Main = &buildModule{Path: bi.Main.Path, Version: bi.Main.Version, Sum: bi.Main.Sum}
			mainVersion = bi.Main.Version
		}
		for _, d := range bi.Deps {
			b.Modules = append(b.Modules, toBuildModule(d))
		}
		for _, kv := range bi.Settings {
			b.Settings[kv.Key] = kv.Value
		}
	}
	vcsRevision, vcsTime := b.Settings["vcs.revision"], b.Settings["vcs.time"]
	vcsModified := b.Settings["vcs.modified"] == "true"
	switch {
	case s.version != "":
		// A build by make.
		b.Version, b.Commit, b.Date = s.version, s.commit, s.date
		b.Modified = strings.HasSuffix(s.version, "-dirty")
	case mainVersion != "" && mainVersion != "(devel)":
		// go install …@VERSION, or go build in a checkout (a pseudo-version).
		b.Version = strings.TrimPrefix(mainVersion, "v")
		b.Modified = strings.HasSuffix(mainVersion, "+dirty")
	}
	if b.Commit == "" {
		b.Commit = vcsRevision
	}
	if b.Date == "" {
		b.Date = vcsTime
	}
	b.Modified = b.Modified || vcsModified
	if s.version != "" && b.Commit == "" {
		b.Note = noRevision
	}
	return b
}

func toBuildModule(m *debug.Module) buildModule {
	bm := buildModule{Path: m.Path, Version: m.Version, Sum: m.Sum}
	if m.Replace != nil {
		r := toBuildModule(m.Replace)
		bm.Replace = &r
	}
	return bm
}

// line is the one line `keyprov version` prints, e.g.
// "keyprov 0.2.0-12-gabc1234 (linux/amd64, go1.26.8)".
func (b buildInfo) line() string {
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
