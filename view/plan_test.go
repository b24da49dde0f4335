package view_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/testutil"
	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/review"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/view"
)

var (
	planNow = time.Date(2026, 5, 4, 10, 30, 0, 0, time.UTC)
	runID   = "0b7c3a52-6a2c-4f43-9d7e-2f1c1b0a9e11"
)

func addr(s string) spec.Address {
	a, err := spec.ParseAddress(s)
	if err != nil {
		panic(err)
	}
	return a
}

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// everyChange is a plan with one change of every kind, shaped as Diff
// shapes them (sorted by address, no-ops included).
func everyChange() *reconcile.Plan {
	moved := addr("acme/store")
	return &reconcile.Plan{
		Owner: "platform", Now: planNow, Prune: true,
		Changes: []reconcile.Change{
			{Address: addr("acme/blog"), Action: reconcile.Update, KeyID: 4,
				Token: &reconcile.TokenChange{Before: "wat_…b1Qx", After: "wat_…Zr4T", Previous: "wat_…b1Qx", PreviousUntil: at("2026-06-01T00:00:00Z")},
				Risks: []review.Risk{{Severity: review.Medium, Kind: review.RiskTokenSource, Address: "acme/blog", Field: "token",
					Reason: "token changed: wat_…b1Qx → wat_…Zr4T: the key is rotated when applied (the old token stays valid until 2026-06-01T00:00:00Z as previous_token)"}}},
			{Address: addr("acme/legacy"), Action: reconcile.Revoke, KeyID: 5, Reason: reconcile.ReasonSpecRevoked,
				Fields: []reconcile.FieldChange{{Field: "revoked", Before: false, After: true}},
				Token:  &reconcile.TokenChange{Before: "wat_…Lk2P", Retired: []string{"wat_…Lk2P"}}},
			{Address: addr("acme/mobile"), Action: reconcile.Update, KeyID: 12,
				Token: &reconcile.TokenChange{Before: "wat_…Mb3c", After: "wat_…Mb3c", Previous: "wat_…Xq7e", PreviousUntil: at("2030-01-01T00:00:00Z"), PreviousNew: true},
				Risks: []review.Risk{{Severity: review.High, Kind: review.RiskPreviousToken, Address: "acme/mobile", Field: "previous_token",
					Reason: "previous_token wat_…Xq7e added without a token change: a second token works for this key until 2030-01-01T00:00:00Z, 1337 days from now (more than 30)"}}},
			{Address: addr("acme/old-site"), Action: reconcile.Blocked, KeyID: 6,
				Reason: "token was revoked at 2026-04-01T00:00:00Z — set a new token"},
			{Address: addr("acme/partner"), Action: reconcile.Update, KeyID: 13,
				Fields: []reconcile.FieldChange{{Field: "expires", Before: *at("2026-12-31T00:00:00Z"), After: nil}},
				Risks: []review.Risk{{Severity: review.High, Kind: review.RiskExpiry, Address: "acme/partner", Field: "expires",
					Reason: "expiry removed: the key no longer expires (it was to expire at 2026-12-31T00:00:00Z)"}}},
			{Address: addr("acme/restored"), Action: reconcile.Update, KeyID: 7,
				Fields: []reconcile.FieldChange{{Field: "revoked", Before: true, After: false}},
				Token:  &reconcile.TokenChange{After: "wat_…Hq7M"},
				Risks: []review.Risk{{Severity: review.High, Kind: review.RiskUnrevoked, Address: "acme/restored", Field: "revoked",
					Reason: "revoked = true removed: the key works again when applied"}}},
			{Address: addr("acme/shop"), Action: reconcile.Update, KeyID: 8, MovedFrom: &moved},
			{Address: addr("acme/suspended"), Action: reconcile.Held, KeyID: 14, Held: true,
				Reason: "disabled by alice@ops at 2026-05-01T08:00:00Z: unpaid invoice; keyprov enable acme/suspended lifts it"},
			{Address: addr("acme/website"), Action: reconcile.Update, KeyID: 9,
				Fields: []reconcile.FieldChange{
					{Field: "name", Before: "Website", After: "Public website"},
					{Field: "description", Before: "", After: "Reads | renders <pages>"},
					{Field: "permissions", Before: raw(`[{"name": "cms.read"}, {"name": "cms.write"}]`), After: raw(`[{"name": "cms.read"}, {"name": "cms.write", "locales": ["en"]}]`),
						Added: []json.RawMessage{raw(`{"name": "cms.write", "locales": ["en"]}`)}, Removed: []json.RawMessage{raw(`{"name": "cms.write"}`)}},
					{Field: "metadata", Before: raw(`{}`), After: raw(`{"team": "web"}`)},
					{Field: "expires", Before: nil, After: *at("2027-06-30T00:00:00Z")},
				}},
			{Address: addr("globex/api"), Action: reconcile.Update, KeyID: 10, AdoptedFrom: "billing",
				Fields: []reconcile.FieldChange{{Field: "owner", Before: "billing", After: "platform"}}},
			{Address: addr("globex/reports"), Action: reconcile.Create,
				Row: &store.KeyRow{Tenant: "globex", Slug: "reports", Content: store.Content{Name: "Reports", Description: "Nightly export",
					Permissions: []byte(`[{"name": "reports.read"}]`), Metadata: []byte(`{"team": "data"}`),
					ExpiresAt: at("2027-01-01T00:00:00Z"), Owner: "platform"}},
				Token: &reconcile.TokenChange{After: "wat_…4sWd"}},
			{Address: addr("globex/shop"), Action: reconcile.Update, KeyID: 15,
				Fields: []reconcile.FieldChange{{Field: "disabled", Before: false, After: true}, {Field: "disabled_by", Before: nil, After: []string{"spec"}}},
				Risks: []review.Risk{{Severity: review.Low, Kind: review.RiskDisabled, Address: "globex/shop", Field: "disabled",
					Reason: "disabled: the key's tokens stop working when applied, and are kept (enabling it restores them)"}}},
			{Address: addr("globex/trial"), Action: reconcile.Update, KeyID: 16,
				Fields: []reconcile.FieldChange{{Field: "disabled", Before: true, After: false}, {Field: "disabled_by", Before: []string{"prune"}, After: nil}},
				Risks: []review.Risk{{Severity: review.High, Kind: review.RiskEnabled, Address: "globex/trial", Field: "disabled",
					Reason: "enabled: the key's tokens, kept while it was disabled, work again when applied"}}},
			{Address: addr("initech/archive"), Action: reconcile.Update, KeyID: 17, Reason: reconcile.ReasonRemoved,
				Fields: []reconcile.FieldChange{{Field: "disabled", Before: false, After: true}, {Field: "disabled_by", Before: nil, After: []string{"prune"}}},
				Risks: []review.Risk{{Severity: review.Low, Kind: review.RiskRemoved, Address: "initech/archive",
					Reason: "removed from the spec: disabled by an apply with --prune, its tokens kept (declaring it again enables it)"}}},
			{Address: addr("initech/gone"), Action: reconcile.Revoke, KeyID: 11, Reason: reconcile.ReasonRemoved,
				Fields: []reconcile.FieldChange{{Field: "revoked", Before: false, After: true}},
				Token:  &reconcile.TokenChange{Before: "wat_…Gg9e", Retired: []string{"wat_…Gg9e", "wat_…Pp0a"}},
				Risks: []review.Risk{{Severity: review.Low, Kind: review.RiskRemoved, Address: "initech/gone",
					Reason: "removed from the spec: revoked by an apply with --prune=revoke: its tokens can never be used again"}}},
			{Address: addr("root/cdn"), Action: reconcile.NoOp, Universal: true, KeyID: 1},
			{Address: addr("root/frontend"), Action: reconcile.Create, Universal: true,
				Row: &store.KeyRow{Tenant: "root", Slug: "frontend", Content: store.Content{Universal: true, Name: "Universal front-end key",
					Permissions: []byte(`[{"name": "*"}]`), Metadata: []byte(`{}`), Owner: "platform"}},
				Token: &reconcile.TokenChange{After: "wat_…NYQV"},
				Risks: []review.Risk{
					{Severity: review.Critical, Kind: review.RiskCrossTenant, Address: "root/frontend", Reason: "new universal key: its token reaches every tenant"},
					{Severity: review.High, Kind: review.RiskPermissions, Address: "root/frontend", Field: "permissions", Reason: `new key with broad permissions: wildcard "*"`},
				}},
			{Address: addr("root/search"), Action: reconcile.Update, Universal: true, KeyID: 3,
				Fields: []reconcile.FieldChange{{Field: "permissions", Before: raw(`[{"name": "search.read"}]`), After: raw(`[{"name": "search.*"}]`),
					Added: []json.RawMessage{raw(`{"name": "search.*"}`)}, Removed: []json.RawMessage{raw(`{"name": "search.read"}`)}}},
				Token: &reconcile.TokenChange{Before: "wat_…HBc7", After: "wat_…IwG1", Retired: []string{"wat_…HBc7"}},
				Risks: []review.Risk{
					{Severity: review.High, Kind: review.RiskPermissions, Address: "root/search", Field: "permissions", Reason: `permissions widened: wildcard "search.*" gained`},
					{Severity: review.Medium, Kind: review.RiskTokenSource, Address: "root/search", Field: "token", Reason: "token changed: wat_…HBc7 → wat_…IwG1: the key is rotated when applied (the old token stops working)"},
				}},
		},
		Warnings: []reconcile.Warning{
			{Address: "acme/website", Kind: reconcile.WarnExpiring, Message: "expires at 2026-05-10T00:00:00Z, in 5 days"},
			{Address: "initech/intranet", Kind: reconcile.WarnUnmanaged, Message: "owned by this spec but no longer declared in it; apply --prune disables it (its tokens are kept)"},
		},
	}
}

