package reconcile_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
)

// Issue 18: a key can be disabled by the spec, a prune or an operator.
// These tests treat Diff as a pure function: how the holders combine, what
// the plan lists, and the events an apply would write.

// operator is an operator's disable, as keyprov disable records it.
var operator = &store.OperatorHold{At: testNow.Add(-2 * time.Hour), Actor: "alice@ops", Reason: "suspended customer"}

// disabledState is stateOf(s) with the key at address a disabled as d
// says (its time set when d has holders).
func disabledState(s *spec.Spec, a string, d store.Disabled) *store.State {
	st := stateOf(s)
	for _, k := range st.Keys {
		if k.Tenant+"/"+k.Slug == a {
			if d.Held() && d.At == nil {
				at := testNow.Add(-time.Hour)
				d.At = &at
			}
			k.Disabled = d
		}
	}
	return st
}

// switchEvents returns the disabled and enabled events an apply of p would
// write, as "address action reason changes".
func switchEvents(t *testing.T, p *reconcile.Plan) []string {
	t.Helper()
	var out []string
	for _, kw := range reconcile.Batch(p, reconcile.Meta{RunID: "r"}).Keys {
		for _, e := range kw.Events {
			if e.Action == reconcile.EventDisabled || e.Action == reconcile.EventEnabled {
				out = append(out, fmt.Sprintf("%s/%s %s %q %s", kw.Tenant, kw.Slug, e.Action, e.Reason, e.Document()))
			}
		}
	}
	return out
}

func change(t *testing.T, p *reconcile.Plan, a string) reconcile.Change {
	t.Helper()
	for _, c := range p.Changes {
		if c.Address.String() == a {
			return c
		}
	}
	t.Fatalf("no change for %s", a)
	return reconcile.Change{}
}

