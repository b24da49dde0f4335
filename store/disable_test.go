package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/store"
)

// loadKeys loads the store, elided (as an apply: LoadExpected, every key
// as expected, so that the content of no key with a digest is read) or in
// full (as list).
func loadKeys(t *testing.T, db *store.DB, elided bool) map[string]*store.Key {
	t.Helper()
	ctx := context.Background()
	out := map[string]*store.Key{}
	require.NoError(t, db.View(ctx, func(tx *store.Tx) error {
		st, err := tx.Load(ctx)
		require.NoError(t, err)
		if elided {
			var rows []store.KeyRow
			for _, k := range st.Keys {
				rows = append(rows, contentOf(k))
			}
			st, err = tx.LoadExpected(ctx, expectRows(rows))
			require.NoError(t, err)
		}
		for _, k := range st.Keys {
			out[k.Slug] = k
		}
		return nil
	}))
	return out
}

// Migration 005 adds the disabled state to a store that holds keys: they
// stay enabled, keep their content digests, and the constraints hold the
// columns together.
func TestMigrateDisabled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	db := open(t, store.Config{URL: u})
	_, err := db.MigrateTo(ctx, 4)
	require.NoError(t, err)
	conn := pgtest.Connect(t, u)
	_, err = conn.Exec(ctx, `INSERT INTO keyprov.keys (tenant, slug, name, owner, content_digest)
		VALUES ('acme', 'a', 'A', 'o', '\xab'), ('acme', 'b', 'B', 'o', NULL)`)
	require.NoError(t, err)
	digests := storedDigests(t, db)

	n, err := db.Migrate(ctx)
	require.NoError(t, err)
	require.Equal(t, int(store.SchemaVersion)-4, n)
	assert.Equal(t, digests, storedDigests(t, db), "the content digests are not touched")
	for slug, k := range loadKeys(t, db, true) {
		assert.Equal(t, store.Disabled{}, k.Disabled, slug)
	}

	for name, sql := range map[string]string{
		"disabled_at without a holder":     `UPDATE keyprov.keys SET disabled_at = now()`,
		"a holder without disabled_at":     `UPDATE keyprov.keys SET disabled_prune = true`,
		"an operator without a reason":     `UPDATE keyprov.keys SET disabled_at = now(), disabled_operator_at = now(), disabled_operator_actor = 'a'`,
		"an operator's reason without one": `UPDATE keyprov.keys SET disabled_operator_reason = 'r'`,
	} {
		_, err := conn.Exec(ctx, sql)
		var pe *pgconn.PgError
		require.ErrorAs(t, err, &pe, name)
		assert.Equal(t, "23514", pe.Code, "%s: a check violation", name)
	}
	_, err = conn.Exec(ctx, `UPDATE keyprov.keys SET disabled_at = now(), disabled_spec = true`)
	require.NoError(t, err, "a consistent disable by SQL")
	for slug, k := range loadKeys(t, db, true) {
		assert.True(t, k.Disabled.Spec && k.Disabled.At != nil, slug)
	}
}

// Write stores the disabled state an apply sets (on insert and on
// update), and both loads read it back, with an operator's disable made by
// SQL; it is not content: the content digest ignores it.
func TestWriteAndLoadDisabled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	db := openMigrated(t, u)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

	b := createBatch(3, 0)
	b.Now = now
	b.Keys[0].Key.Disabled = store.Disabled{At: &now, Spec: true}
	require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.Write(ctx, b)
		return err
	}))
	digests := storedDigests(t, db)

	// An update: k0000 loses the spec's disable, k0001 gains a prune's.
	keys := loadKeys(t, db, false)
	later := now.Add(time.Hour)
	upd := &store.Batch{RunID: b.RunID, Owner: "o", Actor: "tester", Now: later}
	for _, slug := range []string{"k0000", "k0001"} {
		k := keys[slug]
		row := &store.KeyRow{ID: k.ID, Tenant: k.Tenant, Slug: k.Slug, Content: store.Content{Name: k.Name, Permissions: k.Permissions, Metadata: k.Metadata, Owner: k.Owner}}
		if slug == "k0001" {
			row.Disabled = store.Disabled{At: &later, Prune: true}
		}
		upd.Keys = append(upd.Keys, store.KeyWrite{KeyID: k.ID, Tenant: k.Tenant, Slug: k.Slug, Key: row})
	}
	require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.Write(ctx, upd)
		return err
	}))
	_, err := db.Conn().Exec(ctx, `UPDATE keyprov.keys SET disabled_at = $1, disabled_operator_at = $1,
		disabled_operator_actor = 'alice@ops', disabled_operator_reason = 'suspended customer' WHERE slug = 'k0002'`, now)
	require.NoError(t, err)
	assert.Equal(t, digests, storedDigests(t, db), "the disabled state is not content")

	want := map[string]store.Disabled{
		"k0000": {},
		"k0001": {At: &later, Prune: true},
		"k0002": {At: &now, Operator: &store.OperatorHold{At: now, Actor: "alice@ops", Reason: "suspended customer"}},
	}
	for _, elided := range []bool{true, false} {
		got := map[string]store.Disabled{}
		for slug, k := range loadKeys(t, db, elided) {
			got[slug] = k.Disabled
		}
		assert.Equal(t, want, got, "elided %v", elided)
	}
	assert.Equal(t, []string{"prune"}, want["k0001"].Holders())
}