func refusedPlan() *reconcile.Plan {
	return &reconcile.Plan{
		Owner: "platform", Now: planNow,
		Changes: []reconcile.Change{
			{Address: addr("acme/blog"), Action: reconcile.Create,
				Row:   &store.KeyRow{Tenant: "acme", Slug: "blog", Content: store.Content{Name: "Blog", Permissions: []byte(`[]`), Metadata: []byte(`{}`), Owner: "platform"}},
				Token: &reconcile.TokenChange{After: "wat_…Zr4T"}},
			{Address: addr("root/search"), Action: reconcile.Create, Universal: true,
				Row:   &store.KeyRow{Tenant: "root", Slug: "search", Content: store.Content{Universal: true, Name: "Search", Permissions: []byte(`[]`), Metadata: []byte(`{}`), Owner: "platform"}},
				Token: &reconcile.TokenChange{After: "wat_…IwG1"},
				Risks: []review.Risk{{Severity: review.Critical, Kind: review.RiskCrossTenant, Address: "root/search", Reason: "new universal key: its token reaches every tenant"}}},
		},
		Refusals: []reconcile.Refusal{
			{Address: "root/search", Message: "critical risk (--fail-on high): new universal key: its token reaches every tenant"},
			{Address: "acme/website", Message: `acme/website exists and is owned by "billing", not by this spec's owner "platform": it was created by hand or by another spec; use --adopt to take it over`},
			{Message: `the prune would disable 3 keys owned by "platform" that the spec no longer declares, of 5 live ones; by default one apply may disable at most 1 (10% of the live keys, at least 1). If this is intended, allow it with --max-prune 3 (or --max-prune 60%)`},
		},
	}
}

