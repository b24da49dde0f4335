package reconcile_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/review"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
)

type planRisk struct {
	sev  review.Severity
	kind review.RiskKind
	addr string
}

func planRisks(p *reconcile.Plan) []planRisk {
	out := []planRisk{}
	for _, rk := range p.Risks() {
		out = append(out, planRisk{rk.Severity, rk.Kind, rk.Address})
	}
	return out
}

// gateway is the universal key root/gateway with the given permissions.
func gateway(perms string) string {
	return "universal_key \"gateway\" {\n  name        = \"Gateway\"\n  token       = env(\"TOKEN_C\")\n  permissions = " + perms + "\n}\n"
}

// withPrevious stores token env as the previous token of every key of st,
// valid until until.
func withPrevious(st *store.State, env string, until time.Time) *store.State {
	for _, k := range st.Keys {
		k.Tokens = append(k.Tokens, store.Token{Digest: digestOf(env), Hint: hintOf(env), State: store.StatePrevious, ValidUntil: &until})
	}
	return st
}

// A plan flags its changes by keyprov diff's rules (issue 16), applied to
// the stored key and the key the change leaves: there a token is told
// apart by its digest, so a new token is a rotation.
func TestDiffRisks(t *testing.T) {
	soon := rfc3339(testNow.Add(10 * 24 * time.Hour))
	far := rfc3339(testNow.Add(60 * 24 * time.Hour))
	tests := map[string]struct {
		stored string                        // the spec the store was applied from
		state  func(*spec.Spec) *store.State // defaults to stateOf
		spec   string
		opts   reconcile.Options
		want   []planRisk
		reason string // a fragment of the first risk's reason
	}{
		"no change": {stored: gateway(`["cms.read"]`), spec: gateway(`["cms.read"]`), want: []planRisk{}},
		// Issue 16: a universal key's permissions changed to a wildcard
		// was a plain update in the plan.
		"wildcard granted to a universal key": {
			stored: gateway(`["cms.read"]`), spec: gateway(`[{ name = "*" }]`),
			want:   []planRisk{{review.High, review.RiskPermissions, "root/gateway"}},
			reason: `permissions widened: wildcard "*" gained`,
		},
		// Issue 16: a universal key that becomes a key of one tenant
		// reaches less.
		"universal key moved into a tenant": {
			stored: gateway(`["cms.read"]`),
			spec: `tenant_key "gateway" {
  tenant      = "acme"
  name        = "Gateway"
  token       = env("TOKEN_C")
  permissions = ["cms.read"]
}
moved {
  from = "root/gateway"
  to   = "acme/gateway"
}`,
			want: []planRisk{},
		},
		"tenant key moved to another tenant": {
			stored: websiteKey(`name = "Website"`),
			spec: strings.Replace(websiteKey(`name = "Website"`), `"acme"`, `"globex"`, 1) + `moved {
  from = "acme/website"
  to   = "globex/website"
}`,
			want:   []planRisk{{review.Critical, review.RiskCrossTenant, "globex/website"}},
			reason: `moved from tenant "acme" to "globex"`,
		},
		"tenant key turned universal": {
			stored: strings.Replace(gateway(`[]`), `universal_key "gateway" {`, "tenant_key \"gateway\" {\n  tenant = \"root\"", 1),
			spec:   gateway(`[]`),
			want:   []planRisk{{review.Critical, review.RiskCrossTenant, "root/gateway"}},
		},
		"new universal key": {
			stored: websiteKey(`name = "Website"`), spec: websiteKey(`name = "Website"`) + gateway(`["search.*"]`),
			want: []planRisk{
				{review.Critical, review.RiskCrossTenant, "root/gateway"},
				{review.High, review.RiskPermissions, "root/gateway"},
			},
		},
		"rotation": {
			stored: websiteKey(`name = "Website"`), spec: strings.Replace(websiteKey(`name = "Website"`), "TOKEN_A", "TOKEN_B", 1),
			want:   []planRisk{{review.Medium, review.RiskTokenSource, "acme/website"}},
			reason: "token changed: " + hintOf("TOKEN_A") + " → " + hintOf("TOKEN_B") + ": the key is rotated when applied (the old token stops working)",
		},
		"rolling rotation": {
			stored: website("TOKEN_A", "", ""), spec: website("TOKEN_B", "TOKEN_A", soon),
			want:   []planRisk{{review.Medium, review.RiskTokenSource, "acme/website"}},
			reason: "the old token stays valid until " + soon + " as previous_token",
		},
		"rolling rotation with a long window": {
			stored: website("TOKEN_A", "", ""), spec: website("TOKEN_B", "TOKEN_A", far),
			want: []planRisk{
				{review.Medium, review.RiskExpiry, "acme/website"},
				{review.Medium, review.RiskTokenSource, "acme/website"},
			},
			reason: "previous_until far away: the former token " + hintOf("TOKEN_A") + " stays valid until " + far + ", 60 days from now (more than 30)",
		},
		"previous_until moved later": {
			stored: website("TOKEN_A", "", ""),
			state:  func(s *spec.Spec) *store.State { return withPrevious(stateOf(s), "TOKEN_E", testNow.Add(24*time.Hour)) },
			spec:   website("TOKEN_A", "TOKEN_E", soon),
			want:   []planRisk{{review.Medium, review.RiskExpiry, "acme/website"}},
			reason: "previous_until pushed later",
		},
		"previous_until brought forward": {
			stored: website("TOKEN_A", "", ""),
			state: func(s *spec.Spec) *store.State {
				return withPrevious(stateOf(s), "TOKEN_E", testNow.Add(20*24*time.Hour))
			},
			spec: website("TOKEN_A", "TOKEN_E", soon),
			want: []planRisk{},
		},
		// Refused without --allow-new-previous (see previous_test.go);
		// with it, the plan flags the token it lets in.
		"previous_token added without a token change": {
			stored: website("TOKEN_A", "", ""), spec: website("TOKEN_A", "TOKEN_E", soon),
			opts:   reconcile.Options{AllowNewPrevious: true},
			want:   []planRisk{{review.High, review.RiskPreviousToken, "acme/website"}},
			reason: "previous_token " + hintOf("TOKEN_E") + " added without a token change: a second token works for this key until " + soon,
		},
		"previous_token past its cutoff": {
			stored: website("TOKEN_A", "", ""), spec: website("TOKEN_A", "TOKEN_E", rfc3339(testNow.Add(-time.Hour))),
			opts: reconcile.Options{AllowNewPrevious: true},
			want: []planRisk{},
		},
		"unrevoked": {
			stored: websiteKey("name = \"Website\"\nrevoked = true"),
			state: func(s *spec.Spec) *store.State {
				st := stateOf(s)
				st.Keys[0].RevokedAt, st.Keys[0].Tokens = &testNow, nil
				return st
			},
			spec: strings.Replace(websiteKey(`name = "Website"`), "TOKEN_A", "TOKEN_B", 1),
			want: []planRisk{{review.High, review.RiskUnrevoked, "acme/website"}},
		},
		"expiry removed": {
			stored: websiteKey("name = \"Website\"\nexpires = \"2027-01-01T00:00:00Z\""), spec: websiteKey(`name = "Website"`),
			want: []planRisk{{review.High, review.RiskExpiry, "acme/website"}},
		},
		"pruned": {
			stored: websiteKey(`name = "Website"`) + gateway(`[]`), spec: websiteKey(`name = "Website"`),
			opts:   reconcile.Options{Prune: true},
			want:   []planRisk{{review.Low, review.RiskRemoved, "root/gateway"}},
			reason: "removed from the spec: disabled by an apply with --prune, its tokens kept (declaring it again enables it)",
		},
		"pruned with --prune=revoke": {
			stored: websiteKey(`name = "Website"`) + gateway(`[]`), spec: websiteKey(`name = "Website"`),
			opts:   reconcile.Options{Prune: true, PruneRevoke: true},
			want:   []planRisk{{review.Low, review.RiskRemoved, "root/gateway"}},
			reason: "removed from the spec: revoked by an apply with --prune=revoke: its tokens can never be used again",
		},
		// Issue 18: disabling takes access away (low), enabling brings it
		// back (high), whoever held the key disabled.
		"disabled": {
			stored: websiteKey(`name = "Website"`), spec: websiteKey("name = \"Website\"\ndisabled = true"),
			want: []planRisk{{review.Low, review.RiskDisabled, "acme/website"}},
		},
		"enabled": {
			stored: websiteKey("name = \"Website\"\ndisabled = true"), spec: websiteKey(`name = "Website"`),
			want:   []planRisk{{review.High, review.RiskEnabled, "acme/website"}},
			reason: "enabled: the key's tokens, kept while it was disabled, work again when applied",
		},
		"declared again after a prune": {
			stored: websiteKey(`name = "Website"`),
			state: func(s *spec.Spec) *store.State {
				st := stateOf(s)
				st.Keys[0].Disabled = store.Disabled{At: &testNow, Prune: true}
				return st
			},
			spec: websiteKey(`name = "Website"`),
			want: []planRisk{{review.High, review.RiskEnabled, "acme/website"}},
		},
		"held by an operator": {
			stored: websiteKey(`name = "Website"`),
			state: func(s *spec.Spec) *store.State {
				st := stateOf(s)
				st.Keys[0].Disabled = store.Disabled{At: &testNow, Prune: true, Operator: &store.OperatorHold{At: testNow, Actor: "alice", Reason: "incident"}}
				return st
			},
			spec: websiteKey(`name = "Website"`),
			want: []planRisk{},
		},
		// Narrowing is never above low.
		"revoked": {
			stored: gateway(`["cms.read"]`), spec: strings.Replace(gateway(`["*"]`), `name        = "Gateway"`, "name = \"Gateway\"\nrevoked = true", 1),
			want: []planRisk{},
		},
		"fewer permissions and an earlier expiry": {
			stored: websiteKey("name = \"Website\"\npermissions = [\"a\", \"b\"]\nexpires = \"2027-01-01T00:00:00Z\""),
			spec:   websiteKey("name = \"Website\"\npermissions = [\"a\"]\nexpires = \"2026-12-01T00:00:00Z\""),
			want:   []planRisk{},
		},
	}
	seen := map[review.RiskKind]bool{}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			stored := evalSpec(t, withOwner("platform", tc.stored))
			st := stateOf(stored)
			if tc.state != nil {
				st = tc.state(stored)
			}
			p := reconcile.Diff(evalSpec(t, withOwner("platform", tc.spec)), st, nil, tc.opts)
			require.Empty(t, p.Refusals)
			assert.Equal(t, tc.want, planRisks(p))
			if tc.reason != "" && assert.NotEmpty(t, p.Risks()) {
				assert.Contains(t, p.Risks()[0].Reason, tc.reason)
			}
			for _, c := range p.Changes {
				for _, rk := range c.Risks {
					assert.Equal(t, c.Address.String(), rk.Address, "a change carries its own risks")
					seen[rk.Kind] = true
				}
				assertNoToken(t, "a risk", strings.Join(riskReasons(c.Risks), "\n"))
			}
		})
	}
	for _, kind := range review.RiskKinds() {
		if kind != review.RiskSettings { // the store keeps no settings: only keyprov diff compares them
			assert.True(t, seen[kind], "no plan flags %s", kind)
		}
	}
}

