package main

import (
	"encoding/json"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVersionLine: what `keyprov version` says for each way keyprov can be
// built, from the linker stamp of make and the Go toolchain's build
// information.
func TestVersionLine(t *testing.T) {
	const rev = "c0a56ed1234567890abcdef1234567890abcdef1"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "-trimpath", Value: "true"},
			{Key: "CGO_ENABLED", Value: "0"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: "2025-12-02T07:21:00Z"},
			{Key: "vcs.modified", Value: modified},
		}
	}
	info := func(mainVersion string, settings []debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{
			GoVersion: "go1.26.8",
			Path:      "github.com/keyprov/keyprov/cmd/keyprov",
			Main:      debug.Module{Path: "github.com/keyprov/keyprov", Version: mainVersion},
			Deps:      []*debug.Module{{Path: "github.com/hashicorp/hcl/v2", Version: "v2.25.0", Sum: "h1:x"}},
			Settings:  settings,
		}
	}
	tests := map[string]struct {
		stamp        stamp
		bi           *debug.BuildInfo
		line         string
		version      string
		commit, date string
		modified     bool
	}{
		"make, after a tag": {
			stamp:   stamp{"0.2.0-12-gc0a56ed12345", rev, "2025-12-02T07:21:00Z"},
			bi:      info("(devel)", vcs("false")),
			line:    "keyprov 0.2.0-12-gc0a56ed12345 (linux/amd64, go1.26.8)",
			version: "0.2.0-12-gc0a56ed12345", commit: rev, date: "2025-12-02T07:21:00Z",
		},
		"make, on a modified tree": {
			stamp:   stamp{"0.2.0-gc0a56ed12345-dirty", rev, "2025-12-02T07:21:00Z"},
			bi:      info("(devel)", nil),
			line:    "keyprov 0.2.0-gc0a56ed12345-dirty (linux/amd64, go1.26.8)",
			version: "0.2.0-gc0a56ed12345-dirty", commit: rev, date: "2025-12-02T07:21:00Z", modified: true,
		},
		"make, from a tree git cannot describe": {
			stamp:   stamp{"0.2.0", "", "2025-12-02T08:00:00Z"},
			bi:      info("(devel)", []debug.BuildSetting{{Key: "CGO_ENABLED", Value: "0"}}),
			line:    "keyprov 0.2.0 (linux/amd64, go1.26.8; revision unknown: git could not describe the source tree)",
			version: "0.2.0", date: "2025-12-02T08:00:00Z",
		},
		"go install at a release": {
			bi:      info("v0.2.0", nil),
			line:    "keyprov 0.2.0 (linux/amd64, go1.26.8)",
			version: "0.2.0",
		},
		"go build in a modified checkout": {
			bi:      info("v0.0.0-20251202072100-c0a56ed12345+dirty", vcs("true")),
			line:    "keyprov 0.0.0-20251202072100-c0a56ed12345+dirty (linux/amd64, go1.26.8)",
			version: "0.0.0-20251202072100-c0a56ed12345+dirty", commit: rev, date: "2025-12-02T07:21:00Z", modified: true,
		},
		"go build with a commit but no version": {
			bi:     info("(devel)", vcs("true")),
			line:   "keyprov (devel) c0a56ed12345-dirty (linux/amd64, go1.26.8)",
			commit: rev, date: "2025-12-02T07:21:00Z", modified: true,
		},
		"go build without version information": {
			bi:   info("(devel)", nil),
			line: "keyprov (unknown version: built without version information) (linux/amd64, go1.26.8)",
		},
		"no build information at all": {
			line: "keyprov (unknown version: built without version information) (linux/amd64, go1.26.8)",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := readBuildInfo(tc.stamp, tc.bi, "linux/amd64", "go1.26.8")
			assert.Equal(t, tc.line, b.Line())
			assert.Equal(t, tc.version, b.Version)
			assert.Equal(t, tc.commit, b.Commit)
			assert.Equal(t, tc.date, b.Date)
			assert.Equal(t, tc.modified, b.Modified)

			doc, err := json.Marshal(b)
			require.NoError(t, err)
			var got map[string]any
			require.NoError(t, json.Unmarshal(doc, &got))
			for _, k := range []string{"format_version", "version", "commit", "modified", "date", "go_version", "platform", "modules", "build_settings"} {
				assert.Contains(t, got, k)
			}
			if tc.bi != nil {
				assert.Equal(t, []any{map[string]any{"path": "github.com/hashicorp/hcl/v2", "version": "v2.25.0", "sum": "h1:x"}}, got["modules"])
			}
		})
	}
}
