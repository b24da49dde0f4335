package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/token"
	"github.com/keyprov/keyprov/verify"
)

// contractTokens are the tokens of contractSpec, by environment variable.
var contractTokens = map[string]string{
	"FRONTEND": "wat_hxv3CP6YzO9wEqO4nv6tQOW9smVeqHZS",
	"WEB":      "wat_zxnYfxZ7d9kP2FKDrwk0WVpVyJHBYVtM",
	"WEB_OLD":  "wat_5U2atTF2m4NwfDGTeOlRSLT07WtRk4TX",
	"OLD":      "wat_mueNQafTVRqnjnUK5WyRBmH2WYyDy6Er",
	"GONE":     "wat_Iz6ybIRQZN8izjsCubGBJsYJuFCm0tw0",
	"ROT1":     "wat_xVUdsfF15esH1PknZX85hzFTPD04B5SO",
	"ROT2":     "wat_qPxwWVBXuv2PImzrrVQbi5oDYCnUo9Hv",
	"PAUSED":   "wat_uPULTOfNJLoeZwQvKkFqGqp3w8ZJVaAY",
	"STOPPED":  "wat_PTXiFSCeEE9wuybQr7xlzNQsCqqetV9g",
	"LATE":     "wat_QQ3r3xUkQ8Kwb1M4dsejjCiLOfUAM47C",
	"LATE_OLD": "wat_1F2xK7ZTPHdFipbdgS3gGTBWNvcrCcDv",
	"CUT":      "wat_zNDl5qYaO7fktmWt0tG6Cx2do2AJ070d",
	"CUT_OLD":  "wat_SSuhPBP9NhbpWQAn3fayxDRhe6vCddpU",
	"BACK":     "wat_Znpaqtg02aEPhd4GFhndjZU0tfYVXizd",
	"BACK_OLD": "wat_ZHkpWtIQ0dFPr6x9q5flPCN33bQ0HmN9",
	"UNKNOWN":  "wat_Q3xT9mLpV2rZ8kW4nB7yH1cJ5fD6gS0a",
}

// contractSpec declares a key for each state; the test brings the others
// about by SQL (a disable, cutoffs passed, a revocation undone).
func contractSpec(first bool) string {
	rolled, rolling := `env("ROT1")`, ""
	if !first {
		rolled = `env("ROT2")`
		rolling = `
tenant_key "website" {
  tenant         = "acme"
  name           = "Website"
  token          = env("WEB")
  previous_token = env("WEB_OLD")
  previous_until = "2099-01-01T00:00:00Z"
  permissions    = ["cms.read", { name = "wb.page", rwd = "r" }]
}
tenant_key "late" {
  tenant         = "globex"
  name           = "Late"
  token          = env("LATE")
  previous_token = env("LATE_OLD")
  previous_until = "2099-01-01T00:00:00Z"
}
tenant_key "cut" {
  tenant         = "globex"
  name           = "Cut"
  token          = env("CUT")
  previous_token = env("CUT_OLD")
  previous_until = "2099-01-01T00:00:00Z"
}
`
	} else {
		rolling = `
tenant_key "website" {
  tenant = "acme"
  name   = "Website"
  token  = env("WEB_OLD")
}
tenant_key "late" {
  tenant = "globex"
  name   = "Late"
  token  = env("LATE_OLD")
}
tenant_key "cut" {
  tenant = "globex"
  name   = "Cut"
  token  = env("CUT_OLD")
}
`
	}
	return `settings {
  owner = "platform"
}
universal_key "frontend" {
  name        = "Front end"
  token       = env("FRONTEND")
  permissions = [{ name = "*" }]
}
tenant_key "old" {
  tenant  = "acme"
  name    = "Old"
  token   = env("OLD")
  expires = "2001-01-01T00:00:00Z"
}
tenant_key "gone" {
  tenant  = "acme"
  name    = "Gone"
  token   = env("GONE")
  revoked = true
}
tenant_key "rolled" {
  tenant = "globex"
  name   = "Rolled"
  token  = ` + rolled + `
}
tenant_key "paused" {
  tenant = "globex"
  name   = "Paused"
  token  = env("PAUSED")
}
tenant_key "stopped" {
  tenant  = "acme"
  name    = "Stopped"
  token   = env("STOPPED")
  expires = "2001-01-01T00:00:00Z"
}
tenant_key "back" {
  tenant = "globex"
  name   = "Back"
  token  = env("BACK")
}
` + rolling
}

