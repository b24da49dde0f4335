package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/internal/testsummary"
	"github.com/keyprov/keyprov/token"
)

// TestFastPathDifferential walks random sequences of changes to a spec,
// its inputs and its store, and after each runs keyprov as a boot would
// (apply, sometimes plan). Whenever the fast path answers, the full path
// must find exactly what it said: an empty plan, with no warning, no
// refusal and the same number of unchanged keys, and exit 0. A fast path
// that answers wrongly is a correctness bug; one that misses costs a
// full evaluation only.
//
// KEYPROV_DIFF_STEPS sets the number of steps in all (make test: the
// default; make fuzz: more), KEYPROV_DIFF_SEED the seed, printed on
// failure. The steps are shared by KEYPROV_DIFF_WALKERS walkers (4), each
// with its own spec, inputs and schema of one database, which run at
// once. The test changes keyprov's version string: it does not run in
// parallel with other tests, and its walkers change it only while no
// keyprov of theirs runs (versionMu).
func TestFastPathDifferential(t *testing.T) {
	steps := envInt(t, "KEYPROV_DIFF_STEPS", 2000)
	seed := uint64(envInt(t, "KEYPROV_DIFF_SEED", 1))
	walkers := envInt(t, "KEYPROV_DIFF_WALKERS", 4)
	u := pgtest.NewDatabase(t)
	defer func(v string) { version = v }(version)

	var (
		mu        sync.Mutex
		stats     = map[string][2]int{} // per change: steps, answered by the fast path
		fastTotal int
		raced     int
	)
	t.Run("walkers", func(t *testing.T) {
		for k := range walkers {
			t.Run(fmt.Sprintf("walker%d", k), func(t *testing.T) {
				t.Parallel()
				w := newWorld(t, u, fmt.Sprintf("diff%d", k), seed, uint64(k))
				n := steps / walkers
				if k < steps%walkers {
					n++
				}
				for i := range n {
					change := w.change()
					cmd := "apply"
					if w.rng.IntN(5) == 0 {
						cmd = "plan"
					}
					code, out, stderr := w.run(append([]string{cmd}, w.args()...)...)
					w.checkStore(t, i, change, code, out, stderr)
					sum := summaryOf(stderr)
					fast := sum != nil && sum["fast_path"] == true
					w.unsettled = sum == nil || sum["warnings"] != float64(0) || sum["blocked"] != float64(0) || sum["refused"] != false
					confirmed := true
					if fast {
						confirmed = w.checkFull(t, i, change, code, out, sum)
					}
					mu.Lock()
					s := stats[change]
					s[0]++
					if fast {
						s[1]++
						fastTotal++
						if !confirmed {
							raced++
						}
					}
					stats[change] = s
					mu.Unlock()
				}
			})
		}
	})
	if t.Failed() {
		t.Logf("seed %d", seed)
		return
	}
	names := slices.Sorted(maps.Keys(stats))
	var report strings.Builder
	for _, k := range names {
		fmt.Fprintf(&report, "  %-28s %5d steps, %5d answered by the fast path\n", k, stats[k][0], stats[k][1])
	}
	t.Logf("seed %d: %d steps by %d walkers, %d answered by the fast path, each confirmed by the full path but %d whose time bound passed before the full plan:\n%s",
		seed, steps, walkers, fastTotal, raced, report.String())
	testsummary.Record("fast path differential (seed %d): %d steps, %d answered by the fast path, %d of them confirmed by the full path (%d: the time bound passed in between)",
		seed, steps, fastTotal, fastTotal-raced, raced)
	require.Greater(t, fastTotal, steps/10, "the walk must exercise the fast path")
}

// versionMu guards keyprov's version string: the walkers' runs read it
// (RLock), a change of it waits for them (Lock).
var versionMu sync.RWMutex

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	return n
}