func TestDiffDisabledHolders(t *testing.T) {
	enabled := withOwner("platform", websiteKey(`name = "Website"`))
	disabled := withOwner("platform", websiteKey("name = \"Website\"\ndisabled = true"))
	earlier := testNow.Add(-time.Hour)
	tests := map[string]struct {
		stored store.Disabled // the stored key's state (stateOf of the enabled spec)
		spec   string
		action reconcile.Action
		held   bool
		fields []reconcile.FieldChange
		row    store.Disabled // the row's state, when the plan writes it (Operator unused)
		events []string
		sum    reconcile.Summary
	}{
		"enabled, as the spec says": {spec: enabled, action: reconcile.NoOp, sum: reconcile.Summary{Unchanged: 1}},
		"disabled by the spec": {
			spec: disabled, action: reconcile.Update,
			fields: []reconcile.FieldChange{{Field: "disabled", Before: false, After: true}, {Field: "disabled_by", Before: nil, After: []string{"spec"}}},
			row:    store.Disabled{At: &testNow, Spec: true},
			events: []string{`acme/website disabled "disabled = true in spec" {"disabled":{"new":true,"old":false},"disabled_by":{"new":["spec"],"old":[]}}`},
			sum:    reconcile.Summary{Disabled: 1},
		},
		"still disabled by the spec": {stored: store.Disabled{Spec: true}, spec: disabled, action: reconcile.NoOp, sum: reconcile.Summary{Unchanged: 1}},
		"enabled by the spec": {
			stored: store.Disabled{Spec: true}, spec: enabled, action: reconcile.Update,
			fields: []reconcile.FieldChange{{Field: "disabled", Before: true, After: false}, {Field: "disabled_by", Before: []string{"spec"}, After: nil}},
			row:    store.Disabled{},
			events: []string{`acme/website enabled "disabled = true removed from spec" {"disabled":{"new":false,"old":true},"disabled_by":{"new":[],"old":["spec"]}}`},
			sum:    reconcile.Summary{Enabled: 1},
		},
		// An operator's disable holds across applies: not a change.
		"held by an operator": {stored: store.Disabled{Operator: operator}, spec: enabled, action: reconcile.Held, held: true, sum: reconcile.Summary{Held: 1}},
		// disabled = true keeps the key disabled whatever an operator does.
		"disabled by the spec and an operator": {stored: store.Disabled{Spec: true, Operator: operator}, spec: disabled, action: reconcile.NoOp, sum: reconcile.Summary{Unchanged: 1}},
		"the spec joins an operator": {
			stored: store.Disabled{At: &earlier, Operator: operator}, spec: disabled, action: reconcile.Update,
			fields: []reconcile.FieldChange{{Field: "disabled_by", Before: []string{"operator"}, After: []string{"spec", "operator"}}},
			row:    store.Disabled{At: &earlier, Spec: true},
			events: []string{`acme/website disabled "disabled = true in spec" {"disabled":{"new":true,"old":true},"disabled_by":{"new":["spec","operator"],"old":["operator"]}}`},
			sum:    reconcile.Summary{Updated: 1},
		},
		"the spec lets go, the operator holds": {
			stored: store.Disabled{At: &earlier, Spec: true, Operator: operator}, spec: enabled, action: reconcile.Update, held: true,
			fields: []reconcile.FieldChange{{Field: "disabled_by", Before: []string{"spec", "operator"}, After: []string{"operator"}}},
			row:    store.Disabled{At: &earlier},
			events: []string{`acme/website enabled "disabled = true removed from spec" {"disabled":{"new":true,"old":true},"disabled_by":{"new":["operator"],"old":["spec","operator"]}}`},
			sum:    reconcile.Summary{Updated: 1, Held: 1},
		},
		// A pruned key declared again is enabled, unless an operator holds it.
		"declared again after a prune": {
			stored: store.Disabled{Prune: true}, spec: enabled, action: reconcile.Update,
			fields: []reconcile.FieldChange{{Field: "disabled", Before: true, After: false}, {Field: "disabled_by", Before: []string{"prune"}, After: nil}},
			row:    store.Disabled{},
			events: []string{`acme/website enabled "declared in the spec again" {"disabled":{"new":false,"old":true},"disabled_by":{"new":[],"old":["prune"]}}`},
			sum:    reconcile.Summary{Enabled: 1},
		},
		"declared again with disabled = true": {
			stored: store.Disabled{At: &earlier, Prune: true}, spec: disabled, action: reconcile.Update,
			fields: []reconcile.FieldChange{{Field: "disabled_by", Before: []string{"prune"}, After: []string{"spec"}}},
			row:    store.Disabled{At: &earlier, Spec: true},
			events: []string{`acme/website disabled "declared in the spec again, with disabled = true" {"disabled":{"new":true,"old":true},"disabled_by":{"new":["spec"],"old":["prune"]}}`},
			sum:    reconcile.Summary{Updated: 1},
		},
		"declared again, held by an operator": {
			stored: store.Disabled{At: &earlier, Prune: true, Operator: operator}, spec: enabled, action: reconcile.Update, held: true,
			fields: []reconcile.FieldChange{{Field: "disabled_by", Before: []string{"prune", "operator"}, After: []string{"operator"}}},
			row:    store.Disabled{At: &earlier},
			events: []string{`acme/website enabled "declared in the spec again" {"disabled":{"new":true,"old":true},"disabled_by":{"new":["operator"],"old":["prune","operator"]}}`},
			sum:    reconcile.Summary{Updated: 1, Held: 1},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := evalSpec(t, tc.spec)
			st := disabledState(s, "acme/website", tc.stored)
			if !tc.stored.Held() {
				st = stateOf(evalSpec(t, enabled))
			}
			p := reconcile.Diff(s, st, nil, reconcile.Options{Strict: true})
			require.Empty(t, p.Refusals, "a held key is not blocked, even with --strict")
			if tc.action == reconcile.NoOp {
				// Unchanged: counted, not listed.
				assert.Empty(t, p.Changes)
				assert.Equal(t, 1, p.Unlisted)
				assert.Equal(t, tc.sum, p.Summary())
				assert.Empty(t, switchEvents(t, p))
				return
			}
			c := change(t, p, "acme/website")
			assert.Equal(t, tc.action, c.Action)
			assert.Equal(t, tc.held, c.Held)
			assert.Equal(t, tc.fields, c.Fields)
			assert.Equal(t, tc.sum, p.Summary())
			assert.Equal(t, tc.events, switchEvents(t, p))
			assert.Nil(t, c.Token, "tokens are never touched")
			assert.Empty(t, c.NewTokens)
			assert.Empty(t, c.TokenUpdates)
			if tc.held {
				assert.False(t, p.Settled(), "a held key is listed by the next plan: the store is not settled")
				assert.Equal(t, "disabled by alice@ops at "+operator.At.Format(time.RFC3339)+": suspended customer; keyprov enable acme/website lifts it", c.Reason)
				if c.Action == reconcile.Held {
					assert.False(t, c.Changed())
					assert.False(t, p.HasChanges(), "a held key is not a change")
				}
			}
			if tc.fields == nil {
				assert.Nil(t, c.Row)
				return
			}
			require.NotNil(t, c.Row)
			assert.Equal(t, tc.row.At, c.Row.Disabled.At)
			assert.Equal(t, tc.row.Spec, c.Row.Disabled.Spec)
			assert.Equal(t, tc.row.Prune, c.Row.Disabled.Prune)
		})
	}
}

