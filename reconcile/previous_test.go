package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
)

// These tests hold apply to the rule of issue 16: while previous_until is
// in the future, a previous_token must be a token the store already holds
// for the key (its active token, or its previous token within its window).
// Each runs against a real PostgreSQL database of its own.

// rfc3339 formats a time as a spec's previous_until.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// future is a previous_until ten days ahead of the database's clock (which
// is the test machine's).
func future() string { return rfc3339(time.Now().Add(240 * time.Hour)) }

// website is acme/website with token tok and, when prev is set, a previous
// token until the given time.
func website(tok, prev, until string) string {
	src := fmt.Sprintf("tenant_key \"website\" {\n  tenant = \"acme\"\n  name   = \"Website\"\n  token  = env(%q)\n", tok)
	if prev != "" {
		src += fmt.Sprintf("  previous_token = env(%q)\n  previous_until = %q\n", prev, until)
	}
	return src + "}\n"
}

// blog is acme/blog with token tok.
func blog(tok string) string {
	return fmt.Sprintf("tenant_key \"blog\" {\n  tenant = \"acme\"\n  name   = \"Blog\"\n  token  = env(%q)\n}\n", tok)
}

// refused requires that both a plan and an apply of s are refused, with
// the same refusals, that the apply wrote nothing (every row of every
// table, events included, keeps its version) and that no refusal holds a
// token. It returns the refusals.
func (ts *testStore) refused(t *testing.T, s *spec.Spec, opts reconcile.Options) []reconcile.Refusal {
	t.Helper()
	ctx := context.Background()
	versions, keys, toks, evs := ts.rowVersions(t), ts.keys(t), ts.tokens(t), ts.events(t)

	planned, err := reconcile.Run(ctx, ts.db, s, reconcile.RunOptions{Options: opts, DryRun: true})
	require.ErrorIs(t, err, reconcile.ErrRefused, "the plan predicts the refusal")
	res, err := reconcile.Run(ctx, ts.db, s, reconcile.RunOptions{Options: opts, Meta: reconcile.Meta{RunID: reconcile.NewRunID(), Actor: "tester"}})
	require.ErrorIs(t, err, reconcile.ErrRefused)
	var re *reconcile.RefusedError
	require.ErrorAs(t, err, &re)
	require.NotNil(t, res)
	assert.False(t, res.Applied)
	assert.Zero(t, res.Stats.Rows())
	assert.Equal(t, planned.Plan.Refusals, res.Plan.Refusals, "plan and apply refuse alike")
	assert.Equal(t, res.Plan.Refusals, re.Refusals)

	assert.Equal(t, versions, ts.rowVersions(t), "nothing is written")
	assert.Equal(t, keys, ts.keys(t))
	assert.Equal(t, toks, ts.tokens(t))
	assert.Equal(t, evs, ts.events(t), "no event")

	for _, rf := range res.Plan.Refusals {
		assertNoToken(t, "refusal", rf.Address+" "+rf.Message)
	}
	assertNoToken(t, "error", err.Error())
	return res.Plan.Refusals
}

