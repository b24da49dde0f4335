package main

import (
	"context"
	"errors"
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
		o := newVersionOptions(fs)
		if code, ok := a.parseOptions(c, fs, args, &o.args, o, nil); !ok {
			return code
		}
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			bi = nil
		}
		b := readBuildInfo(stamp{version, commit, date}, bi, runtime.GOOS+"/"+runtime.GOARCH, runtime.Version())
		write := view.WriteVersionText
		if o.output.val == "json" {
			write = view.WriteVersionJSON
		}
		if err := write(a.out, b); err != nil {
			a.errorf("keyprov version: %v", err)
			return exitInvalid
		}
		return exitOK
	},
}

// versionOptions are version's flag; it takes no argument.
type versionOptions struct {
	output *oneOf
	args   []string
}

func newVersionOptions(fs *flagSet) *versionOptions {
	return &versionOptions{output: addOutputFlag(fs, "text (one line) or json (with the commit, date and module versions)", "text", "json")}
}

func (o *versionOptions) check() error {
	if len(o.args) > 0 {
		return errors.New("takes no arguments\nRun \"keyprov version --help\" for usage.")
	}
	return nil
}

// stamp is what the linker flags of a release build set.
type stamp struct{ version, commit, date string }

// noRevision is the note of a release build whose tree git could not
// describe.
const noRevision = "revision unknown: git could not describe the source tree"

// readBuildInfo combines the linker stamp with the Go toolchain's build
// information (nil when the binary has none), preferring the stamp.
func readBuildInfo(s stamp, bi *debug.BuildInfo, platform, goVersion string) view.BuildInfo {
	b := view.BuildInfo{FormatVersion: "1", GoVersion: goVersion, Platform: platform, Modules: []view.BuildModule{}, Settings: map[string]string{}}
	var mainVersion string
	if bi != nil {
		b.Path = bi.Path
		if bi.Main.Path != "" {
			b.Main = &view.BuildModule{Path: bi.Main.Path, Version: bi.Main.Version, Sum: bi.Main.Sum}
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

func toBuildModule(m *debug.Module) view.BuildModule {
	bm := view.BuildModule{Path: m.Path, Version: m.Version, Sum: m.Sum}
	if m.Replace != nil {
		r := toBuildModule(m.Replace)
		bm.Replace = &r
	}
	return bm
}
