package view_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/testutil"
	"github.com/keyprov/keyprov/review"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/view"
)

// reviewNow is the time the golden reviews run at.
var reviewNow = time.Date(2026, 5, 4, 10, 30, 0, 0, time.UTC)

// reviewGolden compares got with the file at path, or rewrites it with -update.
func reviewGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if testutil.Update() {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file: run go test ./view -run Review -update")
	assert.Equal(t, string(want), string(got), "output differs from %s (rewrite with -update)", path)
}

// loadOffline evaluates a spec file offline, with no environment at all.
func loadOffline(t *testing.T, path string) *spec.Spec {
	t.Helper()
	s, diags := spec.Load(spec.Options{Paths: []string{path}, LookupEnv: func(string) (string, bool) { return "", false }})
	require.False(t, diags.HasErrors(), "%s: %v", path, diags)
	return s
}

// TestReviewGolden renders the review of every before/after pair under
// testdata/review in the three formats and compares with the golden files.
func TestReviewGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/review/*")
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			rr := &view.ReviewReport{
				Review: review.Compare(loadOffline(t, filepath.Join(dir, "base.hcl")), loadOffline(t, filepath.Join(dir, "head.hcl")), reviewNow),
				Base:   "git:origin/main", Head: "keys.hcl",
			}
			for format, file := range map[string]string{"text": "want.txt", "json": "want.json", "markdown": "want.md"} {
				v, err := view.NewReviewView(format, false, 0)
				require.NoError(t, err)
				var buf bytes.Buffer
				require.NoError(t, v.Render(&buf, rr))
				reviewGolden(t, filepath.Join(dir, file), buf.Bytes())
			}
		})
	}
}

// Every risk kind is covered by at least one golden pair.
func TestReviewGoldenCoversEveryRisk(t *testing.T) {
	seen := map[string]bool{}
	files, err := filepath.Glob("testdata/review/*/want.json")
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var doc view.ReviewDocument
		require.NoError(t, json.Unmarshal(b, &doc))
		for _, r := range doc.Risks {
			seen[r.Kind] = true
			seen[r.Kind+"/"+r.Field] = true
		}
	}
	for _, kind := range review.RiskKinds() {
		assert.True(t, seen[string(kind)], "no golden review flags %s", kind)
	}
	for _, want := range []string{
		"settings/token_prefix", "settings/owner", "settings/allowed_permissions", "settings/prune", "settings/root_tenant",
		"expiry-extended/expires", "expiry-extended/previous_until", "cross-tenant/universal", "cross-tenant/tenant",
	} {
		assert.True(t, seen[want], "no golden review flags %s", want)
	}
}

func TestReviewViewBounds(t *testing.T) {
	dir := "testdata/review/permissions"
	rr := &view.ReviewReport{Review: review.Compare(loadOffline(t, dir+"/base.hcl"), loadOffline(t, dir+"/head.hcl"), reviewNow), Base: "a", Head: "b"}

	var md bytes.Buffer
	require.NoError(t, view.ReviewMarkdownView{MaxRows: 1}.Render(&md, rr))
	assert.Contains(t, md.String(), "| | … | | 1 more changes (see `keyprov diff -o json`) |")
	assert.True(t, strings.HasPrefix(md.String(), view.ReviewCommentMarker+"\n"))

	var txt bytes.Buffer
	require.NoError(t, (&view.ReviewTextView{MaxLines: 3}).Render(&txt, rr))
	assert.Contains(t, txt.String(), "… and 1 more changed keys")

	_, err := view.NewReviewView("yaml", false, 0)
	assert.EqualError(t, err, `unknown output format "yaml": use text, json or markdown`)
}

func TestReviewRiskSummaryLine(t *testing.T) {
	tests := map[string]struct {
		risks map[review.Severity]int
		want  string
	}{
		"none":  {nil, "no risks"},
		"one":   {map[review.Severity]int{review.Low: 1}, "1 risk (1 low)"},
		"mixed": {map[review.Severity]int{review.Low: 2, review.Critical: 1}, "3 risks (1 critical, 2 low)"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, view.RiskSummaryLine(review.Summary{Risks: tt.risks}))
		})
	}
}