func noChanges() *reconcile.Plan {
	return &reconcile.Plan{Owner: "platform", Now: planNow, Changes: []reconcile.Change{
		{Address: addr("acme/website"), Action: reconcile.NoOp, KeyID: 2},
		{Address: addr("root/frontend"), Action: reconcile.NoOp, Universal: true, KeyID: 1},
	}}
}

// manyChanges has more changes than a small --max-lines shows.
func manyChanges() *reconcile.Plan {
	p := &reconcile.Plan{Owner: "platform", Now: planNow}
	for i, tenant := range []string{"acme", "acme", "acme", "globex", "globex", "initech"} {
		p.Changes = append(p.Changes, reconcile.Change{Address: addr(fmt.Sprintf("%s/key-%d", tenant, i)), Action: reconcile.Create,
			Row:   &store.KeyRow{Tenant: tenant, Slug: fmt.Sprintf("key-%d", i), Content: store.Content{Name: "Key", Permissions: []byte(`[]`), Metadata: []byte(`{}`)}},
			Token: &reconcile.TokenChange{After: "wat_…Zr4T"}})
	}
	p.Changes = append(p.Changes, reconcile.Change{Address: addr("initech/rotated"), Action: reconcile.Update, KeyID: 3,
		Token: &reconcile.TokenChange{Before: "wat_…HBc7", After: "wat_…IwG1", Retired: []string{"wat_…HBc7"}}})
	return p
}

