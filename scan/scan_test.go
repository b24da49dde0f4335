package scan_test

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/scan"
	"github.com/keyprov/keyprov/token"
)

// Test tokens: random-looking bodies that pass keyprov's token rules.
const (
	tok1 = "wat_Q3xT9mLpV2rZ8kW4nB7yH1cJ5fD6gS0a"
	tok2 = "wat_Lm4N8pQ2rT6vX0zB3dF7hJ1kM5sW9yC2"
	// tokOther has another prefix.
	tokOther = "key_Hs7Kd2Lq9Wm4Xn6Bv1Cz8Pt3Rf5Gy0Ju"
)

type hit struct {
	Line, Column int
	Hint         string
}

func hits(fs []scan.Finding) []hit {
	out := []hit{}
	for _, f := range fs {
		out = append(out, hit{f.Line, f.Column, f.Hint})
	}
	return out
}

func TestScanReader(t *testing.T) {
	generated, err := token.Generate("wat_")
	require.NoError(t, err)
	gen := generated.Reveal()

	tests := map[string]struct {
		text     string
		prefixes []string
		want     []hit
	}{
		"token in an assignment": {
			text: "WEBSITE_KEY=" + tok1 + "\n",
			want: []hit{{1, 13, "wat_…gS0a"}},
		},
		"token in quotes and at the start of a line": {
			text: "x\n" + tok1 + "\n  token: \"" + tok2 + "\"\n",
			want: []hit{{2, 1, "wat_…gS0a"}, {3, 11, "wat_…9yC2"}},
		},
		"two tokens on a line, CRLF": {
			text: "a " + tok1 + "," + tok2 + "\r\nb\r\n",
			want: []hit{{1, 3, "wat_…gS0a"}, {1, 40, "wat_…9yC2"}},
		},
		"last line without a newline": {
			text: "one\ntwo " + tok2,
			want: []hit{{2, 5, "wat_…9yC2"}},
		},
		"generated token": {
			text: "t=" + gen,
			want: []hit{{1, 3, token.Hint(gen, "wat_")}},
		},
		"too short": {
			text: "wat_Q3xT9mLpV2rZ8kW4nB7yH1cJ5fD6gS\n", // 30 characters after the prefix
			want: []hit{},
		},
		"wrong prefix": {
			text: tokOther + " wot_Q3xT9mLpV2rZ8kW4nB7yH1cJ5fD6gS0a\n",
			want: []hit{},
		},
		"inside a longer word": {
			text: "x" + tok1 + " my_" + tok2 + " sub-" + tok1 + "\n",
			want: []hit{},
		},
		"placeholder": {
			text: "token = \"wat_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\nwat_0123456789abcdefghijklmnopqrstuvwxyz\n",
			want: []hit{},
		},
		"hint only": {
			text: "the key wat_…gS0a was rotated\n",
			want: []hit{},
		},
		"configured prefix": {
			text:     tok1 + " " + tokOther + "\n",
			prefixes: []string{"key_"},
			want:     []hit{{1, 38, "key_…y0Ju"}},
		},
		"two prefixes": {
			text:     tok1 + " " + tokOther + "\n",
			prefixes: []string{"key_", "wat_"},
			want:     []hit{{1, 1, "wat_…gS0a"}, {1, 38, "key_…y0Ju"}},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			prefixes := tt.prefixes
			if prefixes == nil {
				prefixes = []string{"wat_"}
			}
			found, binary, err := scan.Reader(strings.NewReader(tt.text), "f.txt", prefixes)
			require.NoError(t, err)
			assert.False(t, binary)
			assert.Equal(t, tt.want, hits(found))
			assertNoToken(t, fmt.Sprintf("%+v %#v", found, found), gen)
		})
	}
}

func TestScanReaderChecksum(t *testing.T) {
	generated, err := token.Generate("wat_")
	require.NoError(t, err)
	found, _, err := scan.Reader(strings.NewReader(generated.Reveal()+" "+tok1), "f", []string{"wat_"})
	require.NoError(t, err)
	require.Len(t, found, 2)
	assert.True(t, found[0].Checksum)
	assert.Equal(t, "checksum valid", found[0].ChecksumState())
	assert.False(t, found[1].Checksum)
	assert.Equal(t, "no checksum", found[1].ChecksumState())
}