// summaryOf returns the summary log line's fields, or nil.
func summaryOf(stderr string) map[string]any {
	for _, l := range strings.Split(stderr, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && strings.HasSuffix(fmt.Sprint(m["message"]), " finished") {
			return m
		}
	}
	return nil
}

// world is the spec, its inputs and its store (a schema) that a walker
// changes.
type world struct {
	t      *testing.T
	rng    *rand.Rand
	dir    string
	schema string
	env    map[string]string
	sql    *pgx.Conn

	tenants map[string]string // tenant → the site key's name (vars.json)
	secrets map[string]string // tenant → token (secrets.json)
	uPerms  int               // which permissions the universal key has
	blog    string            // blog's name
	expires *time.Time        // blog's expires
	roll    struct {
		previous bool
		until    time.Time
	}
	extra int // what spec/extra.hcl holds: 0 absent, 1 a comment, 2 a key
	// revoked are the tenants whose site key keyprov revoke revoked: a
	// token change repairs them first.
	revoked []string
	// unsettled: the last run warned, blocked, refused or failed; the
	// walk then repairs more often, so that it spends most of its steps
	// where the fast path may answer.
	unsettled bool
}

var diffTenants = []string{"acme", "globex", "initech", "umbrella", "hooli"}

func newWorld(t *testing.T, u, schema string, seed, walker uint64) *world {
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "spec"), 0o755))
	w := &world{t: t, rng: rand.New(rand.NewPCG(seed, walker^0x9e3779b97f4a7c15)), dir: dir, schema: schema,
		env: map[string]string{"KEYPROV_DATABASE_URL": u, "KEYPROV_SCHEMA": schema, "KEYPROV_LOG_FORMAT": "json", "KEYPROV_ACTOR": "tester",
			"KEYPROV_WAIT": "10s", "KEYPROV_LOCK_TIMEOUT": "30s"},
		sql: pgtest.Connect(t, u), tenants: map[string]string{}, secrets: map[string]string{}, blog: "Blog"}
	for _, tn := range diffTenants[:3] {
		w.tenants[tn] = "Site " + tn
	}
	for _, tn := range diffTenants {
		w.secrets[tn] = w.token()
	}
	w.env["TOKEN_U"] = w.token()
	w.env["TOKEN_ROLL"] = w.token()
	w.env["TOKEN_EXTRA"] = w.token()
	w.writeFile("blog.token", w.token()+"\n")
	w.writeAll()
	return w
}

func (w *world) token() string {
	tok, err := token.Generate(token.DefaultPrefix)
	require.NoError(w.t, err)
	return tok.Reveal()
}

func (w *world) args() []string {
	return []string{"-f", filepath.Join(w.dir, "spec"), "--var-file", filepath.Join(w.dir, "vars.json"), "--warn-expiry", "1h"}
}

func (w *world) writeFile(name, content string) {
	require.NoError(w.t, os.WriteFile(filepath.Join(w.dir, name), []byte(content), 0o600))
}

func (w *world) writeJSON(name string, v any) {
	b, err := json.Marshal(v)
	require.NoError(w.t, err)
	w.writeFile(name, string(b))
}

var diffPerms = []string{`[{ name = "*" }]`, `["cms.read"]`, `["cms.read", { name = "cms.write", locales = ["en"] }]`}

