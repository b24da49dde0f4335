package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
)

// root is the repository's root, where the Makefile is.
const root = "../.."

func TestMain(m *testing.M) { pgtest.Main(m) }

// release is the release number of the VERSION file.
func release(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "VERSION"))
	require.NoError(t, err)
	v := strings.TrimSpace(string(b))
	require.Regexp(t, `^[0-9]+\.[0-9]+\.[0-9]+$`, v, "VERSION holds a release number")
	return v
}

// baseEnv is the environment of the commands the tests run: this process's,
// without what a calling make passes down (make test runs these tests), and
// without git's own settings.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case name == "MAKEFLAGS", name == "MFLAGS", name == "MAKELEVEL", name == "MAKEOVERRIDES",
			strings.HasPrefix(name, "GIT_"):
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
}

// command runs name in dir and returns its standard output; the test fails
// if it does not exit 0.
func command(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	code, stdout, stderr := commandCode(t, dir, env, "", name, args...)
	require.Equal(t, 0, code, "%s %s failed:\n%s%s", name, strings.Join(args, " "), stdout, stderr)
	return stdout
}

// commandCode runs name in dir with stdin and returns its exit code and
// output.
func commandCode(t *testing.T, dir string, env []string, stdin, name string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), out.String(), errb.String()
	}
	require.NoError(t, err, "%s %s", name, strings.Join(args, " "))
	return 0, out.String(), errb.String()
}

// assertStatic checks that the file is an ELF executable for GOOS/GOARCH
// with no dynamic loader and no shared library.
func assertStatic(t *testing.T, path, goarch string) {
	t.Helper()
	f, err := elf.Open(path)
	require.NoError(t, err)
	defer f.Close()
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]
	assert.Equal(t, machine, f.Machine, "built for %s", goarch)
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "%s names a dynamic loader: not a static binary", path)
		assert.NotEqual(t, elf.PT_DYNAMIC, p.Type, "%s has a dynamic section: not a static binary", path)
	}
	libs, err := f.ImportedLibraries()
	require.NoError(t, err)
	assert.Empty(t, libs, "%s links shared libraries", path)
}

// versionDoc is the part of `keyprov version -o json` that the tests read.
type versionDoc struct {
	Version  string            `json:"version"`
	Commit   string            `json:"commit"`
	Modified bool              `json:"modified"`
	Date     string            `json:"date"`
	Go       string            `json:"go_version"`
	Platform string            `json:"platform"`
	Modules  []json.RawMessage `json:"modules"`
	Settings map[string]string `json:"build_settings"`
}

// versionOf runs the binary's version command: its line and its document.
func versionOf(t *testing.T, bin string) (string, versionDoc) {
	t.Helper()
	line := command(t, "", baseEnv(), bin, "version")
	require.Equal(t, 1, strings.Count(line, "\n"), "one line:\n%s", line)
	var doc versionDoc
	require.NoError(t, json.Unmarshal([]byte(command(t, "", baseEnv(), bin, "version", "-o", "json")), &doc))
	return strings.TrimSuffix(line, "\n"), doc
}

var platform = runtime.GOOS + "/" + runtime.GOARCH

// TestMakeBuild: `make build` in this checkout makes a static binary,
// stamped with VERSION, git's description of the tree and its commit.
func TestMakeBuild(t *testing.T) {
	rel := release(t)
	bin := filepath.Join(t.TempDir(), "keyprov")
	command(t, root, baseEnv(), "make", "--no-print-directory", "build", "BIN="+bin)
	if runtime.GOOS == "linux" {
		assertStatic(t, bin, runtime.GOARCH)
	}

	line, doc := versionOf(t, bin)
	// 0.2.0 on the tag v0.2.0, 0.2.0-N-g… after it, 0.2.0-g… without it;
	// -dirty when the tree has changes (others may be editing it).
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(rel) + `(?:-(?:[0-9]+-)?g([0-9a-f]{12}))?(-dirty)?$`)
	m := re.FindStringSubmatch(doc.Version)
	require.NotNil(t, m, "version %q is VERSION and git's description", doc.Version)
	assert.Equal(t, fmt.Sprintf("keyprov %s (%s, %s)", doc.Version, platform, runtime.Version()), line)
	require.Regexp(t, `^[0-9a-f]{40}$`, doc.Commit)
	if m[1] != "" {
		assert.True(t, strings.HasPrefix(doc.Commit, m[1]), "the description's commit %s is the commit %s", m[1], doc.Commit)
	}
	command(t, root, baseEnv(), "git", "cat-file", "-e", doc.Commit+"^{commit}")
	assert.Equal(t, m[2] != "", doc.Modified)
	_, err := time.Parse(time.RFC3339, doc.Date)
	assert.NoError(t, err, "date %q", doc.Date)
	assert.Equal(t, "0", doc.Settings["CGO_ENABLED"])
	assert.Equal(t, "true", doc.Settings["-trimpath"])
	assert.NotEmpty(t, doc.Modules, "-o json lists the modules")
}

// copyTree copies the files of the checkout (tracked, and untracked but not
// ignored) to dir, without git's history.
func copyTree(t *testing.T, dir string) {
	t.Helper()
	out := command(t, root, baseEnv(), "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	for _, name := range strings.Split(strings.TrimSuffix(out, "\x00"), "\x00") {
		src := filepath.Join(root, name)
		fi, err := os.Lstat(src)
		if errors.Is(err, os.ErrNotExist) || err == nil && !fi.Mode().IsRegular() {
			continue // deleted in the working tree, or not a file
		}
		require.NoError(t, err)
		b, err := os.ReadFile(src)
		require.NoError(t, err)
		dst := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		require.NoError(t, os.WriteFile(dst, b, fi.Mode().Perm()))
	}
}

