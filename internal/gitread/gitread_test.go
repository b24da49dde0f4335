package gitread_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/gitread"
)

// gitEnv is an environment in which git reads no configuration of the
// machine's.
func gitEnv(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
		"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
	}
}

// newRepo makes a repository with two commits: "first" holds keys.hcl and
// specs/{a.hcl,b.hcl.json}; the second (main) changes keys.hcl and adds
// notes.txt. It returns the work tree and its environment.
func newRepo(t *testing.T) (string, []string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("these tests need git: %v", err)
	}
	dir := t.TempDir()
	env := gitEnv(t.TempDir())
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	write := func(name, text string) {
		t.Helper()
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	run("init", "-q", "-b", "main")
	write("keys.hcl", "old\n")
	write("specs/a.hcl", "a\n")
	write("specs/b.hcl.json", "{}\n")
	run("add", ".")
	run("commit", "-q", "-m", "first")
	run("tag", "first")
	write("keys.hcl", "new content\n")
	write("notes.txt", "n\n")
	run("add", ".")
	run("commit", "-q", "-m", "second")
	return dir, env
}

func TestOpen(t *testing.T) {
	dir, env := newRepo(t)
	ctx := context.Background()

	r, err := gitread.Open(ctx, dir, env, "first")
	require.NoError(t, err)
	assert.Equal(t, "first", r.Ref())
	assert.Len(t, r.Commit(), 40)
	top, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)
	assert.Equal(t, top, r.Top())

	tests := map[string]struct {
		dir, ref string
		want     error
	}{
		"empty revision":       {dir, "", gitread.ErrNotRevision},
		"an option":            {dir, "--output=/tmp/x", gitread.ErrNotRevision},
		"unknown revision":     {dir, "nope", gitread.ErrNoCommit},
		"a blob, not a commit": {dir, "HEAD:keys.hcl", gitread.ErrNoCommit},
		"outside a work tree":  {t.TempDir(), "HEAD", gitread.ErrNoWorkTree},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := gitread.Open(ctx, tc.dir, env, tc.ref)
			require.ErrorIs(t, err, tc.want)
		})
	}

	t.Run("no work tree says git's reason", func(t *testing.T) {
		_, err := gitread.Open(ctx, t.TempDir(), env, "HEAD")
		require.ErrorIs(t, err, gitread.ErrGit)
		assert.Contains(t, err.Error(), "not a git repository")
	})
}

func TestStatListRead(t *testing.T) {
	dir, env := newRepo(t)
	ctx := context.Background()
	first, err := gitread.Open(ctx, dir, env, "first")
	require.NoError(t, err)
	head, err := gitread.Open(ctx, dir, env, "main")
	require.NoError(t, err)

	e, ok, err := first.Stat("keys.hcl")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, gitread.Entry{Type: "blob", Size: 4, Path: "keys.hcl"}, e)
	b, err := first.Read("keys.hcl")
	require.NoError(t, err)
	assert.Equal(t, "old\n", string(b), "the file as the revision has it, not the work tree")
	b, err = head.Read("keys.hcl")
	require.NoError(t, err)
	assert.Equal(t, "new content\n", string(b))

	_, ok, err = first.Stat("notes.txt")
	require.NoError(t, err)
	assert.False(t, ok, "notes.txt does not exist at first")

	e, ok, err = first.Stat("specs")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "tree", e.Type)
	es, err := first.List("specs")
	require.NoError(t, err)
	assert.Equal(t, []gitread.Entry{{Type: "blob", Size: 2, Path: "specs/a.hcl"}, {Type: "blob", Size: 3, Path: "specs/b.hcl.json"}}, es)

	e, ok, err = first.Stat(".")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "tree", e.Type, "the root is a tree")
	es, err = head.List(".")
	require.NoError(t, err)
	var paths []string
	for _, e := range es {
		paths = append(paths, e.Path)
	}
	assert.Equal(t, []string{"keys.hcl", "notes.txt", "specs"}, paths)

	_, err = first.Read("notes.txt")
	require.ErrorIs(t, err, gitread.ErrGit)
	assert.Contains(t, err.Error(), "git cat-file blob")
}

func TestPath(t *testing.T) {
	dir, env := newRepo(t)
	ctx := context.Background()
	root, err := gitread.Open(ctx, dir, env, "main")
	require.NoError(t, err)
	sub, err := gitread.Open(ctx, filepath.Join(dir, "specs"), env, "main")
	require.NoError(t, err)

	tests := map[string]struct {
		r    *gitread.Repo
		p    string
		want string
	}{
		"a file at the root":            {root, "keys.hcl", "keys.hcl"},
		"the root":                      {root, ".", "."},
		"relative to a subdirectory":    {sub, "a.hcl", "specs/a.hcl"},
		"up from a subdirectory":        {sub, "../keys.hcl", "keys.hcl"},
		"the subdirectory itself":       {sub, ".", "specs"},
		"absolute":                      {root, filepath.Join(dir, "specs", "a.hcl"), "specs/a.hcl"},
		"absolute, from a subdirectory": {sub, filepath.Join(dir, "keys.hcl"), "keys.hcl"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.r.Path(tc.p)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}

	for _, p := range []string{"../elsewhere.hcl", "specs/../../x", filepath.Join(t.TempDir(), "x.hcl")} {
		_, err := root.Path(p)
		require.ErrorIs(t, err, gitread.ErrOutside, p)
		assert.Contains(t, err.Error(), p+" is outside the git work tree ")
	}
}

// The context bounds every git command.
func TestCancelled(t *testing.T) {
	dir, env := newRepo(t)
	ctx, cancel := context.WithCancel(context.Background())
	r, err := gitread.Open(ctx, dir, env, "main")
	require.NoError(t, err)
	cancel()
	_, err = r.Read("keys.hcl")
	require.ErrorIs(t, err, gitread.ErrGit)
}