// TestPreviousNeverIssuedIsRefused is the reproduction of issue 16: a
// previous_token added to an existing key without changing its token.
func TestPreviousNeverIssuedIsRefused(t *testing.T) {
	t.Parallel()
	ts := newTestStore(t)
	ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_A", "", ""))), reconcile.Options{})

	until := future()
	backDoor := evalSpec(t, withOwner("platform", website("TOKEN_A", "TOKEN_E", until)))
	refusals := ts.refused(t, backDoor, reconcile.Options{})
	require.Len(t, refusals, 1)
	assert.Equal(t, "acme/website", refusals[0].Address)
	assert.Contains(t, refusals[0].Message, "acme/website", "the message names the key")
	assert.Contains(t, refusals[0].Message, hintOf("TOKEN_E"), "and the previous token by its hint")
	assert.Contains(t, refusals[0].Message, "never issued")
	assert.Contains(t, refusals[0].Message, until)
	assert.Contains(t, refusals[0].Message, "--allow-new-previous")
	assert.Empty(t, ts.verify(t, "TOKEN_E"), "the token never issued does not verify")
	assert.Equal(t, []string{"acme/website"}, ts.verify(t, "TOKEN_A"))

	t.Run("with a new token too", func(t *testing.T) {
		// A rotation whose previous token is not the active one is no
		// rotation: TOKEN_A is retired, TOKEN_E was never issued.
		refusals := ts.refused(t, evalSpec(t, withOwner("platform", website("TOKEN_B", "TOKEN_E", until))), reconcile.Options{})
		require.Len(t, refusals, 1)
		assert.Equal(t, "acme/website", refusals[0].Address)
	})

	t.Run("the other keys would apply", func(t *testing.T) {
		// One refusal stops the whole apply, even keys it does not concern.
		refusals := ts.refused(t, evalSpec(t, withOwner("platform", website("TOKEN_A", "TOKEN_E", until)+blog("TOKEN_C"))), reconcile.Options{})
		require.Len(t, refusals, 1)
		assert.Equal(t, "acme/website", refusals[0].Address)
	})
}

// TestPreviousRollingRotation: the previous token is the active token the
// new one replaces; applying the same spec again changes nothing.
func TestPreviousRollingRotation(t *testing.T) {
	t.Parallel()
	ts := newTestStore(t)
	ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_A", "", ""))), reconcile.Options{})

	until := future()
	rolling := evalSpec(t, withOwner("platform", website("TOKEN_B", "TOKEN_A", until)))
	res, runID := ts.apply(t, rolling, reconcile.Options{})
	assert.Empty(t, res.Plan.Refusals)
	assert.Empty(t, res.Plan.Warnings)
	assert.Equal(t, reconcile.Summary{Rotated: 1}, res.Plan.Summary())
	assert.Equal(t, store.WriteStats{TokensInserted: 1, TokensUpdated: 1, Events: 1}, res.Stats)
	assert.Equal(t, []string{"acme/website", "acme/website"}, ts.verify(t, "TOKEN_A", "TOKEN_B"), "both tokens verify until the cutoff")
	evs := ts.events(t)
	e := evs[len(evs)-1]
	assert.Equal(t, runID, e.RunID)
	assert.Equal(t, reconcile.EventRotated, e.Action)
	assert.Nil(t, e.Reason)
	assert.JSONEq(t, fmt.Sprintf(`{"token": {"old": %q, "new": %q}, "previous_token": {"hint": %q, "until": %q}}`,
		hintOf("TOKEN_A"), hintOf("TOKEN_B"), hintOf("TOKEN_A"), until), e.Changes)

	t.Run("applied again", func(t *testing.T) {
		// TOKEN_A is now the stored previous token, within its window.
		versions := ts.rowVersions(t)
		p := ts.plan(t, rolling, reconcile.Options{})
		assert.False(t, p.HasChanges())
		res, _ := ts.apply(t, rolling, reconcile.Options{})
		assert.Empty(t, res.Plan.Refusals)
		assert.Empty(t, res.Plan.Warnings)
		assert.Zero(t, res.Stats.Rows())
		assert.Equal(t, versions, ts.rowVersions(t))
	})

	t.Run("rolled back", func(t *testing.T) {
		// Back to TOKEN_A, keeping TOKEN_B (the active token it replaces).
		res, _ := ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_A", "TOKEN_B", until))), reconcile.Options{})
		assert.Empty(t, res.Plan.Refusals)
		assert.Equal(t, reconcile.Summary{Rotated: 1}, res.Plan.Summary())
		assert.Equal(t, []string{"acme/website", "acme/website"}, ts.verify(t, "TOKEN_A", "TOKEN_B"))
	})
}

