package reconcile_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/token"
)

// These tests run reconcile.Run against a real PostgreSQL database of
// their own and check what it leaves in the tables.

func TestRunCreate(t *testing.T) {
	t.Parallel()
	ts := newTestStore(t)
	res, runID := ts.apply(t, evalSpec(t, withOwner("platform", twoKeys)), reconcile.Options{})

	assert.Equal(t, int(store.SchemaVersion), res.Migrated, "the first apply creates the schema")
	assert.Equal(t, store.WriteStats{KeysInserted: 2, TokensInserted: 2, Events: 2}, res.Stats)
	assert.Equal(t, reconcile.Summary{Created: 2}, res.Plan.Summary())

	keys := ts.keys(t)
	require.Len(t, keys, 2)
	web, front := keys[0], keys[1]
	now := web.CreatedAt
	assert.True(t, res.Plan.Now.Equal(now), "rows are stamped with the transaction time")
	expires := time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
	assert.Equal(t, keyRow{ID: web.ID, Tenant: "acme", Slug: "website", Name: "Website", Description: "Reads published pages",
		Permissions: `[{"name": "cms.read"}, {"name": "cms.write", "locales": ["en"]}]`, Metadata: `{"team": "web"}`,
		ExpiresAt: &expires, Owner: "platform", CreatedAt: now, UpdatedAt: now}, web)
	assert.Equal(t, keyRow{ID: front.ID, Tenant: "root", Slug: "frontend", Universal: true, Name: "Universal front-end key",
		Permissions: `[{"name": "*"}]`, Metadata: `{}`, Owner: "platform", CreatedAt: now, UpdatedAt: now}, front)

	toks := ts.tokens(t)
	require.Len(t, toks, 2)
	byKey := map[int64]tokenRow{}
	for _, tok := range toks {
		byKey[tok.KeyID] = tok
	}
	for _, tc := range []struct {
		key keyRow
		env string
	}{{web, "TOKEN_B"}, {front, "TOKEN_A"}} {
		tok, ok := byKey[tc.key.ID]
		require.True(t, ok, "a token for %s/%s", tc.key.Tenant, tc.key.Slug)
		sum := sha256.Sum256([]byte(testTokens[tc.env]))
		assert.Equal(t, sum[:], tok.Digest, "the stored digest is SHA-256 of the token")
		assert.Equal(t, "sha256", tok.Scheme)
		assert.Equal(t, hintOf(tc.env), tok.Hint)
		assert.Equal(t, store.StateActive, tok.State)
		assert.Nil(t, tok.ValidUntil)
		assert.Nil(t, tok.RetiredAt)
		assert.Nil(t, tok.RetiredReason)
		assert.True(t, tok.CreatedAt.Equal(now))
	}

	evs := ts.events(t)
	require.Len(t, evs, 2)
	for _, e := range evs {
		assert.Equal(t, reconcile.EventCreated, e.Action)
		assert.Equal(t, runID, e.RunID)
		assert.Equal(t, "platform", e.Owner)
		assert.Equal(t, "tester", e.Actor)
		assert.Nil(t, e.Reason)
		assert.True(t, e.At.Equal(now))
	}
	webEvent := evs[0]
	if webEvent.Slug != "website" {
		webEvent = evs[1]
	}
	require.NotNil(t, webEvent.KeyID)
	assert.Equal(t, web.ID, *webEvent.KeyID)
	assert.Equal(t, "acme", webEvent.Tenant)
	assert.JSONEq(t, `{
		"universal":   {"new": false},
		"name":        {"new": "Website"},
		"description": {"new": "Reads published pages"},
		"permissions": {"new": [{"name": "cms.read"}, {"name": "cms.write", "locales": ["en"]}]},
		"metadata":    {"new": {"team": "web"}},
		"expires":     {"new": "2027-06-30T00:00:00Z"},
		"token":       {"new": "`+hintOf("TOKEN_B")+`"}
	}`, webEvent.Changes)

	assert.Equal(t, []string{"root/frontend", "acme/website"}, ts.verify(t, "TOKEN_A", "TOKEN_B", "TOKEN_C"),
		"applications find each key by the digest of its token")
}

