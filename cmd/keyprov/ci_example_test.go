package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/token"
)

// The CI example is examples/ci/keyprov-review.yml, which runs keyprov's
// action (action.yml), whose checks are the steps of examples/ci/review.sh.
// These tests run those steps, with the keyprov binary built from this
// package, against a pull request made on every example spec of examples/:
// the action must be able to review each. TestActionPostsOneComment runs
// the action's steps themselves.

const (
	ciWorkflow = "../../examples/ci/keyprov-review.yml"
	ciAction   = "../../action.yml"
	ciScript   = "../../examples/ci/review.sh"
	ciExamples = "../../examples"
)

// reviewSteps are the review.sh steps the action runs, in order.
func reviewSteps(t *testing.T) []string {
	t.Helper()
	action := readAction(t)
	call := regexp.MustCompile(`bash "\$REVIEW" (\w+)`)
	var steps []string
	for _, s := range action.Runs.Steps {
		for _, m := range call.FindAllStringSubmatch(s.Run, -1) {
			require.True(t, strings.HasSuffix(s.Env["REVIEW"], "/examples/ci/review.sh"), "step %q: REVIEW is the review script, not %q", s.Name, s.Env["REVIEW"])
			steps = append(steps, m[1])
		}
	}
	return steps
}

// exampleSpecs are the directories of examples/ that hold a spec.
func exampleSpecs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(ciExamples)
	require.NoError(t, err)
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(ciExamples, e.Name()))
		require.NoError(t, err)
		for _, f := range files {
			if !f.IsDir() && spec.IsSpecFile(f.Name()) {
				dirs = append(dirs, e.Name())
				break
			}
		}
	}
	return dirs
}

