package view_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/scan"
	"github.com/keyprov/keyprov/view"
)

func TestScanRenderers(t *testing.T) {
	res := &scan.Result{Files: 3, Binary: 1, Findings: []scan.Finding{
		{Path: "config/app.env", Line: 2, Column: 5, Prefix: "wat_", Hint: "wat_…gS0a", Checksum: true},
		{Path: "a,b:c.txt", Line: 1, Column: 1, Prefix: "wat_", Hint: "wat_…9yC2"},
	}}
	tests := map[string]struct {
		write func(*bytes.Buffer, *scan.Result) error
		want  string
	}{
		"text": {
			write: func(b *bytes.Buffer, r *scan.Result) error { return view.WriteScanText(b, r) },
			want: "config/app.env:2:5: possible token wat_…gS0a (checksum valid)\n" +
				"a,b:c.txt:1:1: possible token wat_…9yC2 (no checksum)\n" +
				"\nFound 2 possible tokens in 2 files (3 files scanned). Treat each as leaked: rotate the key, then remove the token from the files and from the history.\n",
		},
		"github": {
			write: func(b *bytes.Buffer, r *scan.Result) error { return view.WriteScanGitHub(b, r) },
			want: "::error file=config/app.env,line=2,col=5,title=Committed token::A token (wat_…gS0a, checksum valid) is committed here: rotate the key, then remove the token.\n" +
				"::error file=a%2Cb%3Ac.txt,line=1,col=1,title=Committed token::A token (wat_…9yC2, no checksum) is committed here: rotate the key, then remove the token.\n",
		},
		"json": {
			write: func(b *bytes.Buffer, r *scan.Result) error { return view.WriteScanJSON(b, r) },
			want: `{
  "format_version": "1",
  "files_scanned": 3,
  "binary_skipped": 1,
  "findings": [
    {
      "file": "config/app.env",
      "line": 2,
      "column": 5,
      "hint": "wat_…gS0a",
      "checksum_valid": true
    },
    {
      "file": "a,b:c.txt",
      "line": 1,
      "column": 1,
      "hint": "wat_…9yC2",
      "checksum_valid": false
    }
  ]
}
`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, tt.write(&b, res))
			assert.Equal(t, tt.want, b.String())
		})
	}

	var b bytes.Buffer
	require.NoError(t, view.WriteScanText(&b, &scan.Result{Files: 1}))
	assert.Equal(t, "No tokens found (1 file scanned).\n", b.String())
	b.Reset()
	require.NoError(t, view.WriteScanJSON(&b, &scan.Result{}))
	assert.Contains(t, b.String(), `"findings": []`)
}

func TestScanRenderersHistory(t *testing.T) {
	commit := "0123456789abcdef0123456789abcdef01234567"
	res := &scan.Result{Files: 40, Binary: 2, History: &scan.HistoryStats{Commits: 12, Shallow: true}, Findings: []scan.Finding{
		{Commit: commit, Path: "config/app.env", Line: 2, Column: 5, Prefix: "wat_", Hint: "wat_…gS0a", Checksum: true},
		{Commit: commit, Path: "odd\nname\x1b[31m.env", Line: 1, Column: 1, Prefix: "wat_", Hint: "wat_…9yC2"},
	}}
	var b bytes.Buffer
	require.NoError(t, view.WriteScanText(&b, res))
	assert.Equal(t, commit+":config/app.env:2:5: possible token wat_…gS0a (checksum valid)\n"+
		commit+`:"odd\nname\x1b[31m.env":1:1: possible token wat_…9yC2 (no checksum)`+"\n"+
		"\nFound 2 possible tokens in 2 files (12 commits, 40 file versions scanned). Treat each as leaked: rotate the key, then remove the token from the history: each line names the commit that added it.\n",
		b.String())

	b.Reset()
	require.NoError(t, view.WriteScanGitHub(&b, res))
	assert.Equal(t, "::error file=config/app.env,line=2,col=5,title=Committed token::A token (wat_…gS0a, checksum valid) was added here by commit "+commit+": rotate the key, then remove the token from the history.\n"+
		"::error file=odd%0Aname\x1b[31m.env,line=1,col=1,title=Committed token::A token (wat_…9yC2, no checksum) was added here by commit "+commit+": rotate the key, then remove the token from the history.\n",
		b.String())

	b.Reset()
	require.NoError(t, view.WriteScanJSON(&b, res))
	var doc view.ScanDocument
	require.NoError(t, json.Unmarshal(b.Bytes(), &doc))
	require.NotNil(t, doc.CommitsScanned)
	assert.Equal(t, 12, *doc.CommitsScanned)
	assert.True(t, doc.Shallow)
	assert.Equal(t, 40, doc.FilesScanned)
	require.Len(t, doc.Findings, 2)
	assert.Equal(t, commit, doc.Findings[0].Commit)
	assert.Equal(t, "odd\nname\x1b[31m.env", doc.Findings[1].File)

	b.Reset()
	require.NoError(t, view.WriteScanText(&b, &scan.Result{History: &scan.HistoryStats{}}))
	assert.Equal(t, "No tokens found (0 commits, 0 file versions scanned).\n", b.String())
	b.Reset()
	require.NoError(t, view.WriteScanJSON(&b, &scan.Result{History: &scan.HistoryStats{}}))
	assert.Contains(t, b.String(), `"commits_scanned": 0,`)
	assert.NotContains(t, b.String(), `"shallow"`)
}
