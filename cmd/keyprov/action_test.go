package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// action.yml, as the tests read it.
type actionDef struct {
	Inputs map[string]struct {
		Default string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Value string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string       `yaml:"using"`
		Steps []actionStep `yaml:"steps"`
	} `yaml:"runs"`
}

type actionStep struct {
	Name            string            `yaml:"name"`
	ID              string            `yaml:"id"`
	If              string            `yaml:"if"`
	Uses            string            `yaml:"uses"`
	With            map[string]string `yaml:"with"`
	Shell           string            `yaml:"shell"`
	Env             map[string]string `yaml:"env"`
	Run             string            `yaml:"run"`
	ContinueOnError bool              `yaml:"continue-on-error"`
}

func readAction(t *testing.T) actionDef {
	t.Helper()
	b, err := os.ReadFile(ciAction)
	require.NoError(t, err)
	var a actionDef
	require.NoError(t, yaml.Unmarshal(b, &a))
	require.Equal(t, "composite", a.Runs.Using)
	return a
}

// actionRun is the outcome of one run of the action's steps.
type actionRun struct {
	failed     bool
	failedStep string
	log        string // every step's name, output and errors
	summary    string // $GITHUB_STEP_SUMMARY
	outputs    map[string]string
}

// actionRunner runs the steps of action.yml the way a GitHub runner runs a
// composite action: each step's env evaluated, its script run with bash
// -e -o pipefail in the workspace, GITHUB_OUTPUT, GITHUB_PATH and
// GITHUB_STEP_SUMMARY handled, later steps skipped after a failure unless
// their if says otherwise. Steps that use another action (actions/setup-go)
// are skipped: this machine has Go. Only the expressions the action needs
// are known; any other fails the test.
type actionRunner struct {
	t      *testing.T
	repo   *ciRepo
	api    string // GITHUB_API_URL
	token  string // github.token
	pr     int
	goEnv  []string
	action actionDef
}

const actionRepository = "acme/specs"

func newActionRunner(t *testing.T, r *ciRepo, api, token string) *actionRunner {
	t.Helper()
	// The install step builds keyprov with make: with this process's Go
	// caches, and without the network.
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	require.NoError(t, err)
	vals := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, vals, 3)
	return &actionRunner{t: t, repo: r, api: api, token: token, pr: 7, action: readAction(t), goEnv: []string{
		"GOCACHE=" + vals[0], "GOMODCACHE=" + vals[1], "GOPATH=" + vals[2], "GOPROXY=off", "GOTOOLCHAIN=local",
	}}
}

var actionExpr = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// eval expands the ${{ }} expressions of s.
func (ar *actionRunner) eval(s string, inputs map[string]string, outputs map[string]map[string]string) string {
	t := ar.t
	t.Helper()
	actionPath, err := filepath.Abs("../..")
	require.NoError(t, err)
	return actionExpr.ReplaceAllStringFunc(s, func(m string) string {
		e := actionExpr.FindStringSubmatch(m)[1]
		switch {
		case e == "github.action_path":
			return actionPath
		case e == "github.token":
			return ar.token
		case e == "github.event.pull_request.base.sha":
			return ar.repo.base
		case e == "github.event.pull_request.number":
			return strconv.Itoa(ar.pr)
		case strings.HasPrefix(e, "inputs."):
			name := strings.TrimPrefix(e, "inputs.")
			in, ok := ar.action.Inputs[name]
			require.True(t, ok, "the action has no input %q", name)
			if v, ok := inputs[name]; ok {
				return v
			}
			return ar.eval(in.Default, inputs, outputs)
		case strings.HasPrefix(e, "steps."):
			parts := strings.Split(e, ".")
			require.Len(t, parts, 4, "expression %q", e)
			require.Equal(t, "outputs", parts[2], "expression %q", e)
			return outputs[parts[1]][parts[3]]
		}
		t.Fatalf("the test does not know the expression %q of action.yml", e)
		return ""
	})
}

// runs says whether a step runs, after a failure or not.
func (ar *actionRunner) runs(s actionStep, failed bool) bool {
	cond := strings.TrimSpace(s.If)
	if m := actionExpr.FindStringSubmatch(cond); m != nil && m[0] == cond {
		cond = m[1]
	}
	switch cond {
	case "":
		return !failed
	case "!cancelled()", "always()":
		return true
	}
	ar.t.Fatalf("step %q: the test does not know the condition %q", s.Name, s.If)
	return false
}