func (w *world) writeAll() {
	w.writeJSON("vars.json", map[string]any{"tenants": w.tenants})
	w.writeJSON("secrets.json", w.secrets)
	blogExtra := ""
	if w.expires != nil {
		blogExtra = fmt.Sprintf("\n  expires = %q", w.expires.Format(time.RFC3339Nano))
	}
	rollExtra := ""
	if w.roll.previous {
		rollExtra = fmt.Sprintf("\n  previous_token = env(\"TOKEN_ROLL_OLD\")\n  previous_until = %q", w.roll.until.Format(time.RFC3339Nano))
	}
	w.writeFile("spec/keys.hcl", fmt.Sprintf(`settings {
  owner = "diff"
  prune = true
}

variable "tenants" {
  type = map(string)
}

variable "suffix" {
  default = ""
}

universal_key "u" {
  name        = "U${var.suffix}"
  token       = env("TOKEN_U")
  permissions = %s
}

tenant_key "site" {
  for_each = var.tenants
  tenant   = each.key
  name     = each.value
  token    = jsondecode(file("../secrets.json"))[each.key]
}

tenant_key "blog" {
  tenant = "acme"
  name   = %q
  token  = trimspace(file("../blog.token"))%s
}

tenant_key "roll" {
  tenant = "acme"
  name   = "Roll"
  token  = env("TOKEN_ROLL")%s
}
`, diffPerms[w.uPerms], w.blog, blogExtra, rollExtra))
	switch w.extra {
	case 0:
		_ = os.Remove(filepath.Join(w.dir, "spec", "extra.hcl"))
	case 1:
		w.writeFile("spec/extra.hcl", "# nothing here\n")
	case 2:
		w.writeFile("spec/extra.hcl", "tenant_key \"extra\" {\n  tenant = \"acme\"\n  name   = \"Extra\"\n  token  = env(\"TOKEN_EXTRA\")\n}\n")
	}
}

// run runs keyprov in this process (see runIn), while no walker changes
// keyprov's version.
func (w *world) run(args ...string) (int, string, string) {
	versionMu.RLock()
	defer versionMu.RUnlock()
	return runIn(w.env, args...)
}

// exec runs SQL on the walker's schema: {s} names it.
func (w *world) exec(sql string) {
	sql = strings.ReplaceAll(sql, "{s}", w.schema)
	_, err := w.sql.Exec(context.Background(), sql)
	require.NoError(w.t, err, sql)
}