// verify looks the given test tokens up the way an application verifies a
// key (the query the README documents) and returns the addresses found.
func (ts *testStore) verify(t *testing.T, envs ...string) []string {
	t.Helper()
	var out []string
	for _, env := range envs {
		sum := sha256.Sum256([]byte(testTokens[env]))
		out = append(out, ts.strings(t, `SELECT k.tenant || '/' || k.slug
FROM keyprov.tokens t JOIN keyprov.keys k ON k.id = t.key_id
WHERE t.digest = $1 AND t.scheme = 'sha256'
  AND (t.state = 'active' OR (t.state = 'previous' AND t.valid_until > now()))
  AND k.revoked_at IS NULL
  AND (k.expires_at IS NULL OR k.expires_at > now())`, sum[:])...)
	}
	return out
}

func TestRunUpdateFields(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		before, after string // attributes of acme/website besides tenant and token
		column        string // SQL expression over keyprov.keys
		want          string // its value after the update
		event         string
	}{
		"name": {
			before: `name = "Website"`, after: `name = "Public website"`,
			column: "name", want: "Public website",
			event: `{"name": {"old": "Website", "new": "Public website"}}`,
		},
		"description": {
			before: `name = "Website"`, after: "name = \"Website\"\ndescription = \"Reads pages\"",
			column: "description", want: "Reads pages",
			event: `{"description": {"old": "", "new": "Reads pages"}}`,
		},
		"universal": {
			before: `name = "Website"`, after: `name = "Website"`, // see below: the block type changes
			column: "universal::text", want: "true",
			event: `{"universal": {"old": false, "new": true}}`,
		},
		"permissions added": {
			before: "name = \"Website\"\npermissions = [\"cms.read\"]",
			after:  "name = \"Website\"\npermissions = [\"cms.read\", { name = \"cms.write\", locales = [\"en\"] }]",
			column: "permissions::text", want: `[{"name": "cms.read"}, {"name": "cms.write", "locales": ["en"]}]`,
			event: `{"permissions": {"old": [{"name": "cms.read"}], "new": [{"name": "cms.read"}, {"name": "cms.write", "locales": ["en"]}]}}`,
		},
		"permissions removed": {
			before: "name = \"Website\"\npermissions = [\"cms.read\", \"cms.write\"]",
			after:  "name = \"Website\"\npermissions = [\"cms.write\"]",
			column: "permissions::text", want: `[{"name": "cms.write"}]`,
			event: `{"permissions": {"old": [{"name": "cms.read"}, {"name": "cms.write"}], "new": [{"name": "cms.write"}]}}`,
		},
		"metadata": {
			before: "name = \"Website\"\nmetadata = { team = \"web\" }",
			after:  "name = \"Website\"\nmetadata = { team = \"platform\", tier = \"gold\" }",
			column: "metadata::text", want: `{"team": "platform", "tier": "gold"}`,
			event: `{"metadata": {"old": {"team": "web"}, "new": {"team": "platform", "tier": "gold"}}}`,
		},
		"expires set": {
			before: `name = "Website"`, after: "name = \"Website\"\nexpires = \"2027-06-30T12:00:00+02:00\"",
			column: "coalesce(expires_at::text, 'none')", want: "2027-06-30 10:00:00+00",
			event: `{"expires": {"old": null, "new": "2027-06-30T10:00:00Z"}}`,
		},
		"expires removed": {
			before: "name = \"Website\"\nexpires = \"2027-06-30T00:00:00Z\"", after: `name = "Website"`,
			column: "coalesce(expires_at::text, 'none')", want: "none",
			event: `{"expires": {"old": "2027-06-30T00:00:00Z", "new": null}}`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := newTestStore(t)
			before := withOwner("platform", websiteKey(tc.before))
			after := withOwner("platform", websiteKey(tc.after))
			if name == "universal" {
				before = strings.Replace(before, `"acme"`, `"root"`, 1)
				after = strings.Replace(strings.Replace(after, "tenant_key", "universal_key", 1), "  tenant = \"acme\"\n", "", 1)
			}
			ts.apply(t, evalSpec(t, before), reconcile.Options{})
			created := ts.keys(t)
			require.Len(t, created, 1)
			toksBefore := ts.tokens(t)

			res, runID := ts.apply(t, evalSpec(t, after), reconcile.Options{})
			assert.Equal(t, store.WriteStats{KeysUpdated: 1, Events: 1}, res.Stats, "one key row and one event")
			assert.Equal(t, reconcile.Summary{Updated: 1}, res.Plan.Summary())

			assert.Equal(t, []string{tc.want}, ts.strings(t, "SELECT "+tc.column+" FROM keyprov.keys"))
			updated := ts.keys(t)[0]
			assert.Equal(t, created[0].ID, updated.ID, "updated in place")
			assert.True(t, updated.CreatedAt.Equal(created[0].CreatedAt))
			assert.True(t, updated.UpdatedAt.After(created[0].UpdatedAt), "updated_at is bumped")
			assert.True(t, updated.UpdatedAt.Equal(res.Plan.Now))
			assert.Equal(t, toksBefore, ts.tokens(t), "the token is not touched")

			evs := ts.events(t)
			require.Len(t, evs, 2)
			e := evs[1]
			assert.Equal(t, reconcile.EventUpdated, e.Action)
			assert.Equal(t, runID, e.RunID)
			require.NotNil(t, e.KeyID)
			assert.Equal(t, updated.ID, *e.KeyID)
			assert.JSONEq(t, tc.event, e.Changes)

			again, _ := ts.apply(t, evalSpec(t, after), reconcile.Options{})
			assert.False(t, again.Plan.HasChanges(), "the update converged")
		})
	}
}

