package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/internal/testsummary"
)

// Secrets of TestSecrets. The tokens look random and pass every rule but
// the weak ones, which break one rule each; the password is the database
// role's.
var (
	secretTokens = map[string]string{
		"TOK_FRONTEND":     "wat_Rk4Tz8Wq1Yb6Nv3Lp9Xc2Md7Hs5Jf0Ge",
		"TOK_SITE_ACME":    "wat_Gd2Hn7Qp4Vs9Kx1Bz6Wm3Tc8Ly5Rf0Ja",
		"TOK_SITE_GLOBEX":  "wat_Pv6Ms1Xe8Qd3Zj5Hb0Wk7Nf2Tr9Lc4Ya",
		"TOK_BLOG":         "wat_Uy3Fb9Kt6Pw1Dn8Sm4Zq7Vh2Xj5Rc0Ge",
		"TOK_FRONTEND_NEW": "wat_Cw8Jr2Ld5Ns9Xp1Vg4Zk7Qm3Hb6Tf0Ye",
		"TOK_THIEF":        "wat_Ez5Qn1Wv8Hc3Rb6Xt9Kd2Ms7Jp4Lf0Ua",
	}
	// Tokens that break a rule; they are secrets all the same.
	weakTokens = map[string]string{
		"TOK_WEAK":   "wat_kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk",
		"TOK_SPACE":  "wat_Mb7Tq2Xn5Kw9 Hd3Zr8Vp1Ls6Jc4Gf0Ya",
		"TOK_PREFIX": "sk_live_Nq3Wz8Jr5Tb1Xv6Kd9Hm2Pc7Ls4Fg0Ya",
		"TOK_SHORT":  "wat_Yh6Rk2Vb9Qe",
	}
	secretPassword = "Pw-s3cr3t-Vq8Zk2Rm5Xn"
)

// secretScanner looks for the test's secrets in everything a run leaves:
// each token, each token without its prefix, and the password.
type secretScanner struct {
	t        *testing.T
	needles  map[string]string // text -> what it is
	runs     int
	bytes    int64
	findings []string
}

func newSecretScanner(t *testing.T) *secretScanner {
	s := &secretScanner{t: t, needles: map[string]string{secretPassword: "the database password"}}
	for _, set := range []map[string]string{secretTokens, weakTokens} {
		for name, tok := range set {
			s.needles[tok] = "the token " + name
			_, body, _ := strings.Cut(tok, "_")
			if strings.HasPrefix(tok, "sk_live_") {
				body = strings.TrimPrefix(tok, "sk_live_")
			}
			s.needles[body] = "the token " + name + " without its prefix"
			if len(body) >= 24 {
				s.needles[body[:len(body)/2]] = "the first half of the token " + name
				s.needles[body[len(body)/2:]] = "the second half of the token " + name
			}
		}
	}
	s.needles[secretPassword[:len(secretPassword)/2]] = "the first half of the database password"
	s.needles[secretPassword[len(secretPassword)/2:]] = "the second half of the database password"
	return s
}

// scan records every secret found in b, which came from where.
func (s *secretScanner) scan(where string, b []byte) {
	s.bytes += int64(len(b))
	for needle, what := range s.needles {
		if bytes.Contains(b, []byte(needle)) {
			s.findings = append(s.findings, fmt.Sprintf("%s holds %s", where, what))
		}
	}
}

// fileStates records size, time and digest of every file under dir.
func fileStates(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[p] = sha256.Sum256(b)
		return nil
	})
	require.NoError(t, err)
	return out
}

// secretRun is one command of TestSecrets.
type secretRun struct {
	name  string
	args  []string
	env   map[string]string // added to the base environment; "" removes
	stdin string
	exit  int
}