func TestScanReaderBinary(t *testing.T) {
	tests := map[string]struct {
		content    []byte
		wantBinary bool
		wantHits   int
	}{
		"NUL at the start": {append([]byte{0, 1, 2}, tok1...), true, 0},
		"NUL within 8 KiB": {append(append([]byte(tok1+"\n"), bytes.Repeat([]byte("a"), 8000)...), 0), true, 0},
		"NUL after 8 KiB":  {append(append(bytes.Repeat([]byte("a\n"), 5000), 0), []byte("\n"+tok1)...), false, 1},
		"UTF-8 text":       {[]byte("clé: " + tok1 + " ✓\n"), false, 1},
		"empty":            {nil, false, 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			found, binary, err := scan.Reader(bytes.NewReader(tt.content), "f", []string{"wat_"})
			require.NoError(t, err)
			assert.Equal(t, tt.wantBinary, binary)
			assert.Len(t, found, tt.wantHits)
		})
	}
}

// A line longer than the scanner holds at once is searched in pieces.
func TestScanReaderLongLine(t *testing.T) {
	pad := strings.Repeat("abcdefgh ", 300_000) // 2.7 MB, no newline
	found, _, err := scan.Reader(strings.NewReader("x\n"+pad+tok1+" "+pad+tok2+"\n"+tok1), "min.js", []string{"wat_"})
	require.NoError(t, err)
	assert.Equal(t, []hit{
		{2, len(pad) + 1, "wat_…gS0a"},
		{2, 2*len(pad) + len(tok1) + 2, "wat_…9yC2"},
		{3, 1, "wat_…gS0a"},
	}, hits(found))
}

func assertNoToken(t *testing.T, out string, extra ...string) {
	t.Helper()
	for _, tok := range append([]string{tok1, tok2, tokOther}, extra...) {
		assert.NotContains(t, out, tok[4:], "a token leaked into the output")
	}
}

// writeFiles creates files (relative path → content) below dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}

func findingPaths(t *testing.T, res *scan.Result, dir string) []string {
	t.Helper()
	out := []string{}
	for _, f := range res.Findings {
		rel, err := filepath.Rel(dir, f.Path)
		require.NoError(t, err)
		out = append(out, filepath.ToSlash(rel))
	}
	return out
}

var tree = map[string]string{
	"README.md":         "Set the token: export KEY=wat_…gS0a\n",
	"config/app.env":    "KEY=" + tok1 + "\n",
	"src/main.go":       "package main\n\nconst k = \"" + tok2 + "\"\n",
	"build/out.txt":     tok1 + "\n",
	"logo.png":          "\x89PNG\r\n\x1a\n\x00\x00" + tok1,
	".git/config":       tok1 + "\n",
	".gitignore":        "build/\n*.log\n",
	"debug.log":         tok2 + "\n",
	"docs/near-miss.md": "x" + tok1 + " wat_short123\n",
}

func TestScanPathsWalk(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, tree)
	require.NoError(t, os.Symlink(filepath.Join(dir, "config/app.env"), filepath.Join(dir, "link.env")))

	// Without git, every regular file is scanned except under .git.
	res, err := scan.Paths(context.Background(), []string{dir}, scan.Options{Git: "/nonexistent/git"})
	require.NoError(t, err)
	assert.Equal(t, []string{"build/out.txt", "config/app.env", "debug.log", "src/main.go"}, findingPaths(t, res, dir))
	assert.Equal(t, 1, res.Binary)
	assert.Equal(t, 7, res.Files)
	assertNoToken(t, fmt.Sprintf("%+v", res))
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = gitEnv()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
}

func gitEnv() []string {
	return append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
}

func TestScanPathsGit(t *testing.T) {
	dir := t.TempDir()
	git(t, dir, "init", "-q")
	files := maps.Clone(tree)
	delete(files, ".git/config")
	writeFiles(t, dir, files)
	git(t, dir, "add", "README.md", "src/main.go", ".gitignore")
	git(t, dir, "commit", "-q", "-m", "init")

	opts := scan.Options{Env: gitEnv()}
	// Tracked and untracked files are scanned; ignored ones are not.
	res, err := scan.Paths(context.Background(), []string{dir}, opts)
	require.NoError(t, err)
	assert.Equal(t, []string{"config/app.env", "src/main.go"}, findingPaths(t, res, dir))

	// A subdirectory of the work tree.
	res, err = scan.Paths(context.Background(), []string{filepath.Join(dir, "src")}, opts)
	require.NoError(t, err)
	assert.Equal(t, []string{"src/main.go"}, findingPaths(t, res, dir))

	// A file named explicitly is scanned even when ignored, and only once.
	res, err = scan.Paths(context.Background(), []string{filepath.Join(dir, "debug.log"), dir, filepath.Join(dir, "debug.log")}, opts)
	require.NoError(t, err)
	assert.Equal(t, []string{"config/app.env", "debug.log", "src/main.go"}, findingPaths(t, res, dir))

	// A file deleted from the work tree but still in the index is skipped.
	require.NoError(t, os.Remove(filepath.Join(dir, "src/main.go")))
	res, err = scan.Paths(context.Background(), []string{dir}, opts)
	require.NoError(t, err)
	assert.Equal(t, []string{"config/app.env"}, findingPaths(t, res, dir))
}