func TestRunRotation(t *testing.T) {
	t.Parallel()
	ts := newTestStore(t)
	withA := withOwner("platform", websiteKey(`name = "Website"`))
	withB := strings.Replace(withA, "TOKEN_A", "TOKEN_B", 1)
	ts.apply(t, evalSpec(t, withA), reconcile.Options{})
	keysBefore := ts.keys(t)
	assert.Equal(t, []string{"acme/website"}, ts.verify(t, "TOKEN_A", "TOKEN_B"))

	res, runID := ts.apply(t, evalSpec(t, withB), reconcile.Options{})
	assert.Equal(t, reconcile.Summary{Rotated: 1}, res.Plan.Summary())
	assert.Equal(t, store.WriteStats{TokensInserted: 1, TokensUpdated: 1, Events: 1}, res.Stats)
	assert.Equal(t, keysBefore, ts.keys(t), "a rotation changes token rows only")

	toks := ts.tokens(t)
	require.Len(t, toks, 2)
	old, cur := toks[0], toks[1]
	sumA, sumB := sha256.Sum256([]byte(testTokens["TOKEN_A"])), sha256.Sum256([]byte(testTokens["TOKEN_B"]))
	assert.Equal(t, sumA[:], old.Digest)
	assert.Equal(t, store.StateRetired, old.State, "the old token is retired")
	require.NotNil(t, old.RetiredAt)
	assert.True(t, old.RetiredAt.Equal(res.Plan.Now))
	require.NotNil(t, old.RetiredReason)
	assert.Equal(t, reconcile.ReasonRotated, *old.RetiredReason)
	assert.Equal(t, sumB[:], cur.Digest)
	assert.Equal(t, store.StateActive, cur.State, "the new token is active")
	assert.Equal(t, old.KeyID, cur.KeyID)
	assert.Equal(t, []string{"acme/website"}, ts.verify(t, "TOKEN_A", "TOKEN_B"), "only the new token verifies")
	assert.Empty(t, ts.verify(t, "TOKEN_A"))

	evs := ts.events(t)
	require.Len(t, evs, 2)
	e := evs[1]
	assert.Equal(t, reconcile.EventRotated, e.Action)
	assert.Equal(t, runID, e.RunID)
	assert.JSONEq(t, fmt.Sprintf(`{"token": {"old": %q, "new": %q}, "retired_tokens": [%q]}`,
		hintOf("TOKEN_A"), hintOf("TOKEN_B"), hintOf("TOKEN_A")), e.Changes, "hints only")

	t.Run("back to the retired token", func(t *testing.T) {
		versions := ts.rowVersions(t)
		p := ts.plan(t, evalSpec(t, withA), reconcile.Options{})
		require.Len(t, p.Changes, 1)
		assert.Equal(t, reconcile.Blocked, p.Changes[0].Action)
		assert.Contains(t, p.Changes[0].Reason, "can never be active again")
		res, _ := ts.apply(t, evalSpec(t, withA), reconcile.Options{})
		assert.Zero(t, res.Stats.Rows())
		assert.Equal(t, versions, ts.rowVersions(t), "a retired token never becomes active again")
	})
}

