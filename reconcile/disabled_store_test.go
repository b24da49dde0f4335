package reconcile_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/store"
)

// keyStates returns "address disabled_by active-token-hint" for every key,
// disabled_by as the holders ("-" for none), against PostgreSQL.
func (ts *testStore) keyStates(t *testing.T) []string {
	t.Helper()
	return ts.strings(t, `SELECT k.tenant || '/' || k.slug || ' ' ||
	coalesce(nullif(concat_ws(',', CASE WHEN disabled_spec THEN 'spec' END, CASE WHEN disabled_prune THEN 'prune' END,
		CASE WHEN disabled_operator_at IS NOT NULL THEN 'operator' END), ''), '-') || ' ' ||
	coalesce((SELECT string_agg(hint || ':' || state, ',') FROM keyprov.tokens t WHERE t.key_id = k.id AND state <> 'retired'), 'no-token')
FROM keyprov.keys k ORDER BY k.tenant, k.slug`)
}

// The reproduction against PostgreSQL: a store of 5 keys; an empty
// tenant list would remove 3 (refused, nothing written); removing 1
// disables it with its token; declaring it again with the same token
// enables it, and nothing is blocked.
func TestPruneDisablesAndComesBack(t *testing.T) {
	t.Parallel()
	ts := newTestStore(t)
	all := evalSpec(t, tenantSpec("acme", "globex", "initech"))
	ts.apply(t, all, reconcile.Options{Prune: true})
	before := ts.keyStates(t)
	require.Len(t, before, 5)

	refusals := ts.refused(t, evalSpec(t, tenantSpec()), reconcile.Options{Prune: true})
	require.Len(t, refusals, 1)
	assert.Contains(t, refusals[0].Message, "the prune would disable 3 keys")
	assert.Contains(t, refusals[0].Message, "--max-prune 3 (or --max-prune 60%)")
	assert.Equal(t, before, ts.keyStates(t))

	res, runID := ts.apply(t, evalSpec(t, tenantSpec("acme", "globex")), reconcile.Options{Prune: true})
	assert.Equal(t, reconcile.Summary{Disabled: 1, Unchanged: 4}, res.Plan.Summary())
	assert.Equal(t, []string{
		"acme/website - " + hintOf("TOKEN_C") + ":active",
		"globex/website - " + hintOf("TOKEN_D") + ":active",
		"initech/website prune " + hintOf("TOKEN_E") + ":active",
		"root/admin - " + hintOf("TOKEN_B") + ":active",
		"root/frontend - " + hintOf("TOKEN_A") + ":active",
	}, ts.keyStates(t), "disabled, its token kept active")
	evs := ts.events(t)
	last := evs[len(evs)-1]
	assert.Equal(t, []string{"initech/website disabled removed from spec " + runID},
		[]string{last.Tenant + "/" + last.Slug + " " + last.Action + " " + *last.Reason + " " + last.RunID})

	// A second prune has nothing left to do.
	res, _ = ts.apply(t, evalSpec(t, tenantSpec("acme", "globex")), reconcile.Options{Prune: true})
	assert.Zero(t, res.Stats.Rows())

	res, _ = ts.apply(t, all, reconcile.Options{Prune: true, Strict: true})
	assert.Equal(t, reconcile.Summary{Enabled: 1, Unchanged: 4}, res.Plan.Summary(), "enabled, nothing blocked")
	assert.Equal(t, before, ts.keyStates(t), "the same token, active as before")
	evs = ts.events(t)
	last = evs[len(evs)-1]
	assert.Equal(t, "initech/website enabled declared in the spec again", last.Tenant+"/"+last.Slug+" "+last.Action+" "+*last.Reason)
	assert.JSONEq(t, `{"disabled": {"old": true, "new": false}, "disabled_by": {"old": ["prune"], "new": []}}`, last.Changes)
}

// An operator's disable holds across applies, which read and write
// nothing for it; the spec's disable and an operator's combine; a disable
// made by SQL is seen by the next apply.
func TestOperatorDisableHoldsAcrossApplies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := newTestStore(t)
	all := evalSpec(t, tenantSpec("acme", "globex", "initech"))
	ts.apply(t, all, reconcile.Options{})
	require.NoError(t, ts.db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.DisableKey(ctx, "acme", "website", "suspended customer", store.EventMeta{RunID: reconcile.NewRunID(), Actor: "alice@ops"})
		return err
	}))
	versions, writes := ts.rowVersions(t), ts.tupleWrites(t)
	for i := 0; i < 2; i++ {
		res, _ := ts.apply(t, all, reconcile.Options{Strict: true, Prune: true})
		assert.False(t, res.Plan.HasChanges())
		assert.Equal(t, reconcile.Summary{Held: 1, Unchanged: 4}, res.Plan.Summary())
		assert.Zero(t, res.Stats.Rows())
		assert.Zero(t, res.ContentRead, "a held key costs a no-op apply no read")
		c := change(t, res.Plan, "acme/website")
		assert.Equal(t, reconcile.Held, c.Action)
		assert.Contains(t, c.Reason, "disabled by alice@ops at ")
	}
	assert.Equal(t, versions, ts.rowVersions(t), "no row written")
	assert.Equal(t, writes, ts.tupleWrites(t))

	// disabled = true joins the operator; removing it leaves the operator's.
	withSpec := evalSpec(t, tenantSpecDisabled([]string{"acme"}, "acme", "globex", "initech"))
	res, _ := ts.apply(t, withSpec, reconcile.Options{})
	assert.Equal(t, reconcile.Summary{Updated: 1, Unchanged: 4}, res.Plan.Summary())
	assert.Contains(t, ts.keyStates(t), "acme/website spec,operator "+hintOf("TOKEN_C")+":active")
	res, _ = ts.apply(t, all, reconcile.Options{})
	assert.Equal(t, reconcile.Summary{Updated: 1, Held: 1, Unchanged: 4}, res.Plan.Summary())
	assert.Contains(t, ts.keyStates(t), "acme/website operator "+hintOf("TOKEN_C")+":active")

	// enable lifts the operator's disable; the next apply has nothing to do.
	require.NoError(t, ts.db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.EnableKey(ctx, "acme", "website", "", store.EventMeta{RunID: reconcile.NewRunID(), Actor: "alice@ops"})
		return err
	}))
	res, _ = ts.apply(t, all, reconcile.Options{})
	assert.Equal(t, reconcile.Summary{Unchanged: 5}, res.Plan.Summary())

	// A disable by SQL: the spec's flag set by hand is drift, restored
	// (the key is enabled again); an operator's is held.
	ts.exec(t, `UPDATE keyprov.keys SET disabled_at = now(), disabled_spec = true WHERE slug = 'admin'`)
	res, _ = ts.apply(t, all, reconcile.Options{})
	assert.Equal(t, reconcile.Summary{Enabled: 1, Unchanged: 4}, res.Plan.Summary())
	ts.exec(t, `UPDATE keyprov.keys SET disabled_at = now(), disabled_operator_at = now(), disabled_operator_actor = 'dba',
		disabled_operator_reason = 'by hand' WHERE slug = 'admin'`)
	res, _ = ts.apply(t, all, reconcile.Options{})
	assert.Equal(t, reconcile.Summary{Held: 1, Unchanged: 4}, res.Plan.Summary())
}