// run runs the action's steps with inputs (the others take their default,
// but for scan-exclude: the examples hold example tokens, on purpose).
func (ar *actionRunner) run(with map[string]string) actionRun {
	t := ar.t
	t.Helper()
	inputs := map[string]string{"scan-exclude": "example-tokens.env secrets"}
	for k, v := range with {
		inputs[k] = v
	}
	temp := t.TempDir()
	file := func(name string) string {
		p := filepath.Join(temp, name)
		require.NoError(t, os.WriteFile(p, nil, 0o644))
		return p
	}
	summary, pathFile, envFile := file("summary.md"), file("path"), file("env")
	runnerTemp := filepath.Join(temp, "runner")
	require.NoError(t, os.Mkdir(runnerTemp, 0o755))
	actionPath, err := filepath.Abs("../..")
	require.NoError(t, err)

	var env []string
	for _, kv := range ar.repo.env {
		name, _, _ := strings.Cut(kv, "=")
		if name == "BASE" || strings.HasPrefix(name, "KEYPROV_") {
			continue // the action sets them from its inputs
		}
		env = append(env, kv)
	}
	env = append(env, ar.goEnv...)
	env = append(env, "CI=true", "GITHUB_ACTIONS=true", "RUNNER_TEMP="+runnerTemp,
		"GITHUB_WORKSPACE="+ar.repo.dir, "GITHUB_ACTION_PATH="+actionPath,
		"GITHUB_API_URL="+ar.api, "GITHUB_REPOSITORY="+actionRepository,
		"GITHUB_STEP_SUMMARY="+summary, "GITHUB_PATH="+pathFile, "GITHUB_ENV="+envFile)

	outputs := map[string]map[string]string{}
	var res actionRun
	var log strings.Builder
	for i, s := range ar.action.Runs.Steps {
		if s.Uses != "" {
			require.True(t, strings.HasPrefix(s.Uses, "actions/setup-go@"), "step %q uses %s: the test knows only setup-go", s.Name, s.Uses)
			fmt.Fprintf(&log, "## %s (skipped: this machine has Go)\n", s.Name)
			continue
		}
		if !ar.runs(s, res.failed) {
			fmt.Fprintf(&log, "## %s (skipped)\n", s.Name)
			continue
		}
		require.Equal(t, "bash", s.Shell, "step %q", s.Name)
		require.NotContains(t, s.Run, "${{", "step %q: a script takes values through env, never spliced in", s.Name)
		script := filepath.Join(temp, fmt.Sprintf("step-%d.sh", i))
		require.NoError(t, os.WriteFile(script, []byte(s.Run), 0o644))
		output := file(fmt.Sprintf("output-%d", i))

		stepEnv := append([]string(nil), env...)
		if b, err := os.ReadFile(pathFile); err == nil && len(b) > 0 {
			// Paths added to GITHUB_PATH come first, the last added first.
			path := envValue(stepEnv, "PATH")
			for _, p := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				path = p + string(os.PathListSeparator) + path
			}
			stepEnv = append(stepEnv, "PATH="+path)
		}
		stepEnv = append(stepEnv, "GITHUB_OUTPUT="+output)
		for k, v := range s.Env {
			stepEnv = append(stepEnv, k+"="+ar.eval(v, inputs, outputs))
		}

		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "--noprofile", "--norc", "-e", "-o", "pipefail", script)
		cmd.Dir, cmd.Env = ar.repo.dir, stepEnv
		out, err := cmd.CombinedOutput()
		cancel()
		fmt.Fprintf(&log, "## %s\n%s", s.Name, out)
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			fmt.Fprintf(&log, "(exit %d)\n", exit.ExitCode())
			if !s.ContinueOnError && !res.failed {
				res.failed, res.failedStep = true, s.Name
			}
		} else {
			require.NoError(t, err, "step %q", s.Name)
		}
		if s.ID != "" {
			outputs[s.ID] = readStepOutputs(t, output)
		}
	}
	res.log = log.String()
	b, err := os.ReadFile(summary)
	require.NoError(t, err)
	res.summary = string(b)
	res.outputs = map[string]string{}
	for name, o := range ar.action.Outputs {
		res.outputs[name] = ar.eval(o.Value, inputs, outputs)
	}
	b, err = os.ReadFile(envFile)
	require.NoError(t, err)
	assert.Empty(t, string(b), "the action leaves the job's environment alone")
	return res
}