func TestPlanGolden(t *testing.T) {
	stats := &store.WriteStats{KeysInserted: 2, KeysUpdated: 4, TokensInserted: 4, TokensUpdated: 6, Events: 12}
	reports := map[string]*view.Report{
		"plan-every-change":  {Plan: everyChange(), Command: "plan"},
		"apply-every-change": {Plan: everyChange(), Command: "apply", Applied: true, RunID: runID, Stats: stats},
		"plan-refused":       {Plan: refusedPlan(), Command: "plan"},
		"apply-refused":      {Plan: refusedPlan(), Command: "apply", RunID: runID},
		"plan-no-changes":    {Plan: noChanges(), Command: "plan"},
		"apply-no-changes":   {Plan: noChanges(), Command: "apply", Applied: true, RunID: runID, Stats: &store.WriteStats{}},
	}
	formats := map[string]view.PlanView{
		"text":     &view.TextView{MaxLines: 200},
		"json":     &view.JSONView{},
		"markdown": &view.MarkdownView{MaxRows: 200},
	}
	for name, r := range reports {
		for format, v := range formats {
			t.Run(name+"."+format, func(t *testing.T) {
				var buf bytes.Buffer
				require.NoError(t, v.Render(&buf, r))
				planGolden(t, name+"."+format, buf.Bytes())
				if format == "json" {
					checkJSONDocument(t, r, buf.Bytes())
				}
			})
		}
	}

	t.Run("text in colour", func(t *testing.T) {
		var buf bytes.Buffer
		require.NoError(t, (&view.TextView{Color: true}).Render(&buf, reports["plan-every-change"]))
		planGolden(t, "plan-every-change.color-text", buf.Bytes())
		var plain bytes.Buffer
		require.NoError(t, (&view.TextView{}).Render(&plain, reports["plan-every-change"]))
		assert.Equal(t, plain.String(), stripANSI(buf.String()), "colour changes nothing but the colour")
	})

	t.Run("bounded", func(t *testing.T) {
		r := &view.Report{Plan: manyChanges(), Command: "plan"}
		var text, md bytes.Buffer
		require.NoError(t, (&view.TextView{MaxLines: 6}).Render(&text, r))
		planGolden(t, "plan-bounded.text", text.Bytes())
		require.NoError(t, (&view.MarkdownView{MaxRows: 3}).Render(&md, r))
		planGolden(t, "plan-bounded.markdown", md.Bytes())
	})
}

