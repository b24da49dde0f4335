package view_test

import (
	"bytes"
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