func TestRunNoOpWritesNothing(t *testing.T) {
	t.Parallel()
	ts := newTestStore(t)
	src := withOwner("platform", twoKeys+`
tenant_key "blog" {
  tenant         = "acme"
  name           = "Blog"
  token          = env("TOKEN_D")
  previous_token = env("TOKEN_C")
  previous_until = "2099-01-01T00:00:00Z"
  permissions    = [{ name = "cms.read", rate = 1.50 }]
}
`)
	// The blog's previous token is its token before a rolling rotation.
	before := strings.NewReplacer(`env("TOKEN_D")`, `env("TOKEN_C")`, "previous_token = env(\"TOKEN_C\")", "", `previous_until = "2099-01-01T00:00:00Z"`, "").Replace(src)
	ts.apply(t, evalSpec(t, before), reconcile.Options{})
	ts.apply(t, evalSpec(t, src), reconcile.Options{})
	keys, versions, writes := ts.keys(t), ts.rowVersions(t), ts.tupleWrites(t)
	require.Len(t, keys, 3)
	require.NotEmpty(t, writes["keys"], "the statistics count the first apply's writes")

	for i := 0; i < 2; i++ {
		res, _ := ts.apply(t, evalSpec(t, src), reconcile.Options{})
		assert.False(t, res.Plan.HasChanges())
		assert.Equal(t, reconcile.Summary{Unchanged: 3}, res.Plan.Summary())
		assert.Zero(t, res.Migrated)
		assert.Zero(t, res.Stats.Rows())
	}

	assert.Equal(t, writes, ts.tupleWrites(t), "no row inserted, updated or deleted (pg_stat_user_tables)")
	assert.Equal(t, versions, ts.rowVersions(t), "every row keeps its version (xmin, ctid)")
	assert.Equal(t, keys, ts.keys(t), "updated_at is not bumped")
	assert.Len(t, ts.events(t), 4, "no event beyond the creations and the rotation")
}

// TestRunReadsContentOnlyWhenChanged: an apply reads the content of the
// stored keys whose content digest does not show that they hold the row
// the spec asks for, and of no other.
func TestRunReadsContentOnlyWhenChanged(t *testing.T) {
	t.Parallel()
	src := withOwner("platform", twoKeys)
	ts := newTestStore(t)
	apply := func(src string) *reconcile.Result {
		t.Helper()
		res, _ := ts.apply(t, evalSpec(t, src), reconcile.Options{Adopt: true})
		return res
	}
	digests := func() []string {
		return ts.strings(t, "SELECT slug || ' ' || coalesce(encode(content_digest, 'hex'), 'NULL') FROM keyprov.keys ORDER BY slug")
	}

	assert.Zero(t, apply(src).ContentRead, "an empty store")
	written := digests()
	res := apply(src)
	assert.Zero(t, res.ContentRead, "a no-op")
	assert.Zero(t, res.Stats.Rows())

	ts.exec(t, "UPDATE keyprov.keys SET last_used_at = now()")
	ts.exec(t, "UPDATE keyprov.keys SET name = name, permissions = permissions")
	assert.Equal(t, written, digests(), "updates that change no content keep the digests")
	assert.Zero(t, apply(src).ContentRead)

	ts.exec(t, "UPDATE keyprov.keys SET name = 'Edited by hand' WHERE slug = 'website'")
	assert.Contains(t, digests(), "website NULL", "a change by hand forgets the digest")
	res = apply(src)
	assert.Equal(t, 1, res.ContentRead, "the key changed by hand")
	assert.Equal(t, int64(1), res.Stats.KeysUpdated, "and restored")
	assert.Equal(t, written, digests(), "with the digest of the spec's row")
	assert.Zero(t, apply(src).ContentRead)

	renamed := strings.Replace(src, `"Universal front-end key"`, `"Front end"`, 1)
	res = apply(renamed)
	assert.Equal(t, 1, res.ContentRead, "the key the spec changes")
	assert.Equal(t, int64(1), res.Stats.KeysUpdated)
	assert.Zero(t, apply(renamed).ContentRead)

	ts.exec(t, `INSERT INTO keyprov.keys (tenant, slug, name, owner) VALUES ('acme', 'manual', 'Made by hand', 'dba')`)
	assert.Equal(t, 1, apply(renamed).ContentRead, "a key the spec does not declare")
}