func riskReasons(rs []review.Risk) []string {
	var out []string
	for _, rk := range rs {
		out = append(out, rk.Reason)
	}
	return out
}

// The plan ranks a change as keyprov diff ranks the same change between
// the spec the store was applied from and the new one: one engine.
func TestDiffRisksAsReview(t *testing.T) {
	pairs := map[string][2]string{
		"wildcard":          {gateway(`["cms.read"]`), gateway(`[{ name = "*" }]`)},
		"access widened":    {gateway(`[{ name = "cms.entry", rwd = "r" }]`), gateway(`[{ name = "cms.entry", rwd = "rw" }, "x.y"]`)},
		"expiry pushed":     {websiteKey("name = \"W\"\nexpires = \"2027-01-01T00:00:00Z\""), websiteKey("name = \"W\"\nexpires = \"2028-01-01T00:00:00Z\"")},
		"into a tenant":     {gateway(`[]`), strings.Replace(gateway(`[]`), `universal_key "gateway" {`, "tenant_key \"gateway\" {\n  tenant = \"acme\"", 1) + "moved {\n  from = \"root/gateway\"\n  to = \"acme/gateway\"\n}\n"},
		"new universal key": {websiteKey(`name = "W"`), websiteKey(`name = "W"`) + gateway(`["a.*"]`)},
		"disabled":          {websiteKey(`name = "W"`), websiteKey("name = \"W\"\ndisabled = true")},
		"enabled":           {websiteKey("name = \"W\"\ndisabled = true"), websiteKey(`name = "W"`)},
	}
	for name, pair := range pairs {
		t.Run(name, func(t *testing.T) {
			base, head := evalSpec(t, withOwner("platform", pair[0])), evalSpec(t, withOwner("platform", pair[1]))
			p := reconcile.Diff(head, stateOf(base), nil, reconcile.Options{})
			r := review.Compare(base, head, testNow)
			assert.Equal(t, r.Risks, p.Risks())
		})
	}
}

// --fail-on refuses a plan and an apply with a change at or above its
// level before anything is written (issue 16), against PostgreSQL.
func TestFailOnRefusesBeforeWriting(t *testing.T) {
	t.Parallel()
	ts := newTestStore(t)
	ts.apply(t, evalSpec(t, withOwner("platform", gateway(`["cms.read"]`)+websiteKey(`name = "Website"`))), reconcile.Options{})

	wild := evalSpec(t, withOwner("platform", gateway(`[{ name = "*" }]`)+websiteKey(`name = "Website"`)))
	for _, level := range []review.Severity{review.Low, review.Medium, review.High} {
		refusals := ts.refused(t, wild, reconcile.Options{FailOn: level})
		require.Len(t, refusals, 1, level)
		assert.Equal(t, "root/gateway", refusals[0].Address)
		assert.Equal(t, `high risk (--fail-on `+level.String()+`): permissions widened: wildcard "*" gained`, refusals[0].Message)
	}

	res, _ := ts.apply(t, wild, reconcile.Options{FailOn: review.Critical})
	assert.Equal(t, map[review.Severity]int{review.High: 1}, res.Plan.RiskCounts(), "below the level, the apply goes ahead")
}