// TestMakeBuildVersions: what `make build` stamps in each state of a tree:
// outside git, without a tag, on the tag of VERSION, after it, with
// changes. Two builds of one commit are the same file.
func TestMakeBuildVersions(t *testing.T) {
	rel := release(t)
	src := filepath.Join(t.TempDir(), "src")
	copyTree(t, src)
	bins := t.TempDir()
	n := 0
	build := func() (string, string, versionDoc) {
		t.Helper()
		n++
		bin := filepath.Join(bins, fmt.Sprintf("keyprov-%d", n))
		command(t, src, baseEnv(), "make", "--no-print-directory", "build", "BIN="+bin)
		line, doc := versionOf(t, bin)
		return bin, line, doc
	}
	env := append(baseEnv(),
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_AUTHOR_DATE=2025-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2025-01-02T03:04:05Z")
	git := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(command(t, src, env, "git", args...))
	}

	// A tree git cannot describe (a source archive): it says so.
	_, line, doc := build()
	assert.Equal(t, fmt.Sprintf("keyprov %s (%s, %s; revision unknown: git could not describe the source tree)", rel, platform, runtime.Version()), line)
	assert.Equal(t, rel, doc.Version)
	assert.Empty(t, doc.Commit)
	_, err := time.Parse(time.RFC3339, doc.Date)
	assert.NoError(t, err, "the build's date: %q", doc.Date)

	// A commit, no tag.
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "a release candidate")
	head := git("rev-parse", "HEAD")
	_, line, doc = build()
	assert.Equal(t, rel+"-g"+head[:12], doc.Version)
	assert.Equal(t, fmt.Sprintf("keyprov %s (%s, %s)", doc.Version, platform, runtime.Version()), line)
	assert.Equal(t, head, doc.Commit)
	assert.Equal(t, "2025-01-02T03:04:05Z", doc.Date, "the commit's date")
	assert.False(t, doc.Modified)

	// The release's tag: the release number alone, and the same file twice.
	git("tag", "v"+rel)
	bin1, line, doc := build()
	assert.Equal(t, fmt.Sprintf("keyprov %s (%s, %s)", rel, platform, runtime.Version()), line)
	assert.Equal(t, head, doc.Commit)
	bin2, _, _ := build()
	b1, err := os.ReadFile(bin1)
	require.NoError(t, err)
	b2, err := os.ReadFile(bin2)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(b1, b2), "two builds of one commit differ")

	// A commit after the tag.
	require.NoError(t, os.WriteFile(filepath.Join(src, "NOTES"), []byte("after the release\n"), 0o644))
	git("add", "NOTES")
	git("commit", "-q", "-m", "after the release")
	head = git("rev-parse", "HEAD")
	_, _, doc = build()
	assert.Equal(t, rel+"-1-g"+head[:12], doc.Version)
	assert.False(t, doc.Modified)

	// Changes not committed.
	require.NoError(t, os.WriteFile(filepath.Join(src, "NOTES"), []byte("changed\n"), 0o644))
	_, line, doc = build()
	assert.Equal(t, rel+"-1-g"+head[:12]+"-dirty", doc.Version)
	assert.Equal(t, fmt.Sprintf("keyprov %s (%s, %s)", doc.Version, platform, runtime.Version()), line)
	assert.True(t, doc.Modified)
}

// TestMakeDist: `make dist` names each binary after its version and
// platform and writes SHA256SUMS for them; by default it builds the four
// platforms of a release. (Only this machine's platform is built here: a
// cross-build of every package is minutes of CPU.)
func TestMakeDist(t *testing.T) {
	rel := release(t)
	dist := filepath.Join(t.TempDir(), "dist")
	out := command(t, root, baseEnv(), "make", "--no-print-directory", "dist", "DIST="+dist, "DIST_PLATFORMS="+platform)
	entries, err := os.ReadDir(dist)
	require.NoError(t, err)
	require.Len(t, entries, 2, "a binary and SHA256SUMS:\n%s", out)
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	require.NoError(t, err)
	var bin string
	for _, e := range entries {
		if e.Name() != "SHA256SUMS" {
			bin = e.Name()
		}
	}
	_, doc := versionOf(t, filepath.Join(dist, bin))
	assert.True(t, strings.HasPrefix(doc.Version, rel), "version %q", doc.Version)
	assert.Equal(t, "keyprov-"+doc.Version+"-"+runtime.GOOS+"-"+runtime.GOARCH, bin)
	assert.Equal(t, platform, doc.Platform)
	if runtime.GOOS == "linux" {
		assertStatic(t, filepath.Join(dist, bin), runtime.GOARCH)
	}
	b, err := os.ReadFile(filepath.Join(dist, bin))
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	assert.Equal(t, hex.EncodeToString(sum[:])+"  "+bin+"\n", string(sums), "SHA256SUMS in sha256sum's format")

	// The default platforms.
	dry := command(t, root, baseEnv(), "make", "--no-print-directory", "-n", "dist", "DIST="+dist)
	assert.Contains(t, dry, "for p in linux/amd64 linux/arm64 darwin/arm64 darwin/amd64; do")
}