// TestVerifyTokenDecidesForAll runs every token state and scope case
// through every decider keyprov offers: the SQL function
// keyprov.verify_token (the contract), the Go package (Verify, then
// Key.Allows), keyprov verify [--tenant], and the example clients in
// Python (psycopg) and Node (pg) of examples/verify. They must all give
// the status this test expects.
func TestVerifyTokenDecidesForAll(t *testing.T) {
	python, node := exampleClients(t)
	u := pgtest.NewDatabase(t)
	dir := t.TempDir()
	env := []string{"KEYPROV_DATABASE_URL=" + u, "KEYPROV_LOG_LEVEL=warn", "NO_COLOR=1"}
	for name, tok := range contractTokens {
		env = append(env, name+"="+tok)
	}
	keyprov := func(stdin string, args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, stdio{strings.NewReader(stdin), &stdout, &stderr}, env)
		return code, stdout.String(), stderr.String()
	}
	for i, first := range []bool{true, false} {
		path := filepath.Join(dir, fmt.Sprintf("keys%d.hcl", i))
		require.NoError(t, os.WriteFile(path, []byte(contractSpec(first)), 0o600))
		code, _, stderr := keyprov("", "apply", "-f", path)
		require.Equal(t, 0, code, stderr)
	}
	conn := pgtest.Connect(t, u)
	ctx := context.Background()
	for _, sql := range []string{
		// Disabled (by an operator), and disabled on top of revoked or expired.
		`UPDATE keyprov.keys SET disabled_at = now(), disabled_operator_at = now(), disabled_operator_actor = 'test',
		 disabled_operator_reason = 'incident' WHERE slug IN ('paused', 'gone', 'stopped')`,
		// A previous token past its cutoff, not yet retired by an apply.
		`UPDATE keyprov.tokens SET valid_until = now() - interval '1 second'
		 WHERE state = 'previous' AND key_id = (SELECT id FROM keyprov.keys WHERE slug = 'late')`,
		// A previous token retired at its cutoff by an apply.
		`UPDATE keyprov.tokens SET state = 'retired', valid_until = NULL, retired_at = now(), retired_reason = 'previous_until passed'
		 WHERE state = 'previous' AND key_id = (SELECT id FROM keyprov.keys WHERE slug = 'cut')`,
		// A key revoked and restored with a new token: the old one stays revoked.
		`INSERT INTO keyprov.tokens (digest, key_id, hint, state, retired_at, retired_reason)
		 SELECT sha256(convert_to('` + contractTokens["BACK_OLD"] + `', 'UTF8')), id, 'wat_…HmN9', 'retired', now(), 'key revoked'
		 FROM keyprov.keys WHERE slug = 'back'`,
	} {
		_, err := conn.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}

	pool, err := pgxpool.New(ctx, u)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	v, err := verify.New(pool)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close(context.Background()) })

	// The status of each token without a tenant, and the key's reach.
	tokens := []struct {
		env, status string
		universal   bool
		tenant      string
	}{
		{"FRONTEND", "valid", true, "root"},
		{"WEB", "valid", false, "acme"},
		{"WEB_OLD", "valid", false, "acme"},
		{"OLD", "expired", false, "acme"},
		{"GONE", "revoked", false, "acme"},
		{"ROT1", "retired", false, "globex"},
		{"ROT2", "valid", false, "globex"},
		{"PAUSED", "disabled", false, "globex"},
		{"STOPPED", "disabled", false, "acme"},
		{"LATE", "valid", false, "globex"},
		{"LATE_OLD", "previous_expired", false, "globex"},
		{"CUT", "valid", false, "globex"},
		{"CUT_OLD", "previous_expired", false, "globex"},
		{"BACK", "valid", false, "globex"},
		{"BACK_OLD", "revoked", false, "globex"},
		{"UNKNOWN", "unknown", false, ""},
	}
	tenants := []*string{nil, ptr("acme"), ptr("globex"), ptr(""), ptr("Acme")}
	cases := 0
	var mu sync.Mutex
	for _, tc := range tokens {
		tok := contractTokens[tc.env]
		t.Run(tc.env, func(t *testing.T) {
			t.Parallel()
			for _, tenant := range tenants {
				want := tc.status
				if want == "valid" && tenant != nil && !(validTenant(*tenant) && (tc.universal || tc.tenant == *tenant)) {
					want = "scope_denied"
				}
				name := "no tenant"
				if tenant != nil {
					name = fmt.Sprintf("tenant %q", *tenant)
				}
				got := map[string]string{
					"sql":    sqlStatus(t, pool, tok, tenant),
					"go":     goStatus(t, v, tok, tenant),
					"python": clientStatus(t, u, tok, tenant, python, "../../examples/verify/python/verify.py"),
					"node":   clientStatus(t, u, tok, tenant, node, "../../examples/verify/node/verify.mjs"),
				}
				if tenant == nil || *tenant != "" { // --tenant '' is no tenant to keyprov verify
					got["keyprov verify"] = cliStatus(t, keyprov, tok, tenant)
				}
				for decider, status := range got {
					assert.Equal(t, want, status, "%s, %s: %s", tc.env, name, decider)
				}
				mu.Lock()
				cases++
				mu.Unlock()
			}
		})
	}
	t.Cleanup(func() {
		t.Logf("%d token and tenant cases, each decided by SQL, Go, keyprov verify, Python and Node", cases)
	})
}

