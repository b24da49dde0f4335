package reconcile_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
)

// runRecorded applies (or plans) with an input record.
func (ts *testStore) runRecorded(t *testing.T, s *spec.Spec, opts reconcile.Options, dry bool, digest byte) *reconcile.Result {
	t.Helper()
	res, err := reconcile.Run(context.Background(), ts.db, s, reconcile.RunOptions{Options: opts, DryRun: dry,
		Meta:   reconcile.Meta{RunID: reconcile.NewRunID(), Actor: "tester"},
		Record: &reconcile.Record{Digest: []byte{digest}, Names: json.RawMessage(`[{"kind": "env", "name": "TOKEN_A"}]`), Keyprov: "test"}})
	require.NoError(t, err)
	return res
}

func (ts *testStore) boot(t *testing.T) *store.Boot {
	t.Helper()
	b, err := ts.db.ReadBoot(context.Background())
	require.NoError(t, err)
	return b
}

// An apply whose plan finds the store settled records its inputs with the
// change counter it read; a plan that writes records nothing, nor does one
// with a warning; a plan says what it would record; a no-op apply that
// repeats the record writes no row.
func TestRunRecordsInputs(t *testing.T) {
	t.Parallel()
	ts := newTestStore(t)
	src := withOwner("platform", twoKeys)

	res := ts.runRecorded(t, evalSpec(t, src), reconcile.Options{}, false, 1)
	require.True(t, res.Applied)
	assert.True(t, res.Plan.HasChanges())
	assert.False(t, res.Recorded, "a plan that writes is not recorded")
	assert.Empty(t, ts.boot(t).Records)
	res = ts.runRecorded(t, evalSpec(t, src), reconcile.Options{}, false, 1)
	assert.False(t, res.Plan.HasChanges())
	assert.True(t, res.Recorded, "the next apply finds the store settled")
	b := ts.boot(t)
	require.True(t, b.Ready)
	require.Len(t, b.Records, 1)
	r := b.Records[0]
	assert.Equal(t, "platform", r.Owner)
	assert.Equal(t, []byte{1}, r.Digest)
	assert.Equal(t, b.Counter, r.Counter, "the counter the apply read")
	p, err := reconcile.SettledPlan(r.Plan, b.Now)
	require.NoError(t, err)
	assert.Equal(t, &reconcile.Plan{Owner: "platform", Now: b.Now, Unlisted: 2}, p, "what the next plan says")
	require.NotNil(t, r.ValidUntil)
	assert.Equal(t, "2027-06-30T00:00:00Z", r.ValidUntil.UTC().Format(time.RFC3339), "acme/website expires (no warning window)")
	assert.Equal(t, reconcile.Summary{Unchanged: 2}, ts.plan(t, evalSpec(t, src), reconcile.Options{}).Summary(),
		"the record is taken only when the next plan is empty")

	version := ts.strings(t, "SELECT xmin::text FROM keyprov.inputs")
	res = ts.runRecorded(t, evalSpec(t, src), reconcile.Options{}, false, 1)
	assert.False(t, res.Plan.HasChanges())
	assert.True(t, res.Recorded)
	assert.Equal(t, version, ts.strings(t, "SELECT xmin::text FROM keyprov.inputs"), "the same record: no row written")

	plan := ts.runRecorded(t, evalSpec(t, src), reconcile.Options{}, true, 2)
	require.NotNil(t, plan.Record, "a plan says what it would record")
	assert.Equal(t, b.Position, plan.Position)
	assert.Equal(t, b.Counter, plan.Record.Counter)
	assert.Equal(t, []byte{1}, ts.boot(t).Records[0].Digest, "a plan writes nothing")

	soon := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
	expiring := withOwner("platform", twoKeys+`
tenant_key "soon" {
  tenant  = "acme"
  name    = "Soon"
  token   = env("TOKEN_C")
  expires = "`+soon+`"
}
`)
	res = ts.runRecorded(t, evalSpec(t, expiring), reconcile.Options{WarnExpiry: 48 * time.Hour}, false, 3)
	require.True(t, res.Applied)
	res = ts.runRecorded(t, evalSpec(t, expiring), reconcile.Options{WarnExpiry: 48 * time.Hour}, false, 3)
	assert.False(t, res.Plan.HasChanges())
	assert.NotEmpty(t, res.Plan.Warnings)
	assert.False(t, res.Recorded, "a plan with a warning is not settled")
	assert.Equal(t, []byte{1}, ts.boot(t).Records[0].Digest)
	assert.NotEqual(t, ts.boot(t).Counter, ts.boot(t).Records[0].Counter, "the old record's counter is behind")

	res = ts.runRecorded(t, evalSpec(t, expiring), reconcile.Options{WarnExpiry: time.Hour}, false, 4)
	assert.True(t, res.Recorded, "outside the warning window")
	r = ts.boot(t).Records[0]
	require.NotNil(t, r.ValidUntil)
	want, _ := time.Parse(time.RFC3339, soon)
	assert.True(t, want.Add(-time.Hour).Equal(*r.ValidUntil), "valid until expires enters the window: %s", r.ValidUntil)
}