// A new key with disabled = true is created disabled, with its token.
func TestDiffCreateDisabled(t *testing.T) {
	p := reconcile.Diff(evalSpec(t, withOwner("platform", websiteKey("name = \"Website\"\ndisabled = true"))), &store.State{Now: testNow}, nil, reconcile.Options{})
	c := change(t, p, "acme/website")
	assert.Equal(t, reconcile.Create, c.Action)
	assert.Equal(t, &testNow, c.Row.Disabled.At)
	assert.True(t, c.Row.Disabled.Spec)
	assert.Len(t, c.NewTokens, 1, "its token is stored, active: enabling the key makes it work")
	b := reconcile.Batch(p, reconcile.Meta{RunID: "r"})
	assert.Contains(t, string(b.Keys[0].Events[0].Document()), `"disabled":{"new":true}`)
}

// tenantSpec declares root/frontend, root/admin and a key per tenant of
// tenants: five keys with three tenants.
func tenantSpec(tenants ...string) string { return tenantSpecDisabled(nil, tenants...) }

// tenantSpecDisabled is tenantSpec with disabled = true on the website
// keys of the tenants in disabled.
func tenantSpecDisabled(disabled []string, tenants ...string) string {
	list := func(ss []string) string {
		if len(ss) == 0 {
			return `[]`
		}
		return `["` + strings.Join(ss, `", "`) + `"]`
	}
	return withOwner("platform", `
universal_key "frontend" {
  name  = "Front end"
  token = env("TOKEN_A")
}
universal_key "admin" {
  name  = "Admin"
  token = env("TOKEN_B")
}
tenant_key "website" {
  for_each = toset(`+list(tenants)+`)
  tenant   = each.key
  disabled = contains(`+list(disabled)+`, each.key)
  name     = "Website (${each.key})"
  token    = env({ acme = "TOKEN_C", globex = "TOKEN_D", initech = "TOKEN_E" }[each.key])
}
`)
}

// Issue 18: prune disables, and its rail protects small stores.
func TestDiffPruneDisables(t *testing.T) {
	all := evalSpec(t, tenantSpec("acme", "globex", "initech"))
	st := stateOf(all)

	// Without --prune, a warning.
	p := reconcile.Diff(evalSpec(t, tenantSpec("acme", "globex")), st, nil, reconcile.Options{})
	assert.False(t, p.HasChanges())
	require.Len(t, p.Warnings, 1)
	assert.Equal(t, "initech/website", p.Warnings[0].Address)
	assert.Contains(t, p.Warnings[0].Message, "apply --prune disables it (its tokens are kept)")

	// One of five: disabled, its tokens kept.
	p = reconcile.Diff(evalSpec(t, tenantSpec("acme", "globex")), st, nil, reconcile.Options{Prune: true})
	require.Empty(t, p.Refusals)
	c := change(t, p, "initech/website")
	assert.Equal(t, reconcile.Update, c.Action)
	assert.Equal(t, reconcile.ReasonRemoved, c.Reason)
	assert.Equal(t, []reconcile.FieldChange{{Field: "disabled", Before: false, After: true}, {Field: "disabled_by", Before: nil, After: []string{"prune"}}}, c.Fields)
	assert.Empty(t, c.TokenUpdates, "no token is retired")
	assert.Nil(t, c.Token)
	assert.True(t, c.Row.Disabled.Prune)
	assert.Equal(t, reconcile.Summary{Disabled: 1, Unchanged: 4}, p.Summary())
	assert.Equal(t, []string{`initech/website disabled "removed from spec" {"disabled":{"new":true,"old":false},"disabled_by":{"new":["prune"],"old":[]}}`}, switchEvents(t, p))

	// Once pruned, a key stays so and the next prune has nothing to do.
	pruned := disabledState(all, "initech/website", store.Disabled{Prune: true})
	p = reconcile.Diff(evalSpec(t, tenantSpec("acme", "globex")), pruned, nil, reconcile.Options{Prune: true})
	assert.False(t, p.HasChanges())
	assert.Empty(t, p.Refusals)
	p = reconcile.Diff(evalSpec(t, tenantSpec("acme", "globex")), pruned, nil, reconcile.Options{})
	require.Len(t, p.Warnings, 1)
	assert.Contains(t, p.Warnings[0].Message, "disabled by an earlier prune")

	// Back in the spec with the same token: enabled, nothing blocked.
	p = reconcile.Diff(all, pruned, nil, reconcile.Options{Prune: true, Strict: true})
	require.Empty(t, p.Refusals)
	assert.Equal(t, reconcile.Summary{Enabled: 1, Unchanged: 4}, p.Summary())
	assert.Equal(t, []reconcile.FieldChange{{Field: "disabled", Before: true, After: false}, {Field: "disabled_by", Before: []string{"prune"}, After: nil}},
		change(t, p, "initech/website").Fields)

	// A spec's disable becomes a prune's when the key leaves the spec.
	specDisabled := disabledState(all, "initech/website", store.Disabled{Spec: true})
	p = reconcile.Diff(evalSpec(t, tenantSpec("acme", "globex")), specDisabled, nil, reconcile.Options{Prune: true})
	assert.Equal(t, []reconcile.FieldChange{{Field: "disabled_by", Before: []string{"spec"}, After: []string{"prune"}}}, change(t, p, "initech/website").Fields)

	// --prune=revoke burns the tokens, as before.
	p = reconcile.Diff(evalSpec(t, tenantSpec("acme", "globex")), st, nil, reconcile.Options{Prune: true, PruneRevoke: true})
	require.Empty(t, p.Refusals)
	c = change(t, p, "initech/website")
	assert.Equal(t, reconcile.Revoke, c.Action)
	assert.Equal(t, []string{hintOf("TOKEN_E")}, c.Token.Retired)
	assert.True(t, p.PruneRevoke)
}