// TestPreviousOfAnotherKeyIsRefused: a token the store holds for another
// key, live or retired, is never a key's previous token, with or without
// --allow-new-previous. The other key belongs to another spec (owner
// "billing"), so the spec's own check for a token used twice cannot see it.
func TestPreviousOfAnotherKeyIsRefused(t *testing.T) {
	t.Parallel()
	ts := newTestStore(t)
	ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_A", "", ""))), reconcile.Options{})
	ts.apply(t, evalSpec(t, withOwner("billing", blog("TOKEN_C"))), reconcile.Options{})
	until := future()

	for name, opts := range map[string]reconcile.Options{"": {}, " with allow-new-previous": {AllowNewPrevious: true}} {
		t.Run("active token of the blog"+name, func(t *testing.T) {
			for _, tok := range []string{"TOKEN_A", "TOKEN_B"} { // unchanged token, and a rotation
				refusals := ts.refused(t, evalSpec(t, withOwner("platform", website(tok, "TOKEN_C", until))), opts)
				require.Len(t, refusals, 1)
				assert.Equal(t, "acme/website", refusals[0].Address)
				assert.Contains(t, refusals[0].Message, "holds for acme/blog")
				assert.Contains(t, refusals[0].Message, hintOf("TOKEN_C"))
			}
		})
	}

	// The blog rotates: TOKEN_C is retired, a token of the blog's still.
	ts.apply(t, evalSpec(t, withOwner("billing", blog("TOKEN_D"))), reconcile.Options{})
	t.Run("retired token of the blog", func(t *testing.T) {
		refusals := ts.refused(t, evalSpec(t, withOwner("platform", website("TOKEN_B", "TOKEN_C", until))), reconcile.Options{AllowNewPrevious: true})
		require.Len(t, refusals, 1)
		assert.Equal(t, "acme/website", refusals[0].Address)
		assert.Contains(t, refusals[0].Message, "holds for acme/blog")
	})
	t.Run("for a new key", func(t *testing.T) {
		refusals := ts.refused(t, evalSpec(t, withOwner("platform", website("TOKEN_A", "", "")+`
tenant_key "shop" {
  tenant         = "acme"
  name           = "Shop"
  token          = env("TOKEN_F")
  previous_token = env("TOKEN_D")
  previous_until = "`+until+`"
}
`)), reconcile.Options{AllowNewPrevious: true})
		require.Len(t, refusals, 1)
		assert.Equal(t, "acme/shop", refusals[0].Address)
		assert.Contains(t, refusals[0].Message, "holds for acme/blog")
	})
}

// TestPreviousOfNewKeyIsRefused: a new key holds no token yet, so its
// previous_token would be a token never issued for it.
func TestPreviousOfNewKeyIsRefused(t *testing.T) {
	t.Parallel()
	ts := newTestStore(t)
	ts.apply(t, evalSpec(t, withOwner("platform", blog("TOKEN_C"))), reconcile.Options{})

	until := future()
	refusals := ts.refused(t, evalSpec(t, withOwner("platform", blog("TOKEN_C")+website("TOKEN_A", "TOKEN_E", until))), reconcile.Options{})
	require.Len(t, refusals, 1)
	assert.Equal(t, "acme/website", refusals[0].Address)
	assert.Contains(t, refusals[0].Message, "acme/website is a new key")
	assert.Contains(t, refusals[0].Message, hintOf("TOKEN_E"))
	assert.Empty(t, ts.verify(t, "TOKEN_A", "TOKEN_E"))

	t.Run("into an empty store", func(t *testing.T) {
		ts := newTestStore(t)
		s := evalSpec(t, withOwner("platform", website("TOKEN_A", "TOKEN_E", until)))
		_, err := reconcile.Run(context.Background(), ts.db, s, reconcile.RunOptions{DryRun: true})
		require.ErrorIs(t, err, reconcile.ErrRefused, "a plan before the schema exists refuses too")
		_, err = reconcile.Run(context.Background(), ts.db, s, reconcile.RunOptions{Meta: reconcile.Meta{RunID: reconcile.NewRunID(), Actor: "tester"}})
		require.ErrorIs(t, err, reconcile.ErrRefused)
		assert.Empty(t, ts.keys(t))
		assert.Empty(t, ts.tokens(t))
		assert.Empty(t, ts.events(t))
	})
}