func TestRunDrift(t *testing.T) {
	t.Parallel()
	src := withOwner("platform", twoKeys)
	setup := func(t *testing.T) (*testStore, []keyRow, []tokenRow) {
		ts := newTestStore(t)
		ts.apply(t, evalSpec(t, src), reconcile.Options{})
		return ts, ts.keys(t), ts.tokens(t)
	}

	t.Run("restored", func(t *testing.T) {
		t.Parallel()
		ts, keys, toks := setup(t)
		ts.exec(t, `UPDATE keyprov.keys SET name = 'Edited by hand', permissions = '[{"name": "*"}]', metadata = '{}'
WHERE slug = 'website'`)
		ts.exec(t, `UPDATE keyprov.tokens SET state = 'previous', valid_until = now() + interval '1 hour'
WHERE key_id = (SELECT id FROM keyprov.keys WHERE slug = 'frontend')`)

		p := ts.plan(t, evalSpec(t, src), reconcile.Options{})
		require.Len(t, p.Changes, 2)
		web, front := p.Changes[0], p.Changes[1]
		assert.Equal(t, reconcile.Update, web.Action)
		var fields []string
		for _, f := range web.Fields {
			fields = append(fields, f.Field)
		}
		assert.Equal(t, []string{"name", "permissions", "metadata"}, fields)
		assert.Equal(t, "Edited by hand", web.Fields[0].Before)
		assert.Equal(t, reconcile.Update, front.Action)
		assert.Equal(t, &reconcile.TokenChange{After: hintOf("TOKEN_A")}, front.Token, "the demoted token becomes active again")

		res, runID := ts.apply(t, evalSpec(t, src), reconcile.Options{})
		assert.Equal(t, store.WriteStats{KeysUpdated: 1, TokensUpdated: 1, Events: 2}, res.Stats)
		restored := ts.keys(t)
		for i := range keys {
			keys[i].UpdatedAt = restored[i].UpdatedAt
		}
		assert.Equal(t, keys, restored, "the spec's content is back")
		assert.Equal(t, toks, ts.tokens(t), "the token is active again")
		evs := ts.events(t)
		require.Len(t, evs, 4)
		for _, e := range evs[2:] {
			assert.Equal(t, runID, e.RunID)
		}
		assert.Equal(t, "website", evs[2].Slug)
		assert.Equal(t, reconcile.EventUpdated, evs[2].Action)
		assert.JSONEq(t, `{
			"name": {"old": "Edited by hand", "new": "Website"},
			"permissions": {"old": [{"name": "*"}], "new": [{"name": "cms.read"}, {"name": "cms.write", "locales": ["en"]}]},
			"metadata": {"old": {}, "new": {"team": "web"}}
		}`, evs[2].Changes)
		assert.Equal(t, "frontend", evs[3].Slug)
		assert.JSONEq(t, fmt.Sprintf(`{"token": {"old": null, "new": %q}}`, hintOf("TOKEN_A")), evs[3].Changes)

		assert.False(t, ts.plan(t, evalSpec(t, src), reconcile.Options{}).HasChanges())
	})

	// A token retired or a key revoked by hand may be an emergency
	// revocation: the plan shows the key as blocked, and apply leaves it.
	t.Run("retired token kept retired", func(t *testing.T) {
		t.Parallel()
		ts, _, _ := setup(t)
		ts.exec(t, `UPDATE keyprov.tokens SET state = 'retired', retired_at = now(), retired_reason = 'leaked'
WHERE key_id = (SELECT id FROM keyprov.keys WHERE slug = 'website')`)
		ts.exec(t, `UPDATE keyprov.keys SET revoked_at = now() WHERE slug = 'frontend'`)
		versions := ts.rowVersions(t)

		p := ts.plan(t, evalSpec(t, src), reconcile.Options{})
		require.Len(t, p.Changes, 2)
		assert.Equal(t, reconcile.Blocked, p.Changes[0].Action)
		assert.Contains(t, p.Changes[0].Reason, "(leaked) and can never be active again")
		assert.Equal(t, reconcile.Blocked, p.Changes[1].Action)
		assert.Contains(t, p.Changes[1].Reason, "token was revoked")

		res, _ := ts.apply(t, evalSpec(t, src), reconcile.Options{})
		assert.Zero(t, res.Stats.Rows())
		assert.Equal(t, versions, ts.rowVersions(t))
		assert.Empty(t, ts.verify(t, "TOKEN_A", "TOKEN_B"))
	})
}

