package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/internal/testutil"
)

// logEvent is one line of stderr with --log-format json.
type logEvent map[string]any

func (e logEvent) str(k string) string { s, _ := e[k].(string); return s }

// parseEvents parses stderr written with --log-format json: every line
// must be one JSON object with a level, a time and a message.
func parseEvents(t *testing.T, what, stderr string) []logEvent {
	t.Helper()
	var out []logEvent
	for i, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if line == "" && stderr == "" {
			break
		}
		var ev logEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Errorf("%s: stderr line %d is not a JSON object: %q", what, i+1, line)
			continue
		}
		for _, k := range []string{"level", "time", "message"} {
			if _, ok := ev[k].(string); !ok {
				t.Errorf("%s: stderr line %d has no %s: %s", what, i+1, k, line)
			}
		}
		out = append(out, ev)
	}
	return out
}

// logText is the messages, errors and fixes of the JSON events of stderr,
// decoded, one event a line: what people would read.
func logText(t *testing.T, stderr string) string {
	t.Helper()
	var b strings.Builder
	for _, ev := range parseEvents(t, "stderr", stderr) {
		fmt.Fprintf(&b, "%s: %s", ev.str("level"), ev.str("message"))
		for _, k := range []string{"error", "fix", "reason", "detail"} {
			if v := ev.str(k); v != "" {
				fmt.Fprintf(&b, " %s=%s", k, v)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// wantEvent is an event a run must log: every field given must match (a
// string field: contain the value).
type wantEvent map[string]any

func (w wantEvent) matches(ev logEvent) bool {
	for k, v := range w {
		got, ok := ev[k]
		if !ok {
			return false
		}
		if s, isStr := v.(string); isStr {
			if gs, _ := got.(string); !strings.Contains(gs, s) {
				return false
			}
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(v) {
			return false
		}
	}
	return true
}

// TestJSONLogs runs every command with --log-format json (through
// KEYPROV_LOG_FORMAT, or the flag), to success and to failure, and parses
// every line of stderr: each is one JSON object. Errors and spec
// diagnostics are events with their fields; blocked keys, expiry warnings
// and refusals are events naming the key, even at KEYPROV_LOG_LEVEL=warn;
// what is for people (plans, lists, diffs) stays on stdout.
func TestJSONLogs(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // the commands read relative paths; not parallel
	dbURL := pgtest.NewDatabase(t)
	write := func(name, text string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	write("keys.hcl", `settings {
  owner = "platform"
}

variable "soon" {
  type = string
}

tenant_key "website" {
  tenant = "acme"
  name   = "Website"
  token  = env("T_SITE")
}

tenant_key "app" {
  tenant  = "acme"
  name    = "App"
  token   = env("T_APP")
  expires = var.soon
}
`)
	write("renamed.hcl", strings.Replace(readFile(t, filepath.Join(dir, "keys.hcl")), `name   = "Website"`, `name   = "Web site"`, 1))
	write("invalid.hcl", `tenant_key "leak" {
  tenant = "acme"
  name   = "Leak"
  token  = "wat_Pq8Rs7Tu6Vw5Xy4Za3Bc2De1Fg0Hi9Jk"
}
`)
	write("unformatted.hcl", "tenant_key \"x\" {\ntenant = \"acme\"\n  name=\"X\"\n  token = env(\"T_SITE\")\n}\n")
	write("broken.hcl", "tenant_key \"x\" {\n")
	write("clean/readme.txt", "nothing to see\n")

	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	u.User = url.UserPassword(u.User.Username(), "Wr0ngPassw0rdX")
	wrongPassword := u.String()
	closed := fmt.Sprintf("postgres://keyprov@127.0.0.1:%d/keys?sslmode=disable", testutil.ClosedPort(t))

	base := map[string]string{
		"KEYPROV_DATABASE_URL": dbURL,
		"KEYPROV_WAIT":         "5s",
		"KEYPROV_ACTOR":        "tester",
		"KEYPROV_LOG_FORMAT":   "json",
		"KEYPROV_VAR_soon":     time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339),
		"T_SITE":               "wat_Lm4N8pQ2rT6vX0zB3dF7hJ1kM5sW9yC2",
		"T_APP":                "wat_Zx9Cv8Bn7Mq6Wr5Et4Yu3Io2Pa1Sd0Fg",
		"PATH":                 os.Getenv("PATH"),
		"HOME":                 dir,
	}
	warn := map[string]string{"KEYPROV_LOG_LEVEL": "warn"}
	type jsonRun struct {
		name   string
		args   []string
		env    map[string]string
		stdin  string
		exit   int
		stdout string      // in stdout, when set
		want   []wantEvent // events, in any order
	}
	keyDiag := func(sev, summary, file, key string) wantEvent {
		return wantEvent{"level": map[string]string{"error": "error", "warning": "warn"}[sev], "severity": sev, "summary": summary, "file": file, "key": key}
	}
	runs := []jsonRun{
		// No command, an unknown one, a bad flag, a bad setting.
		{name: "no command", exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "no command"}}},
		{name: "unknown command", args: []string{"nope"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": `unknown command "nope"`}}},
		{name: "bad flag", args: []string{"plan", "--nope"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "flag provided but not defined: -nope"}}},
		{name: "bad flag with --log-format", args: []string{"plan", "--nope", "--log-format", "json"}, env: map[string]string{"KEYPROV_LOG_FORMAT": "auto"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "-nope"}}},
		{name: "bad setting", args: []string{"plan"}, env: map[string]string{"KEYPROV_WAIT": "forever"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "KEYPROV_WAIT"}}},
		{name: "bad max prune", args: []string{"apply"}, env: map[string]string{"KEYPROV_MAX_PRUNE": "lots"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "KEYPROV_MAX_PRUNE"}}},
		// validate
		{name: "validate", args: []string{"validate"}, stdout: "The spec is valid", want: []wantEvent{keyDiag("warning", "Key expires soon", "keys.hcl", "acme/app")}},
		{name: "validate warn level", args: []string{"validate"}, env: warn, want: []wantEvent{keyDiag("warning", "Key expires soon", "keys.hcl", "acme/app")}},
		{name: "validate invalid", args: []string{"validate", "invalid.hcl"}, exit: exitInvalid, want: []wantEvent{
			keyDiag("error", "Literal token", "invalid.hcl", "acme/leak"), {"line": 4, "column": 12},
			{"level": "error", "message": "The spec is invalid: 1 error"}}},
		// fmt
		{name: "fmt check", args: []string{"fmt", "--check", "keys.hcl"}},
		{name: "fmt unformatted", args: []string{"fmt", "--check", "unformatted.hcl"}, exit: exitInvalid, stdout: "unformatted.hcl", want: []wantEvent{{"level": "error", "message": "Some files are not formatted"}}},
		{name: "fmt syntax error", args: []string{"fmt", "broken.hcl"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "severity": "error", "file": "broken.hcl", "line": 1, "summary": "Unclosed configuration block"}}},
		{name: "fmt missing", args: []string{"fmt", "nope.hcl"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "nope.hcl"}}},
		// diff
		{name: "diff", args: []string{"diff", "keys.hcl", "renamed.hcl"}, stdout: "acme/website"},
		{name: "diff invalid", args: []string{"diff", "keys.hcl", "invalid.hcl"}, exit: exitInvalid, want: []wantEvent{
			keyDiag("error", "Literal token", "invalid.hcl", "acme/leak"), {"level": "error", "message": "The HEAD spec (invalid.hcl) has 1 error"}}},
		{name: "diff arguments", args: []string{"diff"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "want BASE and HEAD"}}},
		// scan
		{name: "scan clean", args: []string{"scan", "clean"}},
		{name: "scan finds", args: []string{"scan", "invalid.hcl"}, exit: exitInvalid, stdout: "invalid.hcl"},
		{name: "scan missing", args: []string{"scan", "nowhere"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "nowhere"}}},
		// token, version
		{name: "token new", args: []string{"token", "new"}, stdout: "wat_"},
		{name: "token bad prefix", args: []string{"token", "new", "--prefix", "a b"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "invalid prefix"}}},
		{name: "token unknown", args: []string{"token", "old"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "unknown subcommand"}}},
		{name: "version", args: []string{"version"}, stdout: "keyprov"},
		{name: "version arguments", args: []string{"version", "extra"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "takes no arguments"}}},
		// plan and apply
		{name: "plan invalid", args: []string{"plan", "-f", "invalid.hcl"}, exit: exitInvalid, want: []wantEvent{
			keyDiag("error", "Literal token", "invalid.hcl", "acme/leak"), {"level": "error", "message": "spec invalid", "errors": 1}}},
		{name: "plan", args: []string{"plan"}, env: warn, stdout: "acme/website", want: []wantEvent{{"level": "warn", "key": "acme/app", "kind": "expiring"}}},
		{name: "apply", args: []string{"apply"}, stdout: "Apply complete", want: []wantEvent{
			{"level": "warn", "key": "acme/app", "kind": "expiring"}, {"level": "info", "message": "apply finished", "created": 2}}},
		{name: "apply unreachable", args: []string{"apply"}, env: map[string]string{"KEYPROV_DATABASE_URL": closed, "KEYPROV_WAIT": "300ms"}, exit: exitStore, want: []wantEvent{
			{"level": "warn", "message": "database not reachable yet, retrying"}, {"level": "error", "message": "database unavailable", "error": "not reachable after"}}},
		{name: "apply rejected", args: []string{"apply"}, env: map[string]string{"KEYPROV_DATABASE_URL": wrongPassword}, exit: exitRejected, want: []wantEvent{
			{"level": "error", "error": "password authentication failed", "fix": "password"}}},
		{name: "apply malformed URL", args: []string{"apply"}, env: map[string]string{"KEYPROV_DATABASE_URL": "postgres://x:Pw@localhost:99999999/keys"}, exit: exitInvalid, want: []wantEvent{
			{"level": "error", "message": "invalid database URL"}}},
		{name: "plan unexpected argument", args: []string{"plan", "keys.hcl"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "unexpected argument"}}},
		// a saved plan
		{name: "plan out", args: []string{"plan", "-out", "saved.plan"}},
		{name: "show", args: []string{"show", "saved.plan"}},
		{name: "show missing", args: []string{"show", "nope.plan"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "nope.plan"}}},
		// revoke, then a blocked key and a refusal
		{name: "revoke", args: []string{"revoke", "acme/website", "--reason", "leaked in build log"}, stdout: "Revoked acme/website"},
		{name: "revoke missing", args: []string{"revoke", "acme/nope", "--reason", "x"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "no key acme/nope in the store"}}},
		{name: "revoke without reason", args: []string{"revoke", "acme/app"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "--reason is required"}}},
		{name: "apply blocked", args: []string{"apply"}, env: warn, stdout: "blocked", want: []wantEvent{
			{"level": "warn", "key": "acme/website", "message": "key blocked", "reason": "token was revoked"}}},
		{name: "apply strict", args: []string{"apply", "--strict"}, env: warn, exit: exitRefused, want: []wantEvent{
			{"level": "error", "key": "acme/website", "message": "apply refused", "reason": "blocked (--strict)"},
			{"level": "error", "message": "apply finished", "refused": true}}},
		{name: "plan strict", args: []string{"plan", "--strict"}, env: warn, exit: exitRefused, want: []wantEvent{
			{"level": "error", "key": "acme/website", "message": "the apply would be refused"}}},
		// disable, enable
		{name: "disable", args: []string{"disable", "acme/app", "--reason", "incident 42"}, stdout: "acme/app"},
		{name: "disable missing", args: []string{"disable", "acme/nope", "--reason", "x"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "acme/nope"}}},
		{name: "enable", args: []string{"enable", "acme/app", "--reason", "resolved"}, stdout: "acme/app"},
		{name: "enable arguments", args: []string{"enable"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "want one key address"}}},
		// history, list, verify
		{name: "history", args: []string{"history"}, stdout: "acme/website"},
		{name: "history arguments", args: []string{"history", "a/b", "c/d"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "want at most one key address"}}},
		{name: "list", args: []string{"list"}, stdout: "acme/app"},
		{name: "list argument", args: []string{"list", "acme"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "unexpected argument"}}},
		{name: "list unreachable", args: []string{"list"}, env: map[string]string{"KEYPROV_DATABASE_URL": closed, "KEYPROV_WAIT": "0s"}, exit: exitStore, want: []wantEvent{{"level": "error", "message": "database unavailable"}}},
		{name: "verify", args: []string{"verify"}, stdin: "wat_Zx9Cv8Bn7Mq6Wr5Et4Yu3Io2Pa1Sd0Fg", stdout: "acme/app"},
		{name: "verify revoked", args: []string{"verify"}, stdin: "wat_Lm4N8pQ2rT6vX0zB3dF7hJ1kM5sW9yC2", exit: exitInvalid, stdout: "revoked"},
		{name: "verify argument", args: []string{"verify", "x"}, exit: exitInvalid, want: []wantEvent{{"level": "error", "message": "standard input"}}},
		{name: "verify rejected", args: []string{"verify"}, stdin: "wat_x", env: map[string]string{"KEYPROV_DATABASE_URL": wrongPassword}, exit: exitRejected, want: []wantEvent{{"level": "error", "error": "password authentication failed"}}},
	}
	ctx := context.Background()
	for _, r := range runs {
		environ := map[string]string{}
		for k, v := range base {
			environ[k] = v
		}
		for k, v := range r.env {
			environ[k] = v
		}
		var env []string
		for k, v := range environ {
			env = append(env, k+"="+v)
		}
		var stdout, stderr bytes.Buffer
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		code := run(rctx, r.args, stdio{strings.NewReader(r.stdin), &stdout, &stderr}, env)
		cancel()
		if !assert.Equal(t, r.exit, code, "%s: exit status\nstdout:\n%s\nstderr:\n%s", r.name, stdout.String(), stderr.String()) {
			continue
		}
		events := parseEvents(t, r.name, stderr.String())
		if r.exit != exitOK && r.exit != exitChanges && len(r.want) > 0 {
			assert.NotEmpty(t, events, "%s: a failure says why", r.name)
		}
		for _, w := range r.want {
			found := false
			for _, ev := range events {
				found = found || w.matches(ev)
			}
			assert.True(t, found, "%s: no event %v in stderr:\n%s", r.name, w, stderr.String())
		}
		if r.stdout != "" {
			assert.Contains(t, stdout.String(), r.stdout, "%s: output for people is on stdout", r.name)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}