func TestScanPathsExclude(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"app.env":                tok1,
		"testdata/fixture.txt":   tok1,
		"pkg/testdata/x/y.txt":   tok1,
		"pkg/client_test.go":     tok2,
		"pkg/client.go":          tok2,
		"docs/guide.md":          tok2,
		"docs/api/reference.md":  tok2,
		"examples/tokens.env":    tok1,
		"examples/sub/keys.json": tok1,
	})
	tests := map[string]struct {
		exclude []string
		want    []string
	}{
		"none": {nil, []string{"app.env", "docs/api/reference.md", "docs/guide.md", "examples/sub/keys.json", "examples/tokens.env",
			"pkg/client.go", "pkg/client_test.go", "pkg/testdata/x/y.txt", "testdata/fixture.txt"}},
		"elements": {[]string{"testdata", "*_test.go", "examples"}, []string{"app.env", "docs/api/reference.md", "docs/guide.md", "pkg/client.go"}},
		"relative path": {[]string{"docs/*.md"}, []string{"app.env", "docs/api/reference.md", "examples/sub/keys.json", "examples/tokens.env",
			"pkg/client.go", "pkg/client_test.go", "pkg/testdata/x/y.txt", "testdata/fixture.txt"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := scan.Paths(context.Background(), []string{dir}, scan.Options{Git: "/nonexistent/git", Exclude: tt.exclude})
			require.NoError(t, err)
			assert.Equal(t, tt.want, findingPaths(t, res, dir))
		})
	}
	// A file named explicitly is scanned whatever the patterns.
	res, err := scan.Paths(context.Background(), []string{filepath.Join(dir, "testdata/fixture.txt")}, scan.Options{Exclude: []string{"testdata"}})
	require.NoError(t, err)
	assert.Len(t, res.Findings, 1)

	assert.True(t, scan.ValidPattern("*_test.go"))
	assert.False(t, scan.ValidPattern("[x"))
	assert.False(t, scan.ValidPattern(""))
}

func TestScanPathsErrors(t *testing.T) {
	_, err := scan.Paths(context.Background(), []string{filepath.Join(t.TempDir(), "missing")}, scan.Options{})
	assert.ErrorIs(t, err, scan.ErrNotFound)

	if os.Geteuid() != 0 { // root reads every file
		dir := t.TempDir()
		p := filepath.Join(dir, "secret.txt")
		require.NoError(t, os.WriteFile(p, []byte(tok1), 0o000))
		_, err = scan.Paths(context.Background(), []string{p}, scan.Options{})
		assert.ErrorIs(t, err, os.ErrPermission)
	}
}

// FuzzScanReader checks that the scanner never panics, that findings point at
// a prefix in the input, and that it never returns more than a hint.
func FuzzScanReader(f *testing.F) {
	f.Add("k=" + tok1 + "\n")
	f.Add("x" + tok1 + " " + tok2 + "\r\n\x00")
	f.Add("wat_wat_wat_" + tok2[4:])
	f.Fuzz(func(t *testing.T, s string) {
		found, binary, err := scan.Reader(strings.NewReader(s), "f", []string{"wat_"})
		require.NoError(t, err)
		if binary {
			assert.Empty(t, found)
			return
		}
		lines := strings.Split(s, "\n")
		for _, fd := range found {
			require.LessOrEqual(t, fd.Line, len(lines))
			line := lines[fd.Line-1]
			require.True(t, strings.HasPrefix(line[fd.Column-1:], "wat_"), "finding at %d:%d", fd.Line, fd.Column)
			assert.Len(t, []rune(fd.Hint), len("wat_")+1+4)
		}
	})
}