// change makes one random change and names it. Nothing, and changes
// that change no outcome, are the most frequent: they are the fast
// path's chances.
func (w *world) change() string {
	r := w.rng
	if w.unsettled && r.IntN(4) == 0 {
		w.expires, w.roll.previous = nil, false
		if _, ok := w.env["TOKEN_U"]; !ok {
			w.env["TOKEN_U"] = w.token()
		}
		for _, tn := range w.revoked {
			w.secrets[tn] = w.token()
		}
		w.revoked = nil
		w.env["TOKEN_ROLL"] = w.token() // revoked by SQL: blocked until it gets a new token
		w.writeAll()
		return "repair (spec, tokens)"
	}
	switch n := r.IntN(100); {
	case n < 30:
		return "nothing"
	case n < 38:
		w.env["UNRELATED"] = strconv.Itoa(r.IntN(1000))
		return "unrelated env var"
	case n < 40:
		w.writeFile("spec/notes.txt", strconv.Itoa(r.IntN(1000)))
		return "non-spec file in spec dir"
	case n < 42:
		w.exec("UPDATE {s}.keys SET last_used_at = now()")
		return "last_used_at by SQL"
	case n < 46:
		w.blog = []string{"Blog", "Blog 2", "Blog 3"}[r.IntN(3)]
		w.writeAll()
		return "spec edit"
	case n < 49:
		w.uPerms = r.IntN(len(diffPerms))
		w.writeAll()
		return "spec edit (permissions)"
	case n < 53:
		tn := diffTenants[r.IntN(len(diffTenants))]
		if _, ok := w.tenants[tn]; ok && len(w.tenants) > 1 && r.IntN(2) == 0 {
			delete(w.tenants, tn)
		} else {
			w.tenants[tn] = []string{"Site ", "Website "}[r.IntN(2)] + tn
		}
		w.writeAll()
		return "var-file edit"
	case n < 57:
		tn := diffTenants[r.IntN(len(diffTenants))]
		if len(w.revoked) > 0 {
			tn, w.revoked = w.revoked[0], w.revoked[1:]
		}
		w.secrets[tn] = w.token()
		w.writeAll()
		return "token in secrets file"
	case n < 59:
		w.writeFile("blog.token", w.token()+"\n")
		return "token file"
	case n < 62:
		if _, ok := w.env["TOKEN_U"]; ok && r.IntN(3) == 0 {
			delete(w.env, "TOKEN_U")
			return "env var unset"
		}
		w.env["TOKEN_U"] = w.token()
		return "env var changed"
	case n < 64:
		if _, ok := w.env["KEYPROV_VAR_suffix"]; ok {
			delete(w.env, "KEYPROV_VAR_suffix")
		} else {
			w.env["KEYPROV_VAR_suffix"] = []string{"", "!"}[r.IntN(2)]
		}
		return "KEYPROV_VAR_ set or unset"
	case n < 67:
		w.extra = r.IntN(3)
		w.writeAll()
		return "file in spec dir"
	case n < 70:
		w.exec(fmt.Sprintf("UPDATE {s}.keys SET name = name || '!' WHERE slug = %s", []string{"'blog'", "'site'", "'u'"}[r.IntN(3)]))
		return "key edited by SQL"
	case n < 71:
		if r.IntN(2) == 0 {
			// revoked_at alone, the key's tokens left live: the apply that
			// gives the key a new token retires them (checkStore).
			w.exec(`UPDATE {s}.keys SET revoked_at = now(), revoked_reason = 'by hand' WHERE slug = 'roll'`)
			return "key revoked by SQL (revoked_at only)"
		}
		// As keyprov revoke does: the key revoked, its live tokens retired.
		w.exec(`WITH k AS (UPDATE {s}.keys SET revoked_at = now(), revoked_reason = 'by hand' WHERE slug = 'roll' RETURNING id)
UPDATE {s}.tokens SET state = 'retired', retired_at = now(), retired_reason = 'by hand', valid_until = NULL
WHERE key_id IN (SELECT id FROM k) AND state <> 'retired'`)
		return "key revoked by SQL"
	case n < 72:
		tn := diffTenants[r.IntN(len(diffTenants))]
		w.run("revoke", tn+"/site", "--reason", "test")
		w.revoked = append(w.revoked, tn)
		return "keyprov revoke"
	case n < 75:
		switch {
		case w.expires != nil && r.IntN(3) > 0:
			w.expires = nil
		default:
			// expires enters the one-hour warning window within a second.
			at := time.Now().Add(time.Hour + time.Duration(200+r.IntN(600))*time.Millisecond)
			w.expires = &at
		}
		w.writeAll()
		return "expiry set near"
	case n < 78:
		open := w.roll.previous && time.Now().Before(w.roll.until)
		if w.roll.previous && r.IntN(3) == 0 {
			w.roll.previous = false
			w.writeAll()
			return "rolling rotation ended"
		}
		// A rolling rotation whose previous token stops soon, or after
		// the warning window (so that the next rotation may start while
		// it is open: the apply then retires the older previous token,
		// which checkStore sees).
		w.env["TOKEN_ROLL_OLD"] = w.env["TOKEN_ROLL"]
		w.env["TOKEN_ROLL"] = w.token()
		w.roll.previous = true
		w.roll.until = time.Now().Add(time.Duration(200+r.IntN(800)) * time.Millisecond)
		if r.IntN(2) == 0 {
			w.roll.until = time.Now().Add(2*time.Hour + time.Duration(r.IntN(60))*time.Minute)
		}
		w.writeAll()
		if open {
			return "rolling rotation (window open)"
		}
		return "rolling rotation"
	case n < 80:
		// Time passes: past the nearest bound the walk set, if any.
		var next time.Time
		if w.expires != nil {
			next = w.expires.Add(-time.Hour)
		}
		if w.roll.previous && (next.IsZero() || w.roll.until.Before(next)) {
			next = w.roll.until
		}
		if d := time.Until(next); d > 0 && d < 2*time.Second {
			time.Sleep(d + 10*time.Millisecond)
			return "time moved past a bound"
		}
		return "nothing"
	case n < 82:
		versionMu.Lock()
		version = []string{"", "diff-1", "diff-2"}[r.IntN(3)]
		versionMu.Unlock()
		return "keyprov version changed"
	default:
		return "nothing"
	}
}