func envValue(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}

// readStepOutputs parses a GITHUB_OUTPUT file: name=value lines, and
// name<<DELIMITER blocks.
func readStepOutputs(t *testing.T, file string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if name, delim, ok := strings.Cut(line, "<<"); ok && !strings.Contains(name, "=") {
			var val []string
			for sc.Scan() && sc.Text() != delim {
				val = append(val, sc.Text())
			}
			out[name] = strings.Join(val, "\n")
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		require.True(t, ok, "GITHUB_OUTPUT line %q", line)
		out[name] = val
	}
	return out
}

// ghStub is the part of GitHub's REST API that the action calls, for one
// repository and pull request: issue comments and labels.
type ghStub struct {
	*httptest.Server
	t        *testing.T
	token    string
	pr       int
	mu       sync.Mutex
	comments []ghComment
	labels   map[string]bool
	nextID   int64
	requests []string // "METHOD /path"
}

type ghComment struct {
	ID   int64  `json:"id"`
	Body string `json:"body"`
	User struct {
		Login string `json:"login"`
	} `json:"user"`
}

func newGHStub(t *testing.T, token string, pr int) *ghStub {
	s := &ghStub{t: t, token: token, pr: pr, labels: map[string]bool{}, nextID: 1000}
	s.Server = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

func (s *ghStub) add(login, body string) ghComment {
	s.nextID++
	c := ghComment{ID: s.nextID, Body: body}
	c.User.Login = login
	s.comments = append(s.comments, c)
	return c
}

func (s *ghStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r.Method+" "+r.URL.Path)
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		reply(http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return
	}
	issue := fmt.Sprintf("/repos/%s/issues/%d", actionRepository, s.pr)
	var body struct {
		Body   string   `json:"body"`
		Labels []string `json:"labels"`
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPatch {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			reply(http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
			return
		}
	}
	switch p := r.URL.Path; {
	case p == issue+"/comments" && r.Method == http.MethodGet:
		perPage, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		if perPage <= 0 || perPage > 100 {
			perPage = 30
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		lo, hi := min((page-1)*perPage, len(s.comments)), min(page*perPage, len(s.comments))
		reply(http.StatusOK, s.comments[lo:hi])
	case p == issue+"/comments" && r.Method == http.MethodPost:
		reply(http.StatusCreated, s.add("github-actions[bot]", body.Body))
	case strings.HasPrefix(p, "/repos/"+actionRepository+"/issues/comments/") && r.Method == http.MethodPatch:
		id, _ := strconv.ParseInt(strings.TrimPrefix(p, "/repos/"+actionRepository+"/issues/comments/"), 10, 64)
		for i := range s.comments {
			if s.comments[i].ID == id {
				s.comments[i].Body = body.Body
				reply(http.StatusOK, s.comments[i])
				return
			}
		}
		reply(http.StatusNotFound, map[string]string{"message": "Not Found"})
	case p == issue+"/labels" && r.Method == http.MethodPost:
		for _, l := range body.Labels {
			s.labels[l] = true
		}
		reply(http.StatusOK, []any{})
	case strings.HasPrefix(p, issue+"/labels/") && r.Method == http.MethodDelete:
		l := strings.TrimPrefix(p, issue+"/labels/")
		if !s.labels[l] {
			reply(http.StatusNotFound, map[string]string{"message": "Label does not exist"})
			return
		}
		delete(s.labels, l)
		reply(http.StatusOK, []any{})
	default:
		reply(http.StatusNotFound, map[string]string{"message": "Not Found"})
	}
}

// keyprovComments are the comments that start with keyprov's marker.
func (s *ghStub) keyprovComments() []ghComment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var cs []ghComment
	for _, c := range s.comments {
		if strings.HasPrefix(c.Body, "<!-- keyprov-diff -->") {
			cs = append(cs, c)
		}
	}
	return cs
}

// count counts the requests of a method whose path has the prefix.
func (s *ghStub) count(method, prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if m, p, _ := strings.Cut(r, " "); m == method && strings.HasPrefix(p, prefix) {
			n++
		}
	}
	return n
}

func (s *ghStub) hasLabel(l string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.labels[l]
}