// TestPreviousAllowNew: --allow-new-previous admits a token the store never
// held (a migration from another system), says so in the plan and records
// it in the key's event.
func TestPreviousAllowNew(t *testing.T) {
	t.Parallel()
	ts := newTestStore(t)
	ts.apply(t, evalSpec(t, withOwner("platform", blog("TOKEN_C"))), reconcile.Options{})
	until := future()
	allow := reconcile.Options{AllowNewPrevious: true}

	previousOf := func(t *testing.T, e eventRow) map[string]any {
		t.Helper()
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(e.Changes), &m))
		p, ok := m["previous_token"].(map[string]any)
		require.True(t, ok, "the event records the previous token: %s", e.Changes)
		return p
	}
	warned := func(t *testing.T, p *reconcile.Plan, hint string) {
		t.Helper()
		require.Len(t, p.Warnings, 1)
		assert.Equal(t, reconcile.WarnPreviousNew, p.Warnings[0].Kind)
		assert.Equal(t, "acme/website", p.Warnings[0].Address)
		assert.Contains(t, p.Warnings[0].Message, hint)
		assert.Contains(t, p.Warnings[0].Message, "--allow-new-previous")
		assertNoToken(t, "warning", p.Warnings[0].Message)
	}

	// A new key migrated with the token it had elsewhere.
	migrated := evalSpec(t, withOwner("platform", blog("TOKEN_C")+website("TOKEN_A", "TOKEN_E", until)))
	p := ts.plan(t, migrated, allow)
	warned(t, p, hintOf("TOKEN_E"))
	require.NotNil(t, change(t, p, "acme/website").Token)
	assert.True(t, change(t, p, "acme/website").Token.PreviousNew, "the plan marks the previous token as new")
	res, runID := ts.apply(t, migrated, allow)
	assert.Equal(t, reconcile.Summary{Created: 1, Unchanged: 1}, res.Plan.Summary())
	warned(t, res.Plan, hintOf("TOKEN_E"))
	assert.Equal(t, []string{"acme/website", "acme/website"}, ts.verify(t, "TOKEN_A", "TOKEN_E"))
	evs := ts.events(t)
	e := evs[len(evs)-1]
	assert.Equal(t, runID, e.RunID)
	assert.Equal(t, reconcile.EventCreated, e.Action)
	require.NotNil(t, e.Reason)
	assert.Equal(t, reconcile.ReasonNewPrevious, *e.Reason)
	assert.Equal(t, map[string]any{"allow_new_previous": true, "hint": hintOf("TOKEN_E"), "until": until}, previousOf(t, e))

	t.Run("applied again without the flag", func(t *testing.T) {
		// The store holds TOKEN_E now: it is the key's previous token.
		versions := ts.rowVersions(t)
		res, _ := ts.apply(t, migrated, reconcile.Options{})
		assert.Empty(t, res.Plan.Warnings)
		assert.Zero(t, res.Stats.Rows())
		assert.Equal(t, versions, ts.rowVersions(t))
	})

	t.Run("an existing key", func(t *testing.T) {
		// The reproduction of issue 16, allowed: the blog keeps its token
		// and gains TOKEN_F as a previous token.
		withPrev := evalSpec(t, withOwner("platform", `tenant_key "blog" {
  tenant         = "acme"
  name           = "Blog"
  token          = env("TOKEN_C")
  previous_token = env("TOKEN_F")
  previous_until = "`+until+`"
}
`+website("TOKEN_A", "TOKEN_E", until)))
		ts.refused(t, withPrev, reconcile.Options{})
		res, runID := ts.apply(t, withPrev, allow)
		assert.Equal(t, reconcile.Summary{Updated: 1, Unchanged: 1}, res.Plan.Summary())
		require.Len(t, res.Plan.Warnings, 1)
		assert.Equal(t, "acme/blog", res.Plan.Warnings[0].Address)
		assert.Equal(t, reconcile.WarnPreviousNew, res.Plan.Warnings[0].Kind)
		assert.Equal(t, []string{"acme/blog", "acme/blog"}, ts.verify(t, "TOKEN_C", "TOKEN_F"))
		evs := ts.events(t)
		e := evs[len(evs)-1]
		assert.Equal(t, runID, e.RunID)
		assert.Equal(t, "blog", e.Slug)
		assert.Equal(t, reconcile.EventTokensChanged, e.Action)
		require.NotNil(t, e.Reason)
		assert.Equal(t, reconcile.ReasonNewPrevious, *e.Reason)
		assert.Equal(t, map[string]any{"allow_new_previous": true, "hint": hintOf("TOKEN_F"), "until": until}, previousOf(t, e))
	})
}