func ptr(s string) *string { return &s }

// validTenant is the spec's rule for tenant names, written out here.
func validTenant(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '-' || c == '_')) {
			return false
		}
	}
	return true
}

func sqlStatus(t *testing.T, pool *pgxpool.Pool, tok string, tenant *string) string {
	t.Helper()
	d := token.DigestOf(tok)
	var status string
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT status FROM keyprov.verify_token($1, $2)", d[:], tenant).Scan(&status))
	return status
}

func goStatus(t *testing.T, v *verify.Verifier, tok string, tenant *string) string {
	t.Helper()
	key, err := v.Verify(context.Background(), tok)
	if err == nil && tenant != nil {
		err = key.Allows(*tenant)
	}
	if err == nil {
		return "valid"
	}
	code := verify.Code(err)
	require.NotEmpty(t, code, "a database error: %v", err)
	return code
}

func cliStatus(t *testing.T, keyprov func(string, ...string) (int, string, string), tok string, tenant *string) string {
	t.Helper()
	args := []string{"verify", "-o", "json"}
	if tenant != nil {
		args = append(args, "--tenant", *tenant)
	}
	code, stdout, stderr := keyprov(tok, args...)
	var res struct {
		Valid  bool   `json:"valid"`
		Reason string `json:"reason"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), "stdout %q, stderr %q", stdout, stderr)
	assert.NotContains(t, stdout+stderr, tok)
	if res.Valid {
		assert.Equal(t, 0, code)
		return "valid"
	}
	assert.Equal(t, 1, code, stderr)
	return res.Reason
}

// clientStatus runs an example client with tok on standard input and
// returns the status it prints; it exits 0 exactly when the token is valid.
func clientStatus(t *testing.T, u, tok string, tenant *string, interpreter, script string) string {
	t.Helper()
	args := []string{script}
	if tenant != nil {
		args = append(args, "--tenant", *tenant)
	}
	cmd := exec.Command(interpreter, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+u)
	cmd.Stdin = strings.NewReader(tok + "\n")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	fields := strings.Fields(stdout.String())
	require.NotEmpty(t, fields, "%s printed nothing; stderr:\n%s", script, stderr.String())
	assert.NotContains(t, stdout.String()+stderr.String(), tok)
	if fields[0] == "valid" {
		assert.NoError(t, err, "%s exits 0 for a valid token; stderr:\n%s", script, stderr.String())
	} else {
		var ee *exec.ExitError
		if assert.ErrorAs(t, err, &ee, "%s exits 1 for a token that is not valid", script) {
			assert.Equal(t, 1, ee.ExitCode())
		}
	}
	return fields[0]
}

var installNode sync.Once

// exampleClients returns the Python interpreter that has psycopg and the
// Node interpreter, with the example's packages installed (npm ci). The
// test fails, saying how to install them, when either is missing: the
// clients are part of what keyprov ships.
func exampleClients(t *testing.T) (python, node string) {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if err := exec.Command(p, "-c", "import psycopg").Run(); err == nil {
			python = p
			break
		}
	}
	if python == "" {
		t.Fatal("no python3 with psycopg 3: the Python client of examples/verify needs it. Install it with: apt-get install -y python3 python3-psycopg (Debian)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found: the Node client of examples/verify needs Node.js 18 or later and npm. Install them with: apt-get install -y nodejs npm (Debian)")
	}
	dir := filepath.Join("..", "..", "examples", "verify", "node")
	var installErr error
	installNode.Do(func() {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "pg", "package.json")); err == nil {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			installErr = fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
		}
	})
	require.NoError(t, installErr, "installing the Node client's packages")
	return python, node
}
