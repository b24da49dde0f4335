package pgtest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoRoot is the directory of go.mod above the working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.mod above the working directory")
		dir = parent
	}
}

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), name))
	require.NoError(t, err)
	return string(b)
}

// packageSet returns the sorted package names of words, without variables.
func packageSet(words []string) []string {
	var out []string
	for _, w := range words {
		if w != "" && !strings.HasPrefix(w, "$") && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	sort.Strings(out)
	return out
}

// TestSetupMatchesCI: the README's set-up section installs exactly the
// Debian packages that .ci/run installs when they are missing, and
// make test's first check (make deps) names the same ones, but make,
// which runs it.
func TestSetupMatchesCI(t *testing.T) {
	install := regexp.MustCompile(`apt-get install -y ([^#&;|\n]+)`)
	added := regexp.MustCompile(`missing="\$\$?missing ([a-z0-9.+-]+)"`)

	var ci []string
	run := readRepoFile(t, ".ci/run")
	for _, m := range install.FindAllStringSubmatch(run, -1) {
		ci = append(ci, strings.Fields(m[1])...)
	}
	for _, m := range added.FindAllStringSubmatch(run, -1) {
		ci = append(ci, m[1])
	}
	if strings.Contains(run, `for tool in make git; do`) {
		ci = append(ci, "make", "git")
	}
	ci = packageSet(ci)

	readme := readRepoFile(t, "README.md")
	start := strings.Index(readme, "\n## Set-up on a fresh machine\n")
	require.GreaterOrEqual(t, start, 0, "README.md has a set-up section")
	section := readme[start+1:]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	lines := install.FindAllStringSubmatch(section, -1)
	require.Len(t, lines, 1, "the set-up section has one apt-get install line")
	readmePkgs := packageSet(strings.Fields(lines[0][1]))
	assert.Equal(t, ci, readmePkgs, "README's set-up section installs what .ci/run installs")

	makefile := readRepoFile(t, "Makefile")
	i := strings.Index(makefile, "\ndeps:\n")
	require.GreaterOrEqual(t, i, 0, "the Makefile has a deps target")
	recipe := makefile[i+1:]
	recipe = recipe[:strings.Index(recipe, "\n\n")]
	var deps []string
	for _, m := range added.FindAllStringSubmatch(recipe, -1) {
		deps = append(deps, m[1])
	}
	assert.Equal(t, ci, packageSet(append(deps, "make")), "make deps checks what .ci/run installs (but make)")
	assert.Contains(t, makefile, "$(MAKE) --no-print-directory deps ", "make test checks deps first")
}

// TestMakeRunFromPrivateCheckout runs make run twice from a copy of the
// checkout in a directory the postgres user cannot enter (mode 0700 under
// a parent of mode 0700, as a checkout in /root is): the first applies the
// spec, the second changes nothing. As root, the server runs as postgres,
// and the cluster's files live in a directory of its own under /var/tmp
// that .pgdata/cluster links to; otherwise the cluster lives in .pgdata.
func TestMakeRunFromPrivateCheckout(t *testing.T) {
	root := repoRoot(t)
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make run needs make: apt-get install -y make")
	}
	parent := t.TempDir()
	require.NoError(t, os.Chmod(parent, 0o700))
	dir := filepath.Join(parent, "checkout")
	require.NoError(t, os.Mkdir(dir, 0o700))
	// The committed tree, as a fresh clone would have it.
	archive := exec.Command("git", "archive", "--format=tar", "HEAD")
	archive.Dir = root
	tarball, err := archive.Output()
	require.NoError(t, err, "git archive HEAD (the test copies the committed checkout)")
	untar := exec.Command("tar", "-x", "-C", dir)
	untar.Stdin = bytes.NewReader(tarball)
	out, err := untar.CombinedOutput()
	require.NoError(t, err, "%s", out)

	makeRun := func(target string) string {
		t.Helper()
		cmd := exec.Command("make", "--no-print-directory", target)
		cmd.Dir = dir
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "KEYPROV_") && !strings.HasPrefix(kv, "MAKEFLAGS=") && !strings.HasPrefix(kv, "MFLAGS=") && !strings.HasPrefix(kv, "DATABASE_URL=") {
				env = append(env, kv)
			}
		}
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "make %s in %s:\n%s", target, dir, out)
		return string(out)
	}
	t.Cleanup(func() {
		stop := exec.Command("make", "--no-print-directory", "stop")
		stop.Dir = dir
		_ = stop.Run()
		if loc, err := Location(filepath.Join(dir, ".pgdata")); err == nil && !strings.HasPrefix(loc, dir) {
			_ = os.RemoveAll(loc)
		}
	})

	start := time.Now()
	first := makeRun("run")
	assert.Regexp(t, `(?m)^Apply complete: [1-9]\d* created`, first, "the first make run applies keys.hcl")
	second := makeRun("run")
	assert.Contains(t, second, "No changes", "the second make run changes nothing")
	assert.Regexp(t, `(?m)^Apply complete: 0 created, 0 updated, 0 rotated, [1-9]\d* unchanged\. 0 rows written\.`, second)
	t.Logf("make run twice from %s: %s", dir, time.Since(start).Round(time.Second))

	loc, err := Location(filepath.Join(dir, ".pgdata"))
	require.NoError(t, err)
	if os.Geteuid() == 0 {
		assert.True(t, strings.HasPrefix(loc, "/var/tmp/keyprov-pg-") || strings.HasPrefix(loc, os.TempDir()), "the cluster lives where postgres can enter: %s", loc)
		assert.NotContains(t, loc, dir)
		assert.Contains(t, first, "cannot enter "+filepath.Join(dir, ".pgdata")+": the cluster lives in "+loc, "make run says where")
		fi, err := os.Lstat(loc)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	} else {
		assert.Equal(t, filepath.Join(dir, ".pgdata"), loc)
	}
	_, err = os.Stat(filepath.Join(loc, "data", "PG_VERSION"))
	assert.NoError(t, err, "the cluster's data is in %s", loc)
	url, err := os.ReadFile(filepath.Join(dir, ".pgdata", "url"))
	require.NoError(t, err)
	assert.Contains(t, string(url), "postgres://")
}