// TestSecrets runs every command, in every output format and at every log
// level, through success and every kind of failure, with known tokens in
// the environment and in files and a database URL with a known password.
// It scans stdout, stderr, every file a run wrote and every row of the
// store (events, keys, tokens and every other table of the schema, dumped
// as text) for each token, each token without its prefix and the password:
// there must be none. It reports how many runs and bytes it scanned.
func TestSecrets(t *testing.T) {
	admin := pgtest.AdminURL(t)
	role := fmt.Sprintf("secret_tester_%d", time.Now().UnixNano()%1_000_000)
	ctx := context.Background()
	conn := pgtest.Connect(t, admin)
	_, err := conn.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN SUPERUSER PASSWORD '"+secretPassword+"'")
	require.NoError(t, err)
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, admin)
		if err == nil {
			_, _ = c.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize())
			_ = c.Close(ctx)
		}
	})
	dbURL := pgtest.WithUser(pgtest.NewDatabase(t), role, secretPassword)

	dir := t.TempDir()
	t.Chdir(dir)
	for name, content := range secretSpecFiles {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "secrets"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets/blog.txt"), []byte(secretTokens["TOK_BLOG"]+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "db-url.txt"), []byte(dbURL+"\n"), 0o600))
	// Secrets files that hostile specs point at: a JSON object of tokens,
	// one that is not JSON right after a token, one with a duplicate key.
	secretsJSON := `{"acme": "` + secretTokens["TOK_SITE_ACME"] + `", "globex": "` + secretTokens["TOK_SITE_GLOBEX"] + `"}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets/keys.json"), []byte(secretsJSON), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets/bad.json"), []byte(`{"acme": "`+secretTokens["TOK_SITE_ACME"]+`" "globex": 1}`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets/dup.json"), []byte(`{"acme": "`+secretTokens["TOK_SITE_ACME"]+`", "`+secretTokens["TOK_SITE_GLOBEX"]+`": 1, "`+secretTokens["TOK_SITE_GLOBEX"]+`": 2}`), 0o600))
	// A spec folder where a *.hcl.json is a symlink to a secrets file and
	// another to the database-URL file (Kubernetes mounts through symlinks).
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "linked"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "linked/keys.hcl"), []byte(secretSpecFiles["keys.hcl"]), 0o644))
	require.NoError(t, os.Symlink("../secrets/keys.json", filepath.Join(dir, "linked/z.hcl.json")))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "linked-hcl"), 0o755))
	require.NoError(t, os.Symlink("../secrets/keys.json", filepath.Join(dir, "linked-hcl/z.hcl")))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "linked-url"), 0o755))
	require.NoError(t, os.Symlink("../db-url.txt", filepath.Join(dir, "linked-url/z.hcl")))

	// A repository whose history holds a token that was committed and
	// deleted later, for scan --history.
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "git %v: %s", args, out)
	}
	git("init", "-q", "-b", "main")
	git("add", "keys.hcl", "rotate.hcl")
	git("commit", "-q", "-m", "spec")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "leaked.env"), []byte("FRONTEND_KEY="+secretTokens["TOK_FRONTEND"]+"\n"), 0o600))
	git("add", "leaked.env")
	git("commit", "-q", "-m", "oops")
	git("rm", "-q", "leaked.env")
	git("commit", "-q", "-m", "remove the token")

	base := map[string]string{
		"KEYPROV_DATABASE_URL": dbURL,
		"KEYPROV_WAIT":         "5s",
		"KEYPROV_ACTOR":        "secrets-test",
		"KEYPROV_LOG_FORMAT":   "json",
		"PATH":                 os.Getenv("PATH"),
		"HOME":                 os.Getenv("HOME"),
	}
	for k, v := range secretTokens {
		base[k] = v
	}
	base["TOK_LIST"] = secretTokens["TOK_FRONTEND"] + "," + secretTokens["TOK_BLOG"] + "," + secretTokens["TOK_FRONTEND"]
	base["TOK_PAD"] = secretTokens["TOK_THIEF"][4:30]
	closed := "postgres://" + role + ":" + secretPassword + "@127.0.0.1:1/keyprov?sslmode=disable&connect_timeout=1"
	unavailable := map[string]string{"KEYPROV_DATABASE_URL": closed, "KEYPROV_WAIT": "0s"}

	runs := []secretRun{
		// Offline validation, every format.
		{name: "validate", args: []string{"validate"}},
		{name: "validate json", args: []string{"validate", "-o", "json"}},
		{name: "validate github", args: []string{"validate", "-o", "github", "--log-level", "trace"}},
		{name: "validate secrets", args: []string{"validate", "--secrets", "--log-level", "debug"}},
		{name: "validate secrets json", args: []string{"validate", "--secrets", "-o", "json"}},
		// fmt reads and writes spec files.
		{name: "fmt check", args: []string{"fmt", "-check", "fmt/ugly.hcl"}, exit: 1},
		{name: "fmt diff", args: []string{"fmt", "-diff", "fmt/ugly.hcl"}},
		{name: "fmt stdin", args: []string{"fmt", "-"}, stdin: secretSpecFiles["fmt/ugly.hcl"]},
		// Plans and applies in every format and log level.
		{name: "plan", args: []string{"plan", "--log-level", "debug"}},
		{name: "plan json", args: []string{"plan", "-o", "json", "--log-level", "trace"}},
		{name: "plan markdown", args: []string{"plan", "-o", "markdown", "--detailed-exitcode"}, exit: 2},
		{name: "plan fail-on", args: []string{"plan", "--fail-on", "high", "-o", "json", "--log-level", "trace"}, exit: 4},
		{name: "apply fail-on", args: []string{"apply", "--fail-on", "high", "--log-level", "trace"}, exit: 4},
		{name: "apply json", args: []string{"apply", "-o", "json", "--log-level", "trace"}},
		{name: "apply text", args: []string{"apply", "--log-level", "debug", "--log-format", "console"}},
		{name: "apply markdown", args: []string{"apply", "-o", "markdown", "--log-level", "trace"}},
		{name: "apply database-url flag", args: []string{"apply", "--database-url", dbURL, "--log-level", "trace"}, env: map[string]string{"KEYPROV_DATABASE_URL": ""}},
		{name: "apply database-url file", args: []string{"apply", "--log-level", "trace"}, env: map[string]string{"KEYPROV_DATABASE_URL": "", "KEYPROV_DATABASE_URL_FILE": "db-url.txt"}},
		// Rotation with a previous token.
		{name: "plan rotation", args: []string{"plan", "-f", "rotate.hcl", "-o", "json", "--log-level", "trace"}},
		{name: "apply rotation", args: []string{"apply", "-f", "rotate.hcl", "--log-level", "trace"}},
		{name: "apply rotation markdown", args: []string{"apply", "-f", "rotate.hcl", "-o", "markdown"}},
		// Reading the store.
		{name: "list", args: []string{"list", "--log-level", "trace"}},
		{name: "list json", args: []string{"list", "-o", "json", "--all"}},
		{name: "history", args: []string{"history", "--log-level", "trace"}},
		{name: "history json", args: []string{"history", "-o", "json"}},
		{name: "history of a key", args: []string{"history", "root/frontend", "-o", "json"}},
		// An operator's disable, a held key, and enable.
		{name: "disable", args: []string{"disable", "acme/site", "--reason", "suspended", "--log-level", "trace"}},
		{name: "plan held", args: []string{"plan", "-o", "json", "--strict", "--log-level", "trace"}},
		{name: "list disabled", args: []string{"list", "-o", "json"}},
		{name: "enable", args: []string{"enable", "acme/site", "--reason", "paid", "--log-level", "trace"}},
		// A saved plan: written, shown in every format, applied without
		// the spec or any token, and refused once the store moved.
		{name: "plan -out", args: []string{"plan", "-f", "rotate.hcl", "-out", "saved.plan", "--log-level", "trace"}},
		{name: "show", args: []string{"show", "saved.plan"}},
		{name: "show json", args: []string{"show", "-o", "json", "saved.plan"}},
		{name: "show markdown", args: []string{"show", "-o", "markdown", "saved.plan"}},
		{name: "apply saved plan", args: []string{"apply", "saved.plan", "--log-level", "trace"}, env: map[string]string{"TOK_FRONTEND": "", "TOK_FRONTEND_NEW": "", "TOK_SITE_ACME": "", "TOK_SITE_GLOBEX": ""}},
		{name: "list unused", args: []string{"list", "--unused-for", "30d", "-o", "json"}},
		{name: "disable a token", args: []string{"disable", secretTokens["TOK_SITE_ACME"], "--reason", "x"}, exit: 1},
		{name: "disable with a token as reason", args: []string{"disable", "acme/site", "--reason", secretTokens["TOK_SITE_ACME"]}, exit: 1},
		// Verify: every outcome.
		{name: "verify", args: []string{"verify", "--log-level", "trace"}, stdin: secretTokens["TOK_SITE_ACME"]},
		{name: "verify json", args: []string{"verify", "-o", "json"}, stdin: secretTokens["TOK_FRONTEND_NEW"] + "\n"},
		{name: "verify previous", args: []string{"verify", "-o", "json", "--log-level", "debug"}, stdin: secretTokens["TOK_FRONTEND"]},
		{name: "verify scope denied", args: []string{"verify", "--tenant", "globex"}, stdin: secretTokens["TOK_SITE_ACME"], exit: 1},
		{name: "verify unknown", args: []string{"verify", "-o", "json"}, stdin: secretTokens["TOK_THIEF"], exit: 1},
		{name: "verify malformed", args: []string{"verify", "--log-level", "trace"}, stdin: weakTokens["TOK_SPACE"], exit: 1},
		{name: "verify argument", args: []string{"verify", secretTokens["TOK_BLOG"]}, exit: 1},
		// Revocation, and a revoked token: blocked, refused with --strict.
		{name: "revoke", args: []string{"revoke", "acme/blog", "--reason", "drill", "--log-level", "trace"}},
		{name: "apply a saved plan the store outran", args: []string{"apply", "saved.plan", "-o", "json", "--log-level", "trace"}, exit: 4},
		{name: "verify revoked", args: []string{"verify", "-o", "json"}, stdin: secretTokens["TOK_BLOG"], exit: 1},
		{name: "apply blocked", args: []string{"apply", "-f", "steal.hcl", "--log-level", "trace"}, env: map[string]string{"TOK_THIEF": secretTokens["TOK_BLOG"]}},
		{name: "plan blocked json", args: []string{"plan", "-f", "steal.hcl", "-o", "json"}, env: map[string]string{"TOK_THIEF": secretTokens["TOK_BLOG"]}},
		{name: "apply strict refused", args: []string{"apply", "-f", "steal.hcl", "--strict", "-o", "markdown", "--log-level", "debug"}, env: map[string]string{"TOK_THIEF": secretTokens["TOK_BLOG"]}, exit: 4},
		{name: "apply prune refused", args: []string{"apply", "-f", "empty.hcl", "--prune", "--max-prune", "0", "-o", "json", "--log-level", "trace"}, exit: 4},
		{name: "history after all", args: []string{"history", "-o", "json", "--log-level", "trace"}},
		// Invalid tokens and specs: nothing is written, nothing is shown.
		{name: "weak token", args: []string{"apply", "--log-level", "trace"}, env: map[string]string{"TOK_SITE_ACME": weakTokens["TOK_WEAK"]}, exit: 1},
		{name: "token with a space", args: []string{"validate", "--secrets", "-o", "json"}, env: map[string]string{"TOK_SITE_ACME": weakTokens["TOK_SPACE"]}, exit: 1},
		{name: "token without prefix", args: []string{"plan", "-o", "json"}, env: map[string]string{"TOK_SITE_ACME": weakTokens["TOK_PREFIX"]}, exit: 1},
		{name: "short token", args: []string{"validate", "--secrets", "-o", "github"}, env: map[string]string{"TOK_SITE_ACME": weakTokens["TOK_SHORT"]}, exit: 1},
		{name: "duplicate tokens", args: []string{"apply", "-o", "json", "--log-level", "trace"}, env: map[string]string{"TOK_SITE_GLOBEX": secretTokens["TOK_SITE_ACME"]}, exit: 1},
		{name: "duplicate tokens offline", args: []string{"validate", "--secrets"}, env: map[string]string{"TOK_SITE_GLOBEX": secretTokens["TOK_SITE_ACME"]}, exit: 1},
		{name: "literal token", args: []string{"apply", "-f", "literal.hcl", "--log-level", "trace"}, exit: 1},
		{name: "literal token validate", args: []string{"validate", "-f", "literal.hcl", "-o", "json"}, exit: 1},
		{name: "literal token github", args: []string{"validate", "-f", "literal.hcl", "-o", "github"}, exit: 1},
		{name: "token in a function error", args: []string{"validate", "--secrets", "-f", "function.hcl"}, exit: 1},
		// A hostile spec author: every way found to read a secret out.
		{name: "can() rebuilds a token", args: []string{"apply", "-f", "hostile/can.hcl", "--log-level", "trace"}, exit: 1},
		{name: "can() rebuilds a token, plan", args: []string{"plan", "-f", "hostile/can.hcl", "-o", "json"}, exit: 1},
		{name: "can() rebuilds a token, validate", args: []string{"validate", "--secrets", "-f", "hostile/can.hcl"}, exit: 1},
		{name: "object indexed with the database URL", args: []string{"apply", "-f", "hostile/index.hcl", "--log-level", "trace"}, exit: 1},
		{name: "errors inside a for over a secret", args: []string{"validate", "--secrets", "-f", "hostile/errors.hcl", "-o", "json"}, exit: 1},
		{name: "errors inside a for over a secret, apply", args: []string{"apply", "-f", "hostile/errors.hcl", "--log-level", "trace"}, exit: 1},
		{name: "the hint as a channel", args: []string{"apply", "-f", "hostile/hint.hcl", "--log-level", "trace"}, exit: 1},
		{name: "a secrets file that is not JSON", args: []string{"apply", "-f", "hostile/json.hcl", "--log-level", "trace"}, exit: 1},
		{name: "a secrets file with a duplicate key", args: []string{"validate", "--secrets", "-f", "hostile/dup.hcl", "-o", "github"}, exit: 1},
		{name: "the database URL read as a token", args: []string{"apply", "-f", "hostile/dburl.hcl", "--log-level", "trace"}, exit: 1},
		{name: "a spec symlinked to a secrets file", args: []string{"validate", "-f", "linked"}, exit: 1},
		{name: "a spec symlinked to a secrets file, json", args: []string{"validate", "-f", "linked", "-o", "json"}, exit: 1},
		{name: "a spec symlinked to a secrets file, fmt", args: []string{"fmt", "-check", "-diff", "linked"}},
		{name: "a .hcl symlinked to a secrets file, validate", args: []string{"validate", "-f", "linked-hcl"}, exit: 1},
		{name: "a .hcl symlinked to a secrets file, fmt", args: []string{"fmt", "-check", "-diff", "linked-hcl"}, exit: 1},
		{name: "a spec symlinked to the database URL", args: []string{"validate", "-f", "linked-url"}, exit: 1},
		{name: "a spec symlinked to the database URL, fmt", args: []string{"fmt", "-check", "-diff", "linked-url"}, exit: 1},
		{name: "revoke a token", args: []string{"revoke", secretTokens["TOK_FRONTEND"], "--reason", "x"}, exit: 1},
		{name: "history of a token", args: []string{"history", secretTokens["TOK_FRONTEND"]}, exit: 1},
		// The database: unavailable, bad URLs, a wrong password.
		{name: "unavailable apply", args: []string{"apply", "--log-level", "trace"}, env: unavailable, exit: 3},
		{name: "unavailable plan", args: []string{"plan", "-o", "json", "--log-level", "debug"}, env: unavailable, exit: 3},
		{name: "unavailable list", args: []string{"list", "--log-level", "trace"}, env: unavailable, exit: 3},
		{name: "unavailable history", args: []string{"history", "--log-level", "trace"}, env: unavailable, exit: 3},
		{name: "unavailable verify", args: []string{"verify", "--log-level", "trace"}, env: unavailable, stdin: secretTokens["TOK_FRONTEND_NEW"], exit: 3},
		{name: "unavailable revoke", args: []string{"revoke", "root/frontend", "--reason", "x", "--log-level", "trace"}, env: unavailable, exit: 3},
		{name: "unavailable enable", args: []string{"enable", "root/frontend", "--log-level", "trace"}, env: unavailable, exit: 3},
		{name: "unavailable flag", args: []string{"apply", "--database-url", closed, "--wait", "0s", "--log-level", "trace"}, exit: 3},
		{name: "bad port", args: []string{"apply", "--log-level", "trace"}, env: map[string]string{"KEYPROV_DATABASE_URL": "postgres://" + role + ":" + secretPassword + "@127.0.0.1:notaport/keyprov"}, exit: 1},
		{name: "bad host", args: []string{"list", "--log-level", "trace"}, env: map[string]string{"KEYPROV_DATABASE_URL": "postgres://" + role + ":" + secretPassword + "@[::1/keyprov"}, exit: 1},
		{name: "bad query", args: []string{"list", "--log-level", "trace"}, env: map[string]string{"KEYPROV_DATABASE_URL": "postgres://" + role + ":" + secretPassword + "@127.0.0.1/keyprov?sslmode=bogus"}, exit: 1},
		{name: "bad scheme", args: []string{"history", "--log-level", "trace"}, env: map[string]string{"KEYPROV_DATABASE_URL": "mysql://" + role + ":" + secretPassword + "@127.0.0.1/keyprov"}, exit: 1},
		{name: "bad key-value", args: []string{"apply", "--log-level", "trace"}, env: map[string]string{"KEYPROV_DATABASE_URL": "host=127.0.0.1 port=x user=" + role + " password=" + secretPassword}, exit: 1},
		{name: "key-value unavailable", args: []string{"list", "--log-level", "trace"}, env: map[string]string{"KEYPROV_DATABASE_URL": "host=127.0.0.1 port=1 user=" + role + " password=" + secretPassword + " connect_timeout=1", "KEYPROV_WAIT": "0s"}, exit: 3},
		{name: "password with a percent", args: []string{"list", "--log-level", "trace"}, env: map[string]string{"KEYPROV_DATABASE_URL": "postgres://" + role + ":" + secretPassword + "%zz@127.0.0.1/keyprov"}, exit: 1},
		{name: "wrong password", args: []string{"list", "--log-level", "trace"}, env: map[string]string{"KEYPROV_DATABASE_URL": strings.Replace(dbURL, secretPassword, secretPassword+"x", 1), "KEYPROV_WAIT": "0s"}, exit: 5},
		// Review commands: diff, scan (which finds the token file), token new.
		{name: "diff", args: []string{"diff", "keys.hcl", "rotate.hcl", "--log-level", "trace"}},
		{name: "diff json", args: []string{"diff", "keys.hcl", "rotate.hcl", "-o", "json"}},
		{name: "diff markdown", args: []string{"diff", "keys.hcl", "literal.hcl", "-o", "markdown"}, exit: 1},
		{name: "scan", args: []string{"scan", ".", "--log-level", "trace"}, exit: 1},
		{name: "scan json", args: []string{"scan", "secrets", "-o", "json"}, exit: 1},
		{name: "scan github", args: []string{"scan", "secrets", "-o", "github"}, exit: 1},
		{name: "token new", args: []string{"token", "new"}},
		{name: "scan history", args: []string{"scan", "--history", "--log-level", "trace"}, exit: 1},
		{name: "scan history json", args: []string{"scan", "--history", "-o", "json"}, exit: 1},
		{name: "scan history github", args: []string{"scan", "--history", "--all", "-o", "github"}, exit: 1},
		{name: "scan history since", args: []string{"scan", "--history", "--since", "HEAD~2", "-o", "json"}, exit: 1},
		{name: "scan history with a token as revision", args: []string{"scan", "--history", secretTokens["TOK_BLOG"]}, exit: 1},
		{name: "diff from git", args: []string{"diff", "git:HEAD", "rotate.hcl", "-o", "json", "--log-level", "trace"}},
		{name: "diff fail-on markdown", args: []string{"diff", "keys.hcl", "steal.hcl", "-o", "markdown", "--fail-on", "low"}, exit: 4},
		{name: "diff from a token revision", args: []string{"diff", "git:" + secretTokens["TOK_BLOG"], "keys.hcl"}, exit: 1},
		{name: "validate json blocks", args: []string{"validate", "-o", "json", "--secrets"}},
		{name: "help", args: []string{"apply", "--help"}},
	}

	scanner := newSecretScanner(t)
	// The scanner must see what it looks for.
	probe := newSecretScanner(t)
	probe.scan("probe", []byte("x "+secretTokens["TOK_BLOG"][4:]+" "+secretPassword))
	require.Len(t, probe.findings, 6, "the scanner misses secrets it is given (a token body, its halves, the password, its halves)")
	half := newSecretScanner(t)
	half.scan("probe", []byte("x "+secretTokens["TOK_BLOG"][4:20]+" "+secretPassword[:len(secretPassword)/2]))
	require.Len(t, half.findings, 2, "the scanner misses parts of secrets")

	for _, r := range runs {
		environ := map[string]string{}
		for k, v := range base {
			environ[k] = v
		}
		for k, v := range r.env {
			if v == "" {
				delete(environ, k)
			} else {
				environ[k] = v
			}
		}
		var env []string
		for k, v := range environ {
			env = append(env, k+"="+v)
		}
		sort.Strings(env)
		before := fileStates(t, dir)
		var stdout, stderr bytes.Buffer
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		code := run(rctx, r.args, stdio{strings.NewReader(r.stdin), &stdout, &stderr}, env)
		cancel()
		scanner.runs++
		if !assert.Equal(t, r.exit, code, "%s: exit status\nstdout:\n%s\nstderr:\n%s", r.name, stdout.String(), stderr.String()) {
			continue
		}
		scanner.scan(r.name+": stdout", stdout.Bytes())
		scanner.scan(r.name+": stderr", stderr.Bytes())
		for p, sum := range fileStates(t, dir) {
			if old, ok := before[p]; !ok || old != sum {
				b, err := os.ReadFile(p)
				require.NoError(t, err)
				scanner.scan(r.name+": wrote "+p, b)
			}
		}
	}

	// Every row of every table of the store, as text.
	rows := 0
	store := pgtest.Connect(t, dbURL)
	tables, err := store.Query(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'keyprov' ORDER BY 1")
	require.NoError(t, err)
	names, err := pgx.CollectRows(tables, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Subset(t, names, []string{"events", "keys", "tokens"})
	var dump bytes.Buffer
	for _, table := range names {
		q := "SELECT t::text FROM keyprov." + pgx.Identifier{table}.Sanitize() + " t"
		texts, err := store.Query(ctx, q)
		require.NoError(t, err)
		lines, err := pgx.CollectRows(texts, pgx.RowTo[string])
		require.NoError(t, err)
		for _, l := range lines {
			rows++
			dump.WriteString(table + ": " + l + "\n")
		}
	}
	scanner.scan("the store", dump.Bytes())
	// The dump is what it should be: keys, token hints, events.
	assert.Contains(t, dump.String(), "acme")
	assert.Contains(t, dump.String(), "…"+secretTokens["TOK_BLOG"][len(secretTokens["TOK_BLOG"])-4:])
	assert.Contains(t, dump.String(), "revoked")

	for _, f := range scanner.findings {
		t.Errorf("secret found: %s", f)
	}
	t.Logf("secrets: %d runs and %d database rows scanned, %d bytes in all, for %d secrets (tokens, token bodies, the password): %d found",
		scanner.runs, rows, scanner.bytes, len(scanner.needles), len(scanner.findings))
	testsummary.Record("secrets: %d runs and %d database rows scanned, %d bytes in all, for %d secrets (tokens, token bodies, the password): %d found",
		scanner.runs, rows, scanner.bytes, len(scanner.needles), len(scanner.findings))
}

// secretSpecFiles are the specs of TestSecrets.
var secretSpecFiles = map[string]string{
	"keys.hcl": `settings {
  owner = "platform"
}

universal_key "frontend" {
  name        = "Front end"
  token       = env("TOK_FRONTEND")
  permissions = ["*"]
}

tenant_key "site" {
  for_each = toset(["acme", "globex"])
  tenant   = each.key
  name     = "Site ${each.key}"
  token    = env("TOK_SITE_${upper(each.key)}")
}

tenant_key "blog" {
  tenant = "acme"
  name   = "Blog"
  token  = file("secrets/blog.txt")
}
`,
	"rotate.hcl": `settings {
  owner = "platform"
}

universal_key "frontend" {
  name           = "Front end"
  token          = env("TOK_FRONTEND_NEW")
  previous_token = env("TOK_FRONTEND")
  previous_until = "2099-01-01T00:00:00Z"
  permissions    = ["*"]
}

tenant_key "site" {
  for_each = toset(["acme", "globex"])
  tenant   = each.key
  name     = "Site ${each.key}"
  token    = env("TOK_SITE_${upper(each.key)}")
}

tenant_key "blog" {
  tenant = "acme"
  name   = "Blog"
  token  = file("secrets/blog.txt")
}
`,
	"steal.hcl": `settings {
  owner = "platform"
}

tenant_key "thief" {
  tenant = "acme"
  name   = "Thief"
  token  = env("TOK_THIEF")
}
`,
	"empty.hcl": `settings {
  owner = "platform"
}
`,
	"literal.hcl": `universal_key "frontend" {
  name  = "Front end"
  token = "wat_Rk4Tz8Wq1Yb6Nv3Lp9Xc2Md7Hs5Jf0Ge"
}

universal_key "smuggled" {
  name  = "Smuggled"
  token = strlen(env("TOK_FRONTEND")) > 99 ? env("TOK_FRONTEND") : "wat_Gd2Hn7Qp4Vs9Kx1Bz6Wm3Tc8Ly5Rf0Ja"
}
`,
	"function.hcl": `universal_key "frontend" {
  name        = "Front end"
  token       = regex("[", env("TOK_FRONTEND"))
  description = "x"
}

universal_key "split" {
  name  = "Split"
  token = element(split("_", env("TOK_SITE_ACME")), 5)
}
`,
	"hostile/can.hcl": `locals {
  chars  = split("", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
  leaked = join("", [for i in range(40) : join("", [for c in local.chars : c if can(regex("^.{${i}}${c}", env("TOK_FRONTEND")))])])
  tried  = try(tonumber(env("TOK_BLOG")), "none")
}

universal_key "frontend" {
  name        = "leak ${local.leaked}"
  description = local.tried
  token       = env("TOK_FRONTEND")
}
`,
	"hostile/index.hcl": `locals {
  a = { for c in split("", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_:/@.%") : c => c }
}

universal_key "frontend" {
  name  = join("", [for i in range(60) : local.a[substr(env("KEYPROV_DATABASE_URL"), i, 1)]])
  token = env("TOK_FRONTEND")
}
`,
	"hostile/errors.hcl": `locals {
  names   = [for t in split(",", env("TOK_LIST")) : env(t)]
  dup     = { for t in split(",", env("TOK_LIST")) : t => 1 }
  files   = [for t in split(",", env("TOK_LIST")) : file(t)]
  numbers = [for t in split(",", env("TOK_LIST")) : tonumber(t)]
  times   = [for t in split(",", env("TOK_LIST")) : timeadd(t, "1h")]
  json    = { for k, v in jsondecode(file("secrets/keys.json")) : v => k }
}

universal_key "frontend" {
  name  = "Front end"
  token = env("TOK_FRONTEND")
}
`,
	"hostile/hint.hcl": `universal_key "frontend" {
  name  = "Front end"
  token = format("wat_%s%s", env("TOK_PAD"), substr(env("KEYPROV_DATABASE_URL"), 0, 4))
}
`,
	"hostile/json.hcl": `universal_key "frontend" {
  name  = "Front end"
  token = jsondecode(file("../secrets/bad.json"))["acme"]
}
`,
	"hostile/dup.hcl": `tenant_key "site" {
  tenant = "acme"
  name   = "Site"
  token  = jsondecode(file("../secrets/dup.json"))["acme"]
}
`,
	"hostile/dburl.hcl": `universal_key "frontend" {
  name  = "Front end"
  token = trimspace(file("../db-url.txt"))
}

universal_key "env" {
  name  = "Env"
  token = env("KEYPROV_DATABASE_URL")
}
`,
	"fmt/ugly.hcl": "universal_key \"frontend\" {\nname=\"Front end\"\n  token    =   env(\"TOK_FRONTEND\")\n}\n",
}