// checkStore requires what every run must give, fast path or not: no
// exit 3 or 5 (the walk's store is always reachable, and no state it
// makes, SQL edits included, may fail an apply on a constraint), and a
// store where each key holds at most one active and one previous token.
func (w *world) checkStore(t *testing.T, step int, change string, code int, out, stderr string) {
	t.Helper()
	where := fmt.Sprintf("step %d (after: %s)", step, change)
	require.NotContains(t, []int{exitStore, exitRejected}, code, "%s: exit %d:\n%s\n%s", where, code, out, stderr)
	var tokens *string
	require.NoError(t, w.sql.QueryRow(context.Background(), "SELECT to_regclass($1)::text", w.schema+".tokens").Scan(&tokens))
	if tokens == nil {
		return // no apply has created the schema yet
	}
	rows, err := w.sql.Query(context.Background(), `SELECT k.tenant || '/' || k.slug || ': ' || count(*) || ' ' || t.state || ' tokens'
FROM `+w.schema+`.tokens t JOIN `+w.schema+`.keys k ON k.id = t.key_id
WHERE t.state <> 'retired' GROUP BY k.tenant, k.slug, t.state HAVING count(*) > 1`)
	require.NoError(t, err)
	bad, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Empty(t, bad, "%s: exit %d:\n%s", where, code, out)
}

// checkFull runs the full path and requires that it finds what the fast
// path said.
//
// It reports false when it cannot: the record's time bound passed between
// the two runs.
func (w *world) checkFull(t *testing.T, step int, change string, code int, out string, fast map[string]any) bool {
	t.Helper()
	where := fmt.Sprintf("step %d (after: %s)", step, change)
	require.Equal(t, 0, code, "%s: the fast path answered with exit %d:\n%s", where, code, out)
	fcode, fout, ferr := w.run(append([]string{"plan", "--full", "-o", "json"}, w.args()...)...)
	require.Equal(t, 0, fcode, "%s: the fast path answered, the full plan exits %d:\n%s\n%s", where, fcode, fout, ferr)
	var doc struct {
		ComputedAt time.Time `json:"computed_at"`
		Summary    struct {
			Unchanged int `json:"unchanged"`
		} `json:"summary"`
		Changes  []json.RawMessage `json:"changes"`
		Warnings []json.RawMessage `json:"warnings"`
		Refusals []json.RawMessage `json:"refusals"`
	}
	require.NoError(t, json.Unmarshal([]byte(fout), &doc), "%s: %s", where, fout)
	if until := w.validUntil(); until != nil && !doc.ComputedAt.Before(*until) {
		// The record's time bound passed between the two runs: the full
		// plan is not the one the fast path answered for.
		return false
	}
	require.Empty(t, doc.Changes, "%s: the fast path said no changes; the full plan:\n%s", where, fout)
	require.Empty(t, doc.Warnings, "%s: the fast path said nothing; the full plan warns:\n%s", where, fout)
	require.Empty(t, doc.Refusals, "%s: the full plan refuses:\n%s", where, fout)
	require.Equal(t, float64(doc.Summary.Unchanged), fast["unchanged"], "%s: unchanged keys", where)
	return true
}

// validUntil is the time bound of the store's input record.
func (w *world) validUntil() *time.Time {
	var until *time.Time
	err := w.sql.QueryRow(context.Background(), "SELECT valid_until FROM "+w.schema+".inputs WHERE owner = 'diff'").Scan(&until)
	require.NoError(w.t, err)
	return until
}