func TestRunForeignOwner(t *testing.T) {
	t.Parallel()
	ts := newTestStore(t)
	ts.apply(t, evalSpec(t, withOwner("billing", websiteKey(`name = "Website"`))), reconcile.Options{})
	ts.exec(t, `INSERT INTO keyprov.keys (tenant, slug, name, owner) VALUES ('acme', 'manual', 'Made by hand', 'dba')`)
	ours := evalSpec(t, withOwner("platform", websiteKey(`name = "Public website"`)+`
tenant_key "manual" {
  tenant = "acme"
  name   = "Made by hand"
  token  = env("TOKEN_B")
}

tenant_key "blog" {
  tenant = "acme"
  name   = "Blog"
  token  = env("TOKEN_C")
}
`))
	keys, versions := ts.keys(t), ts.rowVersions(t)

	res, err := reconcile.Run(context.Background(), ts.db, ours, reconcile.RunOptions{Meta: reconcile.Meta{RunID: reconcile.NewRunID(), Actor: "tester"}})
	require.ErrorIs(t, err, reconcile.ErrRefused)
	require.NotNil(t, res)
	assert.False(t, res.Applied)
	require.Len(t, res.Plan.Refusals, 2)
	assert.Equal(t, "acme/manual", res.Plan.Refusals[0].Address)
	assert.Contains(t, res.Plan.Refusals[0].Message, `owned by "dba"`)
	assert.Equal(t, "acme/website", res.Plan.Refusals[1].Address)
	assert.Contains(t, res.Plan.Refusals[1].Message, `owned by "billing"`)
	assert.Equal(t, versions, ts.rowVersions(t), "nothing is written, not even the keys that could be")
	assert.Equal(t, keys, ts.keys(t))

	_, err = reconcile.Run(context.Background(), ts.db, ours, reconcile.RunOptions{DryRun: true})
	assert.ErrorIs(t, err, reconcile.ErrRefused, "a plan reports the refusal too")

	res, runID := ts.apply(t, ours, reconcile.Options{Adopt: true})
	assert.Equal(t, reconcile.Summary{Created: 1, Updated: 1, Rotated: 1, Adopted: 2}, res.Plan.Summary())
	adopted := ts.keys(t)
	require.Len(t, adopted, 3)
	for _, k := range adopted {
		assert.Equal(t, "platform", k.Owner, "%s/%s", k.Tenant, k.Slug)
	}
	assert.Equal(t, keys[0].ID, adopted[1].ID, "acme/manual keeps its id")
	assert.Equal(t, keys[1].ID, adopted[2].ID, "acme/website keeps its id")
	assert.Equal(t, "Public website", adopted[2].Name)

	var got []string
	for _, e := range ts.events(t) {
		if e.RunID != runID {
			continue
		}
		assert.Equal(t, "platform", e.Owner)
		got = append(got, e.Slug+" "+e.Action+" "+e.Changes)
	}
	assert.ElementsMatch(t, []string{
		`blog created {"name": {"new": "Blog"}, "token": {"new": "` + hintOf("TOKEN_C") + `"}, "metadata": {"new": {}}, "universal": {"new": false}, "permissions": {"new": []}}`,
		`manual adopted {"owner": {"new": "platform", "old": "dba"}}`,
		`manual rotated {"token": {"new": "` + hintOf("TOKEN_B") + `", "old": null}}`,
		`website adopted {"owner": {"new": "platform", "old": "billing"}}`,
		`website updated {"name": {"new": "Public website", "old": "Website"}}`,
	}, got)
	assert.Equal(t, []string{"acme/website", "acme/manual"}, ts.verify(t, "TOKEN_A", "TOKEN_B"))
}