// TestActionPostsOneComment runs the action's steps on pull requests to a
// throwaway repository, with GitHub's API a local stub: the review is
// posted as one comment, found again among more than a page of others on
// the next push and updated, never duplicated; a high risk fails the risk
// gate at the default fail-on and labels the pull request, fail-on
// critical lets it pass but not a critical one; fail-on none and comment
// do what they say; the token is never printed.
func TestActionPostsOneComment(t *testing.T) {
	const token = "ghs_stubTokenForTheActionTest0123456789"
	stub := newGHStub(t, token, 7)
	for i := range 120 {
		stub.add("a-reviewer", fmt.Sprintf("Looks good, %d", i))
	}
	r := newCIRepo(t, "tenants-from-json", "")
	ar := newActionRunner(t, r, stub.URL, token)
	var logs strings.Builder
	t.Cleanup(func() {
		assert.NotContains(t, logs.String(), token, "the token in a step's output")
	})
	commentsPath := fmt.Sprintf("/repos/%s/issues/7/comments", actionRepository)

	// A pull request that adds a tenant: the review is posted.
	b, err := os.ReadFile(filepath.Join(r.dir, "tenants.json"))
	require.NoError(t, err)
	r.commit("a plain change", map[string]string{"tenants.json": strings.Replace(string(b), `"tenants": {`, `"tenants": {
    "hooli": {"plan": "basic", "contacts": ["it@hooli.example"]},`, 1)})
	run := ar.run(nil)
	logs.WriteString(run.log)
	require.False(t, run.failed, "step %q failed:\n%s", run.failedStep, run.log)
	cs := stub.keyprovComments()
	require.Len(t, cs, 1, run.log)
	first := cs[0]
	assert.Contains(t, first.Body, "| ➕ | `hooli/api` | added")
	assert.Equal(t, 1, stub.count("POST", commentsPath))
	assert.Equal(t, 0, stub.count("PATCH", ""))
	assert.GreaterOrEqual(t, stub.count("GET", commentsPath), 2, "the comments were read past the first page")
	assert.Equal(t, "none", run.outputs["risk"])
	assert.Contains(t, run.summary, "`hooli/api`", "the review is in the job summary")
	assert.Contains(t, run.log, "keyprov 0.", "the install step built keyprov and printed its version")

	// Another push: the same comment is updated.
	r.commit("another plain change", map[string]string{"keys.hcl": r.appendTo("keys.hcl", probeKey)})
	run = ar.run(nil)
	logs.WriteString(run.log)
	require.False(t, run.failed, "step %q failed:\n%s", run.failedStep, run.log)
	cs = stub.keyprovComments()
	require.Len(t, cs, 1, "one comment, updated:\n%s", run.log)
	assert.Equal(t, first.ID, cs[0].ID)
	assert.Contains(t, cs[0].Body, "`acme/review-probe`")
	assert.Equal(t, 1, stub.count("POST", commentsPath))
	assert.Equal(t, 1, stub.count("PATCH", fmt.Sprintf("/repos/%s/issues/comments/%d", actionRepository, first.ID)))
	assert.False(t, stub.hasLabel("keyprov-risk"))

	// A high risk (a new key with a wildcard permission): the comment says
	// why, the label is added, and the risk gate fails the action at the
	// default fail-on, high.
	r.commit("a high risk", map[string]string{"keys.hcl": r.appendTo("keys.hcl", `
tenant_key "review-wide" {
  tenant      = "acme"
  name        = "Review probe, every permission"
  token       = env("REVIEW_WIDE_KEY")
  permissions = ["cms.*"]
}
`)})
	run = ar.run(nil)
	logs.WriteString(run.log)
	assert.True(t, run.failed, run.log)
	assert.Equal(t, "Risk gate (keyprov diff --fail-on)", run.failedStep, run.log)
	assert.Contains(t, run.log, "::error title=keyprov::The change raises risks at or above 'high'")
	assert.Equal(t, "flagged", run.outputs["risk"])
	cs = stub.keyprovComments()
	require.Len(t, cs, 1)
	assert.Contains(t, cs[0].Body, "**high** `acme/review-wide`")
	assert.True(t, stub.hasLabel("keyprov-risk"))
	assert.Equal(t, 1, stub.count("POST", commentsPath))

	// fail-on critical lets a high risk pass.
	run = ar.run(map[string]string{"fail-on": "critical"})
	logs.WriteString(run.log)
	require.False(t, run.failed, "step %q failed:\n%s", run.failedStep, run.log)
	assert.False(t, stub.hasLabel("keyprov-risk"))

	// A critical risk (a new universal key) fails it.
	r.commit("a critical risk", map[string]string{"keys.hcl": r.appendTo("keys.hcl", probeUniversalKey)})
	run = ar.run(map[string]string{"fail-on": "critical"})
	logs.WriteString(run.log)
	assert.True(t, run.failed, run.log)
	assert.Equal(t, "Risk gate (keyprov diff --fail-on)", run.failedStep, run.log)
	assert.Contains(t, stub.keyprovComments()[0].Body, "**critical** `root/review-probe-all`")
	assert.True(t, stub.hasLabel("keyprov-risk"))
	assert.Len(t, stub.keyprovComments(), 1)

	// fail-on none only comments: the action passes, the label goes.
	run = ar.run(map[string]string{"fail-on": "none"})
	logs.WriteString(run.log)
	require.False(t, run.failed, "step %q failed:\n%s", run.failedStep, run.log)
	assert.Equal(t, "none", run.outputs["risk"])
	assert.False(t, stub.hasLabel("keyprov-risk"))
	assert.Len(t, stub.keyprovComments(), 1)

	// comment "false": no call to GitHub at all; the gate still fails.
	stub.mu.Lock()
	calls := len(stub.requests)
	stub.mu.Unlock()
	run = ar.run(map[string]string{"comment": "false"})
	logs.WriteString(run.log)
	assert.True(t, run.failed)
	assert.Equal(t, "Risk gate (keyprov diff --fail-on)", run.failedStep, run.log)
	stub.mu.Lock()
	assert.Equal(t, calls, len(stub.requests), "no request with comment: false")
	stub.mu.Unlock()

	// A token that GitHub refuses (a fork's, say): a warning, no failure of
	// the comment step itself.
	ar.token = "ghs_notTheRightToken000000000000000000"
	run = ar.run(map[string]string{"fail-on": "none"})
	logs.WriteString(run.log)
	require.False(t, run.failed, "step %q failed:\n%s", run.failedStep, run.log)
	assert.Contains(t, run.log, "::warning title=keyprov::Could not read the pull request's comments")

	assert.NotContains(t, run.log, ar.token)
	stub.mu.Lock()
	defer stub.mu.Unlock()
	for _, c := range stub.comments {
		assert.NotContains(t, c.Body, token)
	}
}