func TestDiffPruneRails(t *testing.T) {
	st := stateOf(evalSpec(t, tenantSpec("acme", "globex", "initech")))
	refusal := func(tenants []string, opts reconcile.Options) string {
		t.Helper()
		opts.Prune = true
		p := reconcile.Diff(evalSpec(t, tenantSpec(tenants...)), st, nil, opts)
		if len(p.Refusals) == 0 {
			return ""
		}
		require.Len(t, p.Refusals, 1)
		return p.Refusals[0].Message
	}
	// The reproduction: an empty tenant list removes 3 of 5 keys.
	assert.Equal(t, `the prune would disable 3 keys owned by "platform" that the spec no longer declares, of 5 live ones; `+
		`by default one apply may disable at most 1 (10% of the live keys, at least 1). If this is intended, allow it with --max-prune 3 (or --max-prune 60%)`,
		refusal(nil, reconcile.Options{}))
	assert.Equal(t, "", refusal([]string{"acme", "globex"}, reconcile.Options{}), "one of five is allowed")
	assert.Contains(t, refusal([]string{"acme"}, reconcile.Options{}), "the prune would disable 2 keys", "two of five are not")
	assert.Contains(t, refusal(nil, reconcile.Options{PruneRevoke: true}), "the prune would revoke 3 keys")
	assert.Equal(t, "", refusal(nil, reconcile.Options{MaxPrune: reconcile.MaxPrune{Set: true, N: 3}}))
	assert.Equal(t, "", refusal(nil, reconcile.Options{MaxPrune: reconcile.MaxPrune{Set: true, Percent: 60}}))
	assert.Contains(t, refusal(nil, reconcile.Options{MaxPrune: reconcile.MaxPrune{Set: true, Percent: 50}}), "--max-prune 50% allows 2. If this is intended, allow it with --max-prune 3 (or --max-prune 60%)")

	// Keys disabled already are not live: they do not widen the budget.
	disabled := disabledState(evalSpec(t, tenantSpec("acme", "globex", "initech")), "root/admin", store.Disabled{Operator: operator})
	p := reconcile.Diff(evalSpec(t, tenantSpec("acme", "globex")), disabled, nil, reconcile.Options{Prune: true})
	assert.Empty(t, p.Refusals)
	assert.Equal(t, 1, p.Summary().Held)

	// The empty-spec rail stays, whatever --max-prune says.
	p = reconcile.Diff(evalSpec(t, withOwner("platform", "")), st, nil, reconcile.Options{Prune: true, MaxPrune: reconcile.MaxPrune{Set: true, Percent: 100}})
	require.Len(t, p.Refusals, 1)
	assert.Equal(t, `the spec declares no keys, but the store holds 5 keys owned by "platform": refusing to disable them all (check the spec paths and variables)`, p.Refusals[0].Message)

	assert.Equal(t, 1, reconcile.MaxPrune{}.Limit(5))
	assert.Equal(t, 1, reconcile.MaxPrune{}.Limit(19))
	assert.Equal(t, 2, reconcile.MaxPrune{}.Limit(20))
	assert.Equal(t, 1000, reconcile.MaxPrune{}.Limit(10000))
}