func TestRunStoresNoToken(t *testing.T) {
	t.Parallel()
	ts := newTestStore(t)
	first := withOwner("platform", twoKeys+`
tenant_key "blog" {
  tenant         = "acme"
  name           = "Blog"
  token          = env("TOKEN_D")
  previous_token = env("TOKEN_C")
  previous_until = "2099-01-01T00:00:00Z"
}
`)
	// The blog's previous token is its token before a rolling rotation.
	ts.apply(t, evalSpec(t, strings.NewReplacer(`env("TOKEN_D")`, `env("TOKEN_C")`, "previous_token = env(\"TOKEN_C\")", "", `previous_until = "2099-01-01T00:00:00Z"`, "").Replace(first)), reconcile.Options{})
	ts.apply(t, evalSpec(t, first), reconcile.Options{})
	// Rotate every key, so that tokens of every state are stored.
	rotated := strings.NewReplacer(`env("TOKEN_A")`, `env("TOKEN_E")`, `env("TOKEN_B")`, `env("TOKEN_F")`).Replace(first)
	ts.apply(t, evalSpec(t, rotated), reconcile.Options{})
	states := ts.strings(t, "SELECT DISTINCT state FROM keyprov.tokens ORDER BY 1")
	require.Equal(t, []string{"active", "previous", "retired"}, states)

	digests := map[string]bool{}
	for _, tok := range testTokens {
		sum := sha256.Sum256([]byte(tok))
		digests[hex.EncodeToString(sum[:])] = true
	}
	for _, d := range ts.strings(t, "SELECT encode(digest, 'hex') FROM keyprov.tokens") {
		assert.True(t, digests[d], "every digest is the SHA-256 of a token")
	}

	// Every row of every table in the database, as text.
	tables := ts.strings(t, `SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables
WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`)
	require.Contains(t, tables, "keyprov.events")
	var dump strings.Builder
	for _, table := range tables {
		for _, row := range ts.strings(t, "SELECT row_to_json(t)::text FROM "+table+" t") {
			dump.WriteString(row + "\n")
		}
	}
	require.Contains(t, dump.String(), hintOf("TOKEN_A"), "the dump holds the hints")
	for name, tok := range testTokens {
		body := strings.TrimPrefix(tok, token.DefaultPrefix)
		for what, form := range map[string]string{
			"token": tok, "token body": body, "hex": hex.EncodeToString([]byte(tok)),
			"base64": base64.StdEncoding.EncodeToString([]byte(tok)), "body fragment": body[:16],
		} {
			assert.NotContains(t, dump.String(), form, "%s of %s stored in the database", what, name)
		}
	}
}

// Every query mode runs a whole lifecycle: "exec" and "simple" are the
// modes that work through PgBouncer in transaction pooling mode.
func TestRunQueryModes(t *testing.T) {
	t.Parallel()
	for mode := range store.QueryModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ts := newTestStore(t)
			db, err := store.Open(context.Background(), store.Config{URL: ts.url, QueryMode: mode, Wait: 10 * time.Second})
			require.NoError(t, err)
			defer db.Close(context.Background())
			ts.db = db

			first := withOwner("platform", twoKeys)
			res, _ := ts.apply(t, evalSpec(t, first), reconcile.Options{})
			assert.Equal(t, reconcile.Summary{Created: 2}, res.Plan.Summary())
			second := strings.Replace(strings.Replace(first, "TOKEN_A", "TOKEN_C", 1), `name        = "Website"`, `name        = "Site"`, 1)
			res, _ = ts.apply(t, evalSpec(t, second), reconcile.Options{})
			assert.Equal(t, reconcile.Summary{Updated: 1, Rotated: 1}, res.Plan.Summary())
			res, _ = ts.apply(t, evalSpec(t, second), reconcile.Options{})
			assert.False(t, res.Plan.HasChanges())
			assert.Equal(t, []string{"root/frontend", "acme/website"}, ts.verify(t, "TOKEN_C", "TOKEN_B"))
		})
	}
}
