package scan_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/scan"
)

// tok3 is a third test token, for the other branches.
const tok3 = "wat_Zx9Cv8Bn7Mq6Wr5Et4Yu3Io2Pa1Sd0Fg"

// repo is a git repository built by a test.
type repo struct {
	t   *testing.T
	dir string
}

func newRepo(t *testing.T) *repo {
	t.Helper()
	r := &repo{t, t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir}, args...)...)
	cmd.Env = gitEnv()
	out, err := cmd.CombinedOutput()
	require.NoError(r.t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// commit writes files (an empty content removes the file), commits them
// all and returns the commit.
func (r *repo) commit(msg string, files map[string]string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.dir, name)
		if content == "" {
			require.NoError(r.t, os.Remove(p))
			continue
		}
		require.NoError(r.t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(r.t, os.WriteFile(p, []byte(content), 0o644))
	}
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

func (r *repo) scan(opts scan.HistoryOptions) *scan.Result {
	r.t.Helper()
	res, err := r.scanErr(opts)
	require.NoError(r.t, err)
	return res
}

func (r *repo) scanErr(opts scan.HistoryOptions) (*scan.Result, error) {
	opts.Dir = r.dir
	opts.Env = gitEnv()
	res, err := scan.History(context.Background(), opts)
	if res != nil {
		out, jerr := json.Marshal(res)
		require.NoError(r.t, jerr)
		assertNoToken(r.t, fmt.Sprintf("%+v %#v %s", res, res, out), tok3)
	}
	if err != nil {
		assertNoToken(r.t, err.Error(), tok3)
	}
	return res, err
}

// distinctBlobs counts the blobs reachable from revs, as git counts them.
func (r *repo) distinctBlobs(revs ...string) int {
	r.t.Helper()
	objects := r.git(append([]string{"rev-list", "--objects", "--no-object-names"}, revs...)...)
	cmd := exec.Command("git", "-C", r.dir, "cat-file", "--batch-check=%(objecttype)")
	cmd.Stdin = strings.NewReader(objects + "\n")
	out, err := cmd.Output()
	require.NoError(r.t, err)
	return strings.Count(string(out), "blob\n")
}

type historyHit struct {
	Commit, Path string
	Line, Column int
	Hint         string
}

func historyHits(res *scan.Result) []historyHit {
	out := []historyHit{}
	for _, f := range res.Findings {
		out = append(out, historyHit{f.Commit, f.Path, f.Line, f.Column, f.Hint})
	}
	return out
}

// A token committed and deleted in the next commit is found in the
// history, at the commit that added it, though no file holds it any more.
func TestHistoryDeletedToken(t *testing.T) {
	r := newRepo(t)
	r.commit("init", map[string]string{"README.md": "hello\n"})
	added := r.commit("add config", map[string]string{"config/app.env": "A=1\nWEBSITE_KEY=" + tok1 + "\n"})
	r.commit("remove the token", map[string]string{"config/app.env": "A=1\n"})
	for i := range 5 {
		r.commit("more", map[string]string{"README.md": fmt.Sprintf("hello %d\n", i)})
	}

	res := r.scan(scan.HistoryOptions{})
	assert.Equal(t, []historyHit{{added, "config/app.env", 2, 13, "wat_…gS0a"}}, historyHits(res))
	assert.False(t, res.Findings[0].Checksum)
	require.NotNil(t, res.History)
	assert.Equal(t, 8, res.History.Commits)
	assert.False(t, res.History.Shallow)
	assert.Equal(t, r.distinctBlobs("HEAD"), res.Files, "each blob read once")

	// The working tree no longer holds it.
	wt, err := scan.Paths(context.Background(), []string{r.dir}, scan.Options{Env: gitEnv()})
	require.NoError(t, err)
	assert.Empty(t, wt.Findings)
}

// A token is reported once per path, at the commit that added it there:
// not again for each commit that keeps it, nor for later versions of the
// file that keep it; a copy under another path is reported there.
func TestHistoryReportsEachTokenOnce(t *testing.T) {
	r := newRepo(t)
	first := r.commit("add", map[string]string{"app.env": "KEY=" + tok1 + "\n", "same1.txt": tok2, "same2.txt": tok2})
	for i := range 20 {
		r.commit("other files", map[string]string{fmt.Sprintf("n%d.txt", i): "x\n"})
	}
	r.commit("edit around the token", map[string]string{"app.env": "# top\nKEY=" + tok1 + "\nB=2\n"})
	second := r.commit("second token, and a copy", map[string]string{"app.env": "# top\nKEY=" + tok1 + "\nB=" + tok3 + "\n", "copy.env": "KEY=" + tok1 + "\n"})
	r.commit("remove", map[string]string{"app.env": "", "copy.env": ""})
	r.commit("the same blob again", map[string]string{"same1.txt": "", "again.txt": tok2})

	res := r.scan(scan.HistoryOptions{})
	assert.Equal(t, []historyHit{
		{first, "app.env", 1, 5, "wat_…gS0a"},
		{first, "same1.txt", 1, 1, "wat_…9yC2"},
		{first, "same2.txt", 1, 1, "wat_…9yC2"},
		{second, "app.env", 3, 3, "wat_…d0Fg"},
		{second, "copy.env", 1, 5, "wat_…gS0a"},
		{r.git("rev-parse", "HEAD"), "again.txt", 1, 1, "wat_…9yC2"},
	}, historyHits(res))
	assert.Equal(t, 25, res.History.Commits)
	assert.Equal(t, r.distinctBlobs("HEAD"), res.Files, "each blob read once")
}

// --since and a range scan only the commits given, and leave out the
// tokens their base already held.
func TestHistoryRange(t *testing.T) {
	r := newRepo(t)
	base := r.commit("base", map[string]string{"a.env": "A=" + tok1 + "\n", "old.env": tok2 + "\n"})
	r.git("checkout", "-q", "-b", "feature")
	r.commit("keep the old token", map[string]string{"a.env": "A=" + tok1 + "\nB=2\n"})
	added := r.commit("add one", map[string]string{"b.env": "B=" + tok3 + "\n"})
	r.git("checkout", "-q", "main")
	mainOnly := r.commit("on main", map[string]string{"m.env": "M=" + tokOther + "\n"})

	want := []historyHit{{added, "b.env", 1, 3, "wat_…d0Fg"}}
	tests := map[string]scan.HistoryOptions{
		"range":        {Revs: []string{"main..feature"}},
		"since":        {Revs: []string{"feature"}, Since: "main"},
		"since a hash": {Revs: []string{"feature"}, Since: base},
		"exclusion":    {Revs: []string{"feature", "^main"}},
	}
	for name, opts := range tests {
		t.Run(name, func(t *testing.T) {
			res := r.scan(opts)
			assert.Equal(t, want, historyHits(res))
			assert.Equal(t, 2, res.History.Commits)
			// The base's version of a.env is read, not counted.
			assert.Equal(t, 2, res.Files)
		})
	}

	// HEAD (main) since its own parent: the one commit of main.
	res := r.scan(scan.HistoryOptions{Since: base, Options: scan.Options{Prefixes: []string{"key_"}}})
	assert.Equal(t, []historyHit{{mainOnly, "m.env", 1, 3, "key_…y0Ju"}}, historyHits(res))
	assert.Equal(t, 1, res.History.Commits)

	// The whole of feature: the base's tokens too.
	res = r.scan(scan.HistoryOptions{Revs: []string{"feature"}})
	assert.Equal(t, []historyHit{
		{base, "a.env", 1, 3, "wat_…gS0a"},
		{base, "old.env", 1, 1, "wat_…9yC2"},
		{added, "b.env", 1, 3, "wat_…d0Fg"},
	}, historyHits(res))
}

// --all sees a token on a branch that HEAD does not reach, and a token
// merged from a branch is reported at the branch's commit, not the merge.
func TestHistoryAllAndMerges(t *testing.T) {
	r := newRepo(t)
	r.commit("init", map[string]string{"README.md": "hi\n"})
	r.git("checkout", "-q", "-b", "side")
	side := r.commit("side", map[string]string{"side.env": tok2 + "\n"})
	r.git("checkout", "-q", "-b", "unmerged", "main")
	unmerged := r.commit("unmerged", map[string]string{"secret.env": "K=" + tok3 + "\n"})
	r.git("checkout", "-q", "main")
	r.commit("main", map[string]string{"README.md": "hello\n"})
	r.git("merge", "-q", "--no-edit", "side")
	r.commit("after", map[string]string{"z.txt": "z\n"})

	res := r.scan(scan.HistoryOptions{})
	assert.Equal(t, []historyHit{{side, "side.env", 1, 1, "wat_…9yC2"}}, historyHits(res))
	assert.Equal(t, 5, res.History.Commits)

	res = r.scan(scan.HistoryOptions{All: true})
	assert.ElementsMatch(t, []historyHit{
		{side, "side.env", 1, 1, "wat_…9yC2"},
		{unmerged, "secret.env", 1, 3, "wat_…d0Fg"},
	}, historyHits(res))
	assert.Equal(t, 6, res.History.Commits)
	assert.Equal(t, r.distinctBlobs("--all"), res.Files)
}

// Paths come from git with -z: spaces, newlines and Unicode arrive intact.
// Binary blobs, symbolic links and excluded paths are skipped.
func TestHistoryPathsAndSkips(t *testing.T) {
	r := newRepo(t)
	odd := "dir with space/ünïcödé\nnew line.env"
	c := r.commit("odd", map[string]string{
		odd:                    "K=" + tok1 + "\n",
		"logo.png":             "\x89PNG\r\n\x1a\n\x00\x00" + tok2,
		"testdata/fixture.txt": tok2 + "\n",
		"pkg/a_test.go":        tok2 + "\n",
	})
	require.NoError(t, os.Symlink(tok3, filepath.Join(r.dir, "link")))
	r.commit("link", nil)
	// A blob larger than those read whole is streamed.
	big := strings.Repeat("abcdefgh\n", 200_000) + "x " + tok3 + "\n"
	large := r.commit("large", map[string]string{"big.log": big})

	res := r.scan(scan.HistoryOptions{Options: scan.Options{Exclude: []string{"testdata", "*_test.go"}}})
	assert.Equal(t, []historyHit{{c, odd, 1, 3, "wat_…gS0a"}, {large, "big.log", 200_001, 3, "wat_…d0Fg"}}, historyHits(res))
	assert.Equal(t, 1, res.Binary)
	assert.Equal(t, 2, res.Files)

	res = r.scan(scan.HistoryOptions{})
	assert.Equal(t, []string{odd, "pkg/a_test.go", "testdata/fixture.txt", "big.log"}, findingPathsOf(res))
}

func findingPathsOf(res *scan.Result) []string {
	out := []string{}
	for _, f := range res.Findings {
		out = append(out, f.Path)
	}
	return out
}

func TestHistoryEdgeCases(t *testing.T) {
	t.Run("no commits", func(t *testing.T) {
		r := newRepo(t)
		for _, opts := range []scan.HistoryOptions{{}, {All: true}} {
			res := r.scan(opts)
			assert.Empty(t, res.Findings)
			assert.Equal(t, 0, res.History.Commits)
		}
		_, err := r.scanErr(scan.HistoryOptions{Since: "main"})
		assert.ErrorContains(t, err, `"main" is not a commit`)
	})
	t.Run("not a repository", func(t *testing.T) {
		_, err := scan.History(context.Background(), scan.HistoryOptions{Dir: t.TempDir(), Options: scan.Options{Env: gitEnv()}})
		assert.ErrorIs(t, err, scan.ErrNotRepository)
	})
	t.Run("no git", func(t *testing.T) {
		_, err := scan.History(context.Background(), scan.HistoryOptions{Options: scan.Options{Git: "/nonexistent/git"}})
		assert.ErrorContains(t, err, "needs git")
	})
	t.Run("bad revisions", func(t *testing.T) {
		r := newRepo(t)
		r.commit("init", map[string]string{"a": "a\n"})
		_, err := r.scanErr(scan.HistoryOptions{Revs: []string{"nowhere"}})
		assert.ErrorContains(t, err, "nowhere")
		_, err = r.scanErr(scan.HistoryOptions{Revs: []string{"--output=/tmp/x"}})
		assert.ErrorContains(t, err, "not a revision")
		_, err = r.scanErr(scan.HistoryOptions{Since: "--all"})
		assert.ErrorContains(t, err, "not a revision")
	})
	t.Run("shallow clone", func(t *testing.T) {
		r := newRepo(t)
		r.commit("one", map[string]string{"a.env": tok1 + "\n"})
		r.commit("two", map[string]string{"b.env": tok2 + "\n"})
		r.commit("three", map[string]string{"c.txt": "c\n"})
		clone := &repo{t, filepath.Join(t.TempDir(), "clone")}
		r.git("clone", "-q", "--depth", "2", "file://"+r.dir, clone.dir)
		res := clone.scan(scan.HistoryOptions{})
		assert.True(t, res.History.Shallow)
		assert.Equal(t, 2, res.History.Commits)
		// The boundary commit holds both tokens: it is reported for both.
		two := clone.git("rev-parse", "HEAD~1")
		assert.Equal(t, []historyHit{{two, "a.env", 1, 1, "wat_…gS0a"}, {two, "b.env", 1, 1, "wat_…9yC2"}}, historyHits(res))
	})
	t.Run("missing blob", func(t *testing.T) {
		r := newRepo(t)
		r.commit("one", map[string]string{"a.env": "A=" + tok1 + "\n"})
		blob := r.git("rev-parse", "HEAD:a.env")
		require.NoError(t, os.Remove(filepath.Join(r.dir, ".git", "objects", blob[:2], blob[2:])))
		_, err := r.scanErr(scan.HistoryOptions{})
		assert.ErrorIs(t, err, scan.ErrMissingObject)
		assert.ErrorContains(t, err, "a.env")
	})
	t.Run("bare repository", func(t *testing.T) {
		r := newRepo(t)
		c := r.commit("one", map[string]string{"a.env": "A=" + tok1 + "\n"})
		bare := &repo{t, filepath.Join(t.TempDir(), "bare.git")}
		r.git("clone", "-q", "--bare", r.dir, bare.dir)
		res := bare.scan(scan.HistoryOptions{})
		assert.Equal(t, []historyHit{{c, "a.env", 1, 3, "wat_…gS0a"}}, historyHits(res))
	})
	t.Run("cancelled", func(t *testing.T) {
		r := newRepo(t)
		r.commit("one", map[string]string{"a.env": "A=" + tok1 + "\n"})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := scan.History(ctx, scan.HistoryOptions{Dir: r.dir, Options: scan.Options{Env: gitEnv()}})
		assert.Error(t, err)
	})
}

// A merge lists, against its first parent, every file its branch changed:
// more changes than the scan queues between git log and git cat-file, with
// no blob left to read. cat-file must answer each blob as it is asked, or
// the two ends wait for each other.
func TestHistoryLargeMerge(t *testing.T) {
	r := newRepo(t)
	// Written by git fast-import: 2,000 files, a branch that changes them
	// all (and adds a token), a commit on main, and the merge.
	var stream strings.Builder
	commit := func(mark int, ref string, parents []int, files map[string]string) {
		fmt.Fprintf(&stream, "commit %s\nmark :%d\ncommitter t <t@example.com> %d +0000\ndata 1\nc\n", ref, mark, 1700000000+mark)
		for i, p := range parents {
			fmt.Fprintf(&stream, "%s :%d\n", map[bool]string{true: "from", false: "merge"}[i == 0], p)
		}
		for name, content := range files {
			fmt.Fprintf(&stream, "M 100644 inline %s\ndata %d\n%s\n", name, len(content), content)
		}
		stream.WriteString("\n")
	}
	files, changed := map[string]string{}, map[string]string{}
	for i := range 2000 {
		name := fmt.Sprintf("d%02d/f%04d.txt", i%30, i)
		files[name], changed[name] = fmt.Sprintf("%d\n", i), fmt.Sprintf("changed %d\n", i)
	}
	changed["d07/zz.env"] = "K=" + tok1 + "\n"
	commit(1, "refs/heads/main", nil, files)
	commit(2, "refs/heads/side", []int{1}, changed)
	commit(3, "refs/heads/main", []int{1}, map[string]string{"main.txt": "m\n"})
	commit(4, "refs/heads/main", []int{3, 2}, changed)
	cmd := exec.Command("git", "-C", r.dir, "fast-import", "--quiet")
	cmd.Env, cmd.Stdin = gitEnv(), strings.NewReader(stream.String())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	side := r.git("rev-parse", "side")
	require.Equal(t, side, r.git("rev-parse", "HEAD^2"))
	merged := strings.Split(r.git("diff-tree", "-r", "--name-only", "HEAD^1", "HEAD"), "\n")
	require.Len(t, merged, 2001, "the merge lists every file of its branch")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := scan.History(ctx, scan.HistoryOptions{Dir: r.dir, Options: scan.Options{Env: gitEnv()}})
	require.NoError(t, err)
	assert.Equal(t, []historyHit{{side, "d07/zz.env", 1, 3, "wat_…gS0a"}}, historyHits(res))
	assert.Equal(t, r.distinctBlobs("HEAD"), res.Files)
}