// TestPreviousUntilPassed: once previous_until has passed, nothing is kept
// valid and nothing is refused: the plan warns, as before.
func TestPreviousUntilPassed(t *testing.T) {
	t.Parallel()
	ts := newTestStore(t)
	ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_A", "", ""))), reconcile.Options{})
	past := rfc3339(time.Now().Add(-time.Hour))

	t.Run("a token never issued", func(t *testing.T) {
		versions := ts.rowVersions(t)
		res, _ := ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_A", "TOKEN_E", past))), reconcile.Options{})
		assert.Empty(t, res.Plan.Refusals)
		require.Len(t, res.Plan.Warnings, 1)
		assert.Equal(t, reconcile.WarnPreviousExpired, res.Plan.Warnings[0].Kind)
		assert.Zero(t, res.Stats.Rows())
		assert.Equal(t, versions, ts.rowVersions(t))
		assert.Empty(t, ts.verify(t, "TOKEN_E"))
	})

	t.Run("the stored previous token", func(t *testing.T) {
		ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_B", "TOKEN_A", future()))), reconcile.Options{})
		ts.exec(t, `UPDATE keyprov.tokens SET valid_until = now() - interval '1 minute' WHERE state = 'previous'`)
		res, _ := ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_B", "TOKEN_A", past))), reconcile.Options{})
		assert.Empty(t, res.Plan.Refusals)
		require.Len(t, res.Plan.Warnings, 1)
		assert.Equal(t, reconcile.WarnPreviousExpired, res.Plan.Warnings[0].Kind)
		a := digestOf("TOKEN_A")
		assert.Equal(t, []string{reconcile.ReasonCutoff},
			ts.strings(t, `SELECT retired_reason FROM keyprov.tokens WHERE digest = $1`, a[:]), "retired at the cutoff")
		assert.Equal(t, []string{"acme/website"}, ts.verify(t, "TOKEN_A", "TOKEN_B"))
	})

	t.Run("a token retired from this key", func(t *testing.T) {
		// Named again with a future previous_until, a token of the key's
		// own past stays retired, with a warning, as before.
		versions := ts.rowVersions(t)
		res, _ := ts.apply(t, evalSpec(t, withOwner("platform", website("TOKEN_B", "TOKEN_A", future()))), reconcile.Options{})
		assert.Empty(t, res.Plan.Refusals)
		require.Len(t, res.Plan.Warnings, 1)
		assert.Equal(t, reconcile.WarnPreviousRetired, res.Plan.Warnings[0].Kind)
		assert.Zero(t, res.Stats.Rows())
		assert.Equal(t, versions, ts.rowVersions(t))
		assert.Empty(t, ts.verify(t, "TOKEN_A"))
	})
}