// TimeBound is the first moment after the store's time at which time
// alone changes the plan: an expires entering the warning window, a
// previous_until or a stored token's valid_until passing.
func TestTimeBound(t *testing.T) {
	day := 24 * time.Hour
	at := func(d time.Duration) string { return testNow.Add(d).Format(time.RFC3339) }
	s := evalSpec(t, websiteKey(`  name = "W"
  expires = "`+at(30*day)+`"`)+`
tenant_key "blog" {
  tenant         = "acme"
  name           = "Blog"
  token          = env("TOKEN_B")
  previous_token = env("TOKEN_C")
  previous_until = "`+at(20*day)+`"
}
tenant_key "old" {
  tenant  = "acme"
  name    = "Old"
  token   = env("TOKEN_D")
  expires = "`+at(-day)+`"
}
`)
	st := &store.State{Now: testNow}
	bound := reconcile.TimeBound(s, st, 14*day)
	require.NotNil(t, bound)
	assert.Equal(t, testNow.Add(16*day), *bound, "expires - the warning window; what has passed is not a bound")

	bound = reconcile.TimeBound(s, st, 0)
	assert.Equal(t, testNow.Add(20*day), *bound, "previous_until")

	until := testNow.Add(2 * day)
	st.Keys = []*store.Key{{Tokens: []store.Token{{State: store.StatePrevious, ValidUntil: &until}}}}
	assert.Equal(t, until, *reconcile.TimeBound(s, st, 0), "a stored token's valid_until")

	assert.Nil(t, reconcile.TimeBound(evalSpec(t, websiteKey(`  name = "W"`)), &store.State{Now: testNow}, 14*day), "no bound")
}

// A plan is settled when it has nothing to change and nothing to say.
func TestPlanSettled(t *testing.T) {
	from := spec.Address{Tenant: "acme", Slug: "old"}
	for name, tc := range map[string]struct {
		plan reconcile.Plan
		want bool
	}{
		"empty":         {reconcile.Plan{}, true},
		"unchanged":     {reconcile.Plan{Changes: []reconcile.Change{{Action: reconcile.NoOp}, {Action: reconcile.NoOp}}}, true},
		"a create":      {reconcile.Plan{Changes: []reconcile.Change{{Action: reconcile.Create}, {Action: reconcile.NoOp}}}, false},
		"an update":     {reconcile.Plan{Changes: []reconcile.Change{{Action: reconcile.Update}}}, false},
		"held":          {reconcile.Plan{Changes: []reconcile.Change{{Action: reconcile.Held}}}, false},
		"a warning":     {reconcile.Plan{Warnings: []reconcile.Warning{{Kind: reconcile.WarnExpiring}}}, false},
		"a refusal":     {reconcile.Plan{Refusals: []reconcile.Refusal{{Message: "no"}}}, false},
		"blocked":       {reconcile.Plan{Changes: []reconcile.Change{{Action: reconcile.Blocked}}}, false},
		"a move":        {reconcile.Plan{Changes: []reconcile.Change{{Action: reconcile.Update, MovedFrom: &from}}}, false},
		"only unlisted": {reconcile.Plan{Unlisted: 3}, true},
	} {
		assert.Equal(t, tc.want, tc.plan.Settled(), name)
	}
}