// TestActionVarFiles: the action's input var-files reaches review.sh as
// KEYPROV_VARFILE, paths relative to the repository's root, one a line or
// separated by commas, and replaces keyprov.vars.
func TestActionVarFiles(t *testing.T) {
	r := newCIRepo(t, "tenants-from-json", "specs/tenants")
	r.git("rm", "-q", "specs/tenants/keyprov.vars")
	r.git("commit", "-q", "-m", "no keyprov.vars")
	r.base = r.git("rev-parse", "HEAD")
	r.env = append(r.env, "BASE="+r.base)
	b, err := os.ReadFile(filepath.Join(r.dir, "specs/tenants/tenants.json"))
	require.NoError(t, err)
	r.commit("a tenant", map[string]string{"specs/tenants/tenants.json": strings.Replace(string(b), `"tenants": {`, `"tenants": {
    "hooli": {"plan": "basic", "contacts": ["it@hooli.example"]},`, 1)})

	code, stdout, stderr := r.step("validate")
	assert.Equal(t, exitInvalid, code, "without the variable file:\n%s%s", stdout, stderr)

	env := r.env
	for _, list := range []string{"specs/tenants/tenants.json", "\n  specs/tenants/tenants.json \n\n", "specs/tenants/tenants.json,"} {
		r.env = append(append([]string(nil), env...), "KEYPROV_VARFILE="+list)
		code, stdout, stderr = r.step("validate")
		assert.Equal(t, 0, code, "KEYPROV_VARFILE=%q:\n%s%s", list, stdout, stderr)
		code, stdout, stderr = r.step("diff")
		assert.Equal(t, 0, code, "KEYPROV_VARFILE=%q:\n%s%s", list, stdout, stderr)
		assert.Contains(t, stdout, "| ➕ | `hooli/api` | added")
	}
}