// An operator's disable and enable: they keep the tokens, combine with the
// other holders (enable lifts only the operator's), leave a revoked key
// alone, record who and why, and move the change counter.
func TestDisableEnableKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	db := openMigrated(t, u)
	b := createBatch(3, 0)
	b.Now = time.Now()
	b.Keys[1].Key.Disabled = store.Disabled{At: &b.Now, Spec: true}
	require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
		_, err := tx.Write(ctx, b)
		return err
	}))
	_, err := db.Conn().Exec(ctx, `UPDATE keyprov.keys SET revoked_at = now(), revoked_reason = 'leaked' WHERE slug = 'k0002'`)
	require.NoError(t, err)
	tokens := queryStrings(t, db.Conn(), "SELECT hint || ' ' || state FROM keyprov.tokens ORDER BY hint")
	digests := storedDigests(t, db)
	meta := store.EventMeta{RunID: "00000000-0000-4000-8000-000000000002", Actor: "alice@ops"}

	counter := func() int64 {
		var n int64
		require.NoError(t, db.View(ctx, func(tx *store.Tx) error {
			var err error
			n, err = tx.ChangeCounter(ctx)
			return err
		}))
		return n
	}
	call := func(disable bool, slug, reason string) *store.Switch {
		t.Helper()
		var sw *store.Switch
		require.NoError(t, db.Update(ctx, func(tx *store.Tx) error {
			var err error
			if disable {
				sw, err = tx.DisableKey(ctx, "acme", slug, reason, meta)
			} else {
				sw, err = tx.EnableKey(ctx, "acme", slug, reason, meta)
			}
			return err
		}))
		return sw
	}

	c0 := counter()
	sw := call(true, "k0000", "suspended customer")
	assert.True(t, sw.Changed)
	assert.False(t, sw.Before.Held())
	require.NotNil(t, sw.After.Operator)
	assert.Equal(t, "alice@ops", sw.After.Operator.Actor)
	assert.Equal(t, c0+1, counter(), "a disable moves the change counter")
	k := loadKeys(t, db, true)["k0000"]
	assert.Equal(t, []string{"operator"}, k.Disabled.Holders())
	require.NotNil(t, k.Disabled.At)
	assert.Equal(t, k.Disabled.Operator.At, *k.Disabled.At)

	assert.False(t, call(true, "k0000", "again").Changed, "a second disable changes nothing")

	// The spec holds k0001: the operator's disable adds to it, and enable
	// lifts only the operator's.
	sw = call(true, "k0001", "incident 42")
	assert.Equal(t, []string{"spec", "operator"}, sw.After.Holders())
	assert.Equal(t, sw.Before.At, sw.After.At, "the key was disabled already: its time stays")
	sw = call(false, "k0001", "")
	assert.True(t, sw.Changed)
	assert.Equal(t, []string{"spec"}, sw.After.Holders(), "still disabled by the spec")
	assert.NotNil(t, loadKeys(t, db, true)["k0001"].Disabled.At)
	assert.False(t, call(false, "k0001", "").Changed, "nothing of the operator's left to lift")

	sw = call(false, "k0000", "customer paid")
	assert.Equal(t, store.Disabled{}, sw.After)
	assert.Equal(t, store.Disabled{}, loadKeys(t, db, true)["k0000"].Disabled)

	sw = call(true, "k0002", "too late")
	assert.False(t, sw.Changed, "a revoked key is left as it is")
	assert.NotNil(t, sw.RevokedAt)

	var nf *store.Switch
	err = db.Update(ctx, func(tx *store.Tx) error {
		nf, err = tx.DisableKey(ctx, "acme", "nope", "x", meta)
		return err
	})
	assert.ErrorIs(t, err, store.ErrKeyNotFound)
	assert.Nil(t, nf)

	assert.Equal(t, tokens, queryStrings(t, db.Conn(), "SELECT hint || ' ' || state FROM keyprov.tokens ORDER BY hint"), "tokens are never touched")
	assert.Equal(t, digests, storedDigests(t, db), "nor the content digests")

	type event struct {
		Slug, Action, Actor, Reason string
		Changes                     map[string]map[string]any
	}
	var events []event
	require.NoError(t, db.History(ctx, store.HistoryFilter{}, func(e *store.EventRow) error {
		if e.Action != "disabled" && e.Action != "enabled" {
			return nil
		}
		ev := event{Slug: e.Slug, Action: e.Action, Actor: e.Actor, Reason: e.Reason}
		require.NoError(t, json.Unmarshal(e.Changes, &ev.Changes))
		events = append(events, ev)
		return nil
	}))
	oldNew := func(o, n any) map[string]any { return map[string]any{"old": o, "new": n} }
	assert.Equal(t, []event{
		{"k0000", "enabled", "alice@ops", "customer paid", map[string]map[string]any{"disabled": oldNew(true, false), "disabled_by": oldNew([]any{"operator"}, []any{})}},
		{"k0001", "enabled", "alice@ops", "", map[string]map[string]any{"disabled": oldNew(true, true), "disabled_by": oldNew([]any{"spec", "operator"}, []any{"spec"})}},
		{"k0001", "disabled", "alice@ops", "incident 42", map[string]map[string]any{"disabled": oldNew(true, true), "disabled_by": oldNew([]any{"spec"}, []any{"spec", "operator"})}},
		{"k0000", "disabled", "alice@ops", "suspended customer", map[string]map[string]any{"disabled": oldNew(false, true), "disabled_by": oldNew([]any{}, []any{"operator"})}},
	}, events, "newest first")
}
