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

// TestRevokedBySQLTokensLive: a key revoked by SQL with only revoked_at
// set, its tokens left active. It is a revoked key, and a revoked key's
// tokens are burned: the spec's old token keeps it blocked, and a new
// token restores it, retiring the old tokens as keyprov revoke would have.
func TestRevokedBySQLTokensLive(t *testing.T) {
	t.Parallel()
	ts := newTestStore(t)
	until := future()
	ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_A", "", "")+blog("TOKEN_C"))), reconcile.Options{})
	ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_B", "TOKEN_A", until)+blog("TOKEN_C"))), reconcile.Options{})
	ts.exec(t, `UPDATE keyprov.keys SET revoked_at = now(), revoked_reason = 'by hand' WHERE slug = 'website'`)
	assert.Equal(t, "revoked", ts.status(t, "TOKEN_A"))
	assert.Equal(t, "revoked", ts.status(t, "TOKEN_B"))

	t.Run("the same tokens: blocked", func(t *testing.T) {
		versions := ts.rowVersions(t)
		res, _ := ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_B", "TOKEN_A", until)+blog("TOKEN_C"))), reconcile.Options{})
		require.Len(t, res.Plan.Changes, 1, "acme/blog, unchanged, is counted")
		assert.Equal(t, 1, res.Plan.Unlisted)
		assert.Equal(t, reconcile.Blocked, res.Plan.Changes[0].Action)
		assert.Contains(t, res.Plan.Changes[0].Reason, "token was revoked")
		assert.Zero(t, res.Stats.Rows())
		assert.Equal(t, versions, ts.rowVersions(t))
	})

	t.Run("a new token restores the key", func(t *testing.T) {
		s := withOwner("platform", website("TOKEN_D", "", "")+blog("TOKEN_C"))
		res, runID := ts.apply(t, evalSpec(t, s), reconcile.Options{})
		assert.Empty(t, res.Plan.Refusals)
		assert.Equal(t, store.WriteStats{KeysUpdated: 1, TokensInserted: 1, TokensUpdated: 2, Events: 1}, res.Stats)
		assert.Equal(t, map[string]string{
			"TOKEN_A": "retired (" + reconcile.ReasonRevoked + ")",
			"TOKEN_B": "retired (" + reconcile.ReasonRevoked + ")",
			"TOKEN_D": "active",
		}, ts.tokenStates(t, "TOKEN_A", "TOKEN_B", "TOKEN_D"))
		assert.Equal(t, "valid", ts.status(t, "TOKEN_D"))
		assert.Equal(t, "revoked", ts.status(t, "TOKEN_A"), "burned by the revocation")
		assert.Equal(t, "revoked", ts.status(t, "TOKEN_B"))
		assert.Equal(t, []keyRevocation{{}}, ts.revocations(t, "website"), "the key is restored")

		evs := ts.events(t)
		e := evs[len(evs)-1]
		assert.Equal(t, runID, e.RunID)
		assert.Equal(t, reconcile.EventUnrevoked, e.Action)
		m := eventJSON(t, store.Event{Changes: []byte(e.Changes)})
		assert.ElementsMatch(t, []any{hintOf("TOKEN_A"), hintOf("TOKEN_B")}, m["retired_tokens"], "the event names the tokens burned: %s", e.Changes)
		assert.Equal(t, map[string]any{"old": true, "new": false}, m["revoked"])
		assertNoToken(t, "event", e.Changes)

		ts.settled(t, s)
		t.Run("the old tokens stay burned", func(t *testing.T) {
			res, _ := ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_B", "", "")+blog("TOKEN_C"))), reconcile.Options{})
			assert.Equal(t, reconcile.Summary{Blocked: 1, Unchanged: 1}, res.Plan.Summary())
			assert.Zero(t, res.Stats.Rows())
			assert.Equal(t, "valid", ts.status(t, "TOKEN_D"))
		})
	})

	t.Run("a new token naming an old one as previous", func(t *testing.T) {
		// The old token is not kept valid: it stays retired, with a warning.
		ts := newTestStore(t)
		ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_A", "", ""))), reconcile.Options{})
		ts.exec(t, `UPDATE keyprov.keys SET revoked_at = now(), revoked_reason = 'by hand' WHERE slug = 'website'`)
		s := withOwner("platform", website("TOKEN_B", "TOKEN_A", until))
		res, _ := ts.apply(t, evalSpec(t, s), reconcile.Options{})
		require.Len(t, res.Plan.Warnings, 1)
		assert.Equal(t, reconcile.WarnPreviousRetired, res.Plan.Warnings[0].Kind)
		assert.Equal(t, map[string]string{
			"TOKEN_A": "retired (" + reconcile.ReasonRevoked + ")",
			"TOKEN_B": "active",
		}, ts.tokenStates(t, "TOKEN_A", "TOKEN_B"))
		assert.Equal(t, "revoked", ts.status(t, "TOKEN_A"))
		assert.Equal(t, "valid", ts.status(t, "TOKEN_B"))
		versions := ts.rowVersions(t)
		res, _ = ts.apply(t, evalSpec(t, s), reconcile.Options{})
		assert.Zero(t, res.Stats.Rows(), "applied again, nothing is written (the warning stays)")
		assert.Equal(t, versions, ts.rowVersions(t))
	})
}

// keyRevocation is a key's revoked_at and revoked_reason, as set or not.
type keyRevocation struct{ At, Reason bool }

func (ts *testStore) revocations(t *testing.T, slug string) []keyRevocation {
	t.Helper()
	var out []keyRevocation
	for _, k := range ts.keys(t) {
		if k.Slug == slug {
			out = append(out, keyRevocation{At: k.RevokedAt != nil, Reason: k.RevokedReason != nil})
		}
	}
	return out
}