// TestCIWorkflowSteps: the action runs every check of the review, each
// through review.sh, so that TestCIExampleReviewsEveryExample runs what
// the action runs; the workflow runs the action of this release.
func TestCIWorkflowSteps(t *testing.T) {
	assert.Equal(t, []string{"fmt", "validate", "scan", "history", "diff", "comment"}, reviewSteps(t))

	b, err := os.ReadFile(ciWorkflow)
	require.NoError(t, err)
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Uses string            `yaml:"uses"`
				With map[string]string `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(b, &wf))
	v, err := os.ReadFile("../../VERSION")
	require.NoError(t, err)
	inputs := readAction(t).Inputs
	uses := 0
	for _, s := range wf.Jobs["review"].Steps {
		if !strings.HasPrefix(s.Uses, "keyprov/keyprov@") && s.Uses != "./" {
			continue
		}
		uses++
		assert.Equal(t, "keyprov/keyprov@v"+strings.TrimSpace(string(v)), s.Uses, "the workflow names the action of this release")
		for k := range s.With {
			assert.Contains(t, inputs, k, "the workflow sets %q, which the action does not take", k)
		}
	}
	assert.Equal(t, 1, uses, "the workflow runs keyprov's action once")
}

// ciRepo is a git repository holding one example: BASE is the example as
// it is, HEAD a change to it.
type ciRepo struct {
	t    *testing.T
	dir  string
	env  []string
	base string
}

// newCIRepo copies the example into a new repository, at specDir (""
// for the root), and commits it as the base.
func newCIRepo(t *testing.T, example, specDir string) *ciRepo {
	t.Helper()
	dir := t.TempDir()
	bin := keyprovBinary(t)
	r := &ciRepo{t: t, dir: dir, env: []string{
		"PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + dir, "NO_COLOR=1", "LANG=C",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		// The examples hold example tokens, on purpose.
		"KEYPROV_SCAN_EXCLUDE=example-tokens.env secrets",
	}}
	if specDir != "" {
		r.env = append(r.env, "KEYPROV_FILE="+specDir)
	}
	require.NoError(t, os.CopyFS(filepath.Join(dir, specDir), os.DirFS(filepath.Join(ciExamples, example))))
	r.git("init", "-q", "-b", "main")
	r.git("add", "-A")
	r.git("commit", "-q", "-m", "base")
	r.base = r.git("rev-parse", "HEAD")
	r.env = append(r.env, "BASE="+r.base)
	return r
}

func (r *ciRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = r.dir, r.env
	out, err := cmd.CombinedOutput()
	require.NoError(r.t, err, "git %s: %s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// commit writes files (relative to the repository) and commits them.
func (r *ciRepo) commit(msg string, files map[string]string) {
	r.t.Helper()
	for name, text := range files {
		p := filepath.Join(r.dir, name)
		require.NoError(r.t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(r.t, os.WriteFile(p, []byte(text), 0o644))
	}
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
}

// appendTo returns the file's text with more appended.
func (r *ciRepo) appendTo(name, more string) string {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.dir, name))
	require.NoError(r.t, err)
	return string(b) + more
}

// step runs one step of review.sh as the workflow does.
func (r *ciRepo) step(name string) (code int, stdout, stderr string) {
	r.t.Helper()
	script, err := filepath.Abs(ciScript)
	require.NoError(r.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, name)
	cmd.Dir, cmd.Env = r.dir, r.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), out.String(), errb.String()
	}
	require.NoError(r.t, err)
	return 0, out.String(), errb.String()
}

// specFile is the spec file of the example that a change adds keys to.
func specFile(specDir string) string { return filepath.Join(specDir, "keys.hcl") }

const probeKey = `
tenant_key "review-probe" {
  tenant = "acme"
  name   = "Review probe"
  token  = env("REVIEW_PROBE_KEY")
}
`

const probeUniversalKey = `
universal_key "review-probe-all" {
  name  = "Review probe, every tenant"
  token = env("REVIEW_PROBE_ALL_KEY")
}
`

// TestCIExampleReviewsEveryExample runs the workflow's steps on a pull
// request to each example spec, with the spec at the repository's root
// (KEYPROV_FILE unset) and in a directory (KEYPROV_FILE=specs/NAME): every
// check passes on a plain change and the review shows it; a risky change
// fails the risk gate; a token committed and removed again fails the
// history scan.
func TestCIExampleReviewsEveryExample(t *testing.T) {
	steps := reviewSteps(t)
	require.Contains(t, steps, "diff")
	examples := exampleSpecs(t)
	require.Contains(t, examples, "tenants-from-json")
	for _, example := range examples {
		for layout, specDir := range map[string]string{"root": "", "dir": "specs/" + example} {
			t.Run(example+"/"+layout, func(t *testing.T) {
				r := newCIRepo(t, example, specDir)
				keys := specFile(specDir)
				change := map[string]string{keys: r.appendTo(keys, probeKey)}
				var wantKeys []string
				if example == "tenants-from-json" {
					// A pull request that adds a tenant to the variable file.
					vars := filepath.Join(specDir, "tenants.json")
					b, err := os.ReadFile(filepath.Join(r.dir, vars))
					require.NoError(t, err)
					change[vars] = strings.Replace(string(b), `"tenants": {`, `"tenants": {
    "hooli": {"plan": "basic", "contacts": ["it@hooli.example"]},`, 1)
					wantKeys = append(wantKeys, "hooli/api")
				}
				r.commit("a plain change", change)

				for _, s := range steps {
					if s == "comment" {
						continue // needs GitHub's API: TestActionPostsOneComment
					}
					code, stdout, stderr := r.step(s)
					require.Equal(t, 0, code, "review.sh %s failed:\n%s%s", s, stdout, stderr)
					if s == "diff" {
						assert.True(t, strings.HasPrefix(stdout, "<!-- keyprov-diff -->\n"), "the review is the pull-request comment:\n%s", stdout)
						for _, k := range append(wantKeys, "acme/review-probe") {
							assert.Contains(t, stdout, "| ➕ | `"+k+"` | added")
						}
					}
				}

				// A new universal key: the review flags it and the gate fails.
				r.commit("a risky change", map[string]string{keys: r.appendTo(keys, probeUniversalKey)})
				code, stdout, stderr := r.step("diff")
				assert.Equal(t, exitRefused, code, "%s%s", stdout, stderr)
				assert.Contains(t, stdout, "**critical** `root/review-probe-all`")

				// A token committed and removed again: the files are clean,
				// the pull request's commits are not.
				tok, err := token.Generate("wat_")
				require.NoError(t, err)
				r.commit("a token", map[string]string{"notes.txt": "key: " + tok.Reveal() + "\n"})
				r.commit("no token", map[string]string{"notes.txt": "key: (removed)\n"})
				code, stdout, stderr = r.step("scan")
				assert.Equal(t, 0, code, "%s%s", stdout, stderr)
				code, stdout, stderr = r.step("history")
				assert.Equal(t, exitInvalid, code, "%s%s", stdout, stderr)
				assert.Contains(t, stdout, "::error file=notes.txt")
				assert.NotContains(t, stdout+stderr, tok.Reveal())
			})
		}
	}
}