// Every kind of risk that a plan can carry shows in the golden plan: the
// kinds come from review, so that a new one cannot go unrendered.
// unlisted is p as reconcile.Diff makes it: its unchanged keys counted in
// Unlisted, not listed as NoOp changes.
func unlisted(p *reconcile.Plan) *reconcile.Plan {
	q := *p
	q.Changes = nil
	for _, c := range p.Changes {
		if c.Action == reconcile.NoOp {
			q.Unlisted++
			continue
		}
		q.Changes = append(q.Changes, c)
	}
	return &q
}

// A plan whose unchanged keys are counted renders byte for byte as the
// same plan listing them as NoOp changes, in every format and bound.
func TestPlanUnlistedRendersAsListed(t *testing.T) {
	plans := map[string]*reconcile.Plan{"every-change": everyChange(), "refused": refusedPlan(), "no-changes": noChanges(), "many": manyChanges()}
	plans["many"].Changes = append(plans["many"].Changes, reconcile.Change{Address: addr("acme/same"), Action: reconcile.NoOp, KeyID: 9})
	formats := map[string]view.PlanView{
		"text": &view.TextView{MaxLines: 200}, "bounded text": &view.TextView{MaxLines: 3},
		"json": &view.JSONView{}, "markdown": &view.MarkdownView{MaxRows: 200}, "bounded markdown": &view.MarkdownView{MaxRows: 2},
	}
	counted := 0
	for name, p := range plans {
		q := unlisted(p)
		counted += q.Unlisted
		assert.Equal(t, p.Summary(), q.Summary(), name)
		for _, cmd := range []string{"plan", "apply"} {
			for format, v := range formats {
				var a, b bytes.Buffer
				require.NoError(t, v.Render(&a, &view.Report{Plan: p, Command: cmd, RunID: runID}))
				require.NoError(t, v.Render(&b, &view.Report{Plan: q, Command: cmd, RunID: runID}))
				assert.Equal(t, a.String(), b.String(), "%s %s %s", name, cmd, format)
			}
		}
	}
	assert.Equal(t, 4, counted, "unchanged keys of the plans")
}

func TestPlanGoldenCoversEveryRisk(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "plan", "plan-every-change.json.golden"))
	require.NoError(t, err)
	var doc view.PlanDocument
	require.NoError(t, json.Unmarshal(b, &doc))
	seen := map[string]int{}
	for _, c := range doc.Changes {
		for _, rk := range c.Risks {
			seen[rk.Kind]++
			assert.Equal(t, c.Address, rk.Address, "a change carries its own risks")
		}
	}
	for _, kind := range review.RiskKinds() {
		if kind == review.RiskSettings {
			continue // the store keeps no settings: only keyprov diff compares them
		}
		assert.Positive(t, seen[string(kind)], "no golden plan flags %s", kind)
	}
	total := 0
	for _, n := range doc.Summary.Risks {
		total += n
	}
	assert.Equal(t, len(everyChange().Risks()), total, "the summary counts every risk")
	assert.Equal(t, "critical", doc.Summary.MaxSeverity)
}

// A plan whose changes are not in address order (the diff's always are)
// still gets one summary line per tenant.
func TestTenantSummaryOutOfOrder(t *testing.T) {
	p := &reconcile.Plan{Owner: "platform", Now: planNow}
	for i, tenant := range []string{"globex", "acme", "globex", "initech", "acme", "acme"} {
		p.Changes = append(p.Changes, reconcile.Change{Address: addr(fmt.Sprintf("%s/key-%d", tenant, i)), Action: reconcile.Create,
			Row:   &store.KeyRow{Tenant: tenant, Slug: fmt.Sprintf("key-%d", i), Content: store.Content{Name: "Key", Permissions: []byte(`[]`), Metadata: []byte(`{}`)}},
			Token: &reconcile.TokenChange{After: "wat_…Zr4T"}})
	}
	var text bytes.Buffer
	require.NoError(t, (&view.TextView{MaxLines: 1}).Render(&text, &view.Report{Plan: p, Command: "plan"}))
	out := text.String()
	i := strings.Index(out, "  not shown:")
	require.GreaterOrEqual(t, i, 0, out)
	assert.Equal(t, "  not shown: 6 create\n  acme: 3 create\n  globex: 2 create\n  initech: 1 create\n", out[i:strings.Index(out, "\nPlan:")], out)
}

