package reconcile_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/store"
)

// These tests hold one apply to converge: whatever the store held, the
// tokens of a key after an apply are the spec's token, active, and at most
// the spec's previous token, valid until its previous_until; every other
// token is retired, and the same apply again writes nothing. Each runs
// against a real PostgreSQL database of its own.

// status is what keyprov.verify_token, which every verifier decides by,
// says of a test token presented for tenant acme.
func (ts *testStore) status(t *testing.T, env string) string {
	t.Helper()
	d := digestOf(env)
	var status string
	require.NoError(t, ts.sql.QueryRow(context.Background(), "SELECT status FROM keyprov.verify_token($1, 'acme')", d[:]).Scan(&status))
	return status
}

// tokenStates returns the state of each named test token, with its
// valid_until when previous and its retired_reason when retired ("absent"
// when the store does not hold it).
func (ts *testStore) tokenStates(t *testing.T, envs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, env := range envs {
		d := digestOf(env)
		rows := ts.strings(t, `SELECT state || CASE WHEN state = 'previous' THEN ' until ' || to_char(valid_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') ELSE '' END
	|| coalesce(' (' || retired_reason || ')', '') FROM keyprov.tokens WHERE digest = $1`, d[:])
		switch len(rows) {
		case 0:
			out[env] = "absent"
		default:
			out[env] = rows[0]
		}
	}
	return out
}

// settled requires that a plan of s has no changes and that an apply of s
// writes nothing: not a row, not an event.
func (ts *testStore) settled(t *testing.T, s string) {
	t.Helper()
	versions := ts.rowVersions(t)
	p := ts.plan(t, evalSpec(t, s), reconcile.Options{})
	assert.False(t, p.HasChanges(), "the plan has no changes: %+v", p.Changes)
	res, _ := ts.apply(t, evalSpec(t, s), reconcile.Options{})
	assert.Empty(t, res.Plan.Refusals)
	assert.Empty(t, res.Plan.Warnings)
	assert.Zero(t, res.Stats.Rows(), "a second apply writes nothing")
	assert.Equal(t, versions, ts.rowVersions(t))
}

// TestPreviousRotationInOpenWindow: a rolling rotation started while the
// previous token of the last one is still valid. The spec names one
// previous token, the token the new one replaces: the older previous
// token stops verifying at this apply, and the next apply has nothing
// to do.
func TestPreviousRotationInOpenWindow(t *testing.T) {
	t.Parallel()
	ts := newTestStore(t)
	ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_A", "", ""))), reconcile.Options{})
	first := future()
	ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_B", "TOKEN_A", first))), reconcile.Options{})
	require.Equal(t, "valid", ts.status(t, "TOKEN_A"), "TOKEN_A's window is open")

	second := rfc3339(time.Now().Add(480 * time.Hour))
	again := withOwner("platform", website("TOKEN_C", "TOKEN_B", second))
	res, runID := ts.apply(t, evalSpec(t, again), reconcile.Options{})
	assert.Empty(t, res.Plan.Refusals)
	assert.Empty(t, res.Plan.Warnings)
	assert.Equal(t, reconcile.Summary{Rotated: 1}, res.Plan.Summary())
	assert.Equal(t, store.WriteStats{TokensInserted: 1, TokensUpdated: 2, Events: 1}, res.Stats)
	assert.Equal(t, map[string]string{
		"TOKEN_A": "retired (" + reconcile.ReasonPreviousDropped + ")",
		"TOKEN_B": "previous until " + second,
		"TOKEN_C": "active",
	}, ts.tokenStates(t, "TOKEN_A", "TOKEN_B", "TOKEN_C"))
	assert.Equal(t, "retired", ts.status(t, "TOKEN_A"), "a token the spec no longer names stops verifying at this apply")
	assert.Equal(t, "valid", ts.status(t, "TOKEN_B"))
	assert.Equal(t, "valid", ts.status(t, "TOKEN_C"))

	evs := ts.events(t)
	e := evs[len(evs)-1]
	assert.Equal(t, runID, e.RunID)
	assert.Equal(t, reconcile.EventRotated, e.Action)
	assert.JSONEq(t, `{"token": {"old": "`+hintOf("TOKEN_B")+`", "new": "`+hintOf("TOKEN_C")+`"},
		"previous_token": {"hint": "`+hintOf("TOKEN_B")+`", "until": "`+second+`"},
		"retired_tokens": ["`+hintOf("TOKEN_A")+`"]}`, e.Changes, "the event says which token was retired")

	t.Run("applied again", func(t *testing.T) { ts.settled(t, again) })
}

// TestPreviousTwoHeldByStore: a store holding two previous tokens for a
// key (written by hand, or left by a rotation started in an open window
// before the fix) converges in one apply.
func TestPreviousTwoHeldByStore(t *testing.T) {
	t.Parallel()
	// setup leaves acme/website with TOKEN_B active, TOKEN_A previous and
	// TOKEN_E previous as well, both within their windows.
	setup := func(t *testing.T) *testStore {
		ts := newTestStore(t)
		ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_A", "", ""))), reconcile.Options{})
		ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_B", "TOKEN_A", future()))), reconcile.Options{})
		e := digestOf("TOKEN_E")
		ts.exec(t, `INSERT INTO keyprov.tokens (digest, key_id, hint, state, valid_until)
SELECT $1, id, $2, 'previous', now() + interval '5 days' FROM keyprov.keys WHERE slug = 'website'`, e[:], hintOf("TOKEN_E"))
		require.Equal(t, "valid", ts.status(t, "TOKEN_E"))
		return ts
	}

	t.Run("the spec names one", func(t *testing.T) {
		t.Parallel()
		ts := setup(t)
		until := future()
		s := withOwner("platform", website("TOKEN_B", "TOKEN_A", until))
		ts.apply(t, evalSpec(t, s), reconcile.Options{})
		assert.Equal(t, map[string]string{
			"TOKEN_A": "previous until " + until,
			"TOKEN_B": "active",
			"TOKEN_E": "retired (" + reconcile.ReasonPreviousDropped + ")",
		}, ts.tokenStates(t, "TOKEN_A", "TOKEN_B", "TOKEN_E"))
		assert.Equal(t, "retired", ts.status(t, "TOKEN_E"))
		ts.settled(t, s)
	})
	t.Run("the spec names none", func(t *testing.T) {
		t.Parallel()
		ts := setup(t)
		s := withOwner("platform", website("TOKEN_B", "", ""))
		ts.apply(t, evalSpec(t, s), reconcile.Options{})
		assert.Equal(t, map[string]string{
			"TOKEN_A": "retired (" + reconcile.ReasonPreviousDropped + ")",
			"TOKEN_B": "active",
			"TOKEN_E": "retired (" + reconcile.ReasonPreviousDropped + ")",
		}, ts.tokenStates(t, "TOKEN_A", "TOKEN_B", "TOKEN_E"))
		ts.settled(t, s)
	})
	t.Run("rolled back to one", func(t *testing.T) {
		// TOKEN_E becomes active again, TOKEN_B its previous token.
		t.Parallel()
		ts := setup(t)
		until := future()
		s := withOwner("platform", website("TOKEN_E", "TOKEN_B", until))
		ts.apply(t, evalSpec(t, s), reconcile.Options{})
		assert.Equal(t, map[string]string{
			"TOKEN_A": "retired (" + reconcile.ReasonPreviousDropped + ")",
			"TOKEN_B": "previous until " + until,
			"TOKEN_E": "active",
		}, ts.tokenStates(t, "TOKEN_A", "TOKEN_B", "TOKEN_E"))
		ts.settled(t, s)
	})
}