// planGolden compares got with testdata/plan/NAME.golden, or rewrites it with -update.
func planGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "plan", name+".golden")
	if testutil.Update() {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./view -run TestPlanGolden -update to create it")
	assert.Equal(t, string(want), string(got), "output differs from %s (go test ./view -update rewrites it)", path)
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// checkJSONDocument decodes a rendered JSON plan as a consumer would and
// checks the documented fields.
func checkJSONDocument(t *testing.T, r *view.Report, out []byte) {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(out, &doc))
	assert.Equal(t, view.PlanJSONVersion, doc["format_version"])
	assert.Equal(t, r.Command, doc["command"])
	assert.Equal(t, r.Plan.Owner, doc["owner"])
	assert.Equal(t, planNow.Format(time.RFC3339Nano), doc["computed_at"])
	assert.Equal(t, r.Applied, doc["applied"])
	assert.Equal(t, len(r.Plan.Refusals) > 0, doc["refused"])
	for _, field := range []string{"summary", "changes", "warnings", "refusals", "prune"} {
		assert.Contains(t, doc, field)
	}
	changes, _ := doc["changes"].([]any)
	changed := 0
	for _, c := range r.Plan.Changes {
		if c.Action != reconcile.NoOp {
			changed++
		}
	}
	assert.Len(t, changes, changed, "every change is listed, no-ops are only counted")
	if r.Stats != nil {
		assert.EqualValues(t, r.Stats.Rows(), doc["rows_written"])
	} else {
		assert.NotContains(t, doc, "rows_written")
	}
}

func TestNewPlanView(t *testing.T) {
	for format, want := range map[string]view.PlanView{
		"": &view.TextView{MaxLines: 9}, "text": &view.TextView{MaxLines: 9},
		"json": &view.JSONView{}, "markdown": &view.MarkdownView{MaxRows: 9}, "md": &view.MarkdownView{MaxRows: 9},
	} {
		v, err := view.NewPlanView(format, false, 9)
		require.NoError(t, err, format)
		assert.Equal(t, want, v, format)
	}
	_, err := view.NewPlanView("yaml", false, 0)
	assert.ErrorContains(t, err, `unknown output format "yaml"`)
}

func TestSummaryLine(t *testing.T) {
	tests := map[string]struct {
		s          reconcile.Summary
		past, plan string
	}{
		"nothing": {reconcile.Summary{Unchanged: 37},
			"0 created, 0 updated, 0 rotated, 37 unchanged", "0 to create, 0 to update, 0 to rotate, 37 unchanged"},
		"issue example": {reconcile.Summary{Created: 2, Updated: 1, Rotated: 1, Unchanged: 37},
			"2 created, 1 updated, 1 rotated, 37 unchanged", "2 to create, 1 to update, 1 to rotate, 37 unchanged"},
		"every kind": {reconcile.Summary{Created: 1, Updated: 2, Rotated: 3, Revoked: 4, Moved: 5, Adopted: 6, Blocked: 7, Unchanged: 8},
			"1 created, 2 updated, 3 rotated, 4 revoked, 5 moved, 6 adopted, 7 blocked, 8 unchanged",
			"1 to create, 2 to update, 3 to rotate, 4 to revoke, 5 to move, 6 to adopt, 7 blocked, 8 unchanged"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.past, view.SummaryLine(tc.s, true))
			assert.Equal(t, tc.plan, view.SummaryLine(tc.s, false))
		})
	}
}
