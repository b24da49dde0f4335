package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/review"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/token"
)

// These tests treat Diff as the pure function it is: plain spec and state
// values in, a plan out, no database.

const twoKeys = `
universal_key "frontend" {
  name        = "Universal front-end key"
  token       = env("TOKEN_A")
  permissions = [{ name = "*" }]
}

tenant_key "website" {
  tenant      = "acme"
  name        = "Website"
  description = "Reads published pages"
  token       = env("TOKEN_B")
  permissions = ["cms.read", { name = "cms.write", locales = ["en"] }]
  metadata    = { team = "web" }
  expires     = "2027-06-30T00:00:00Z"
}
`

func TestDiffCreate(t *testing.T) {
	s := evalSpec(t, withOwner("platform", twoKeys))
	p := reconcile.Diff(s, &store.State{Now: testNow}, nil, reconcile.Options{})

	require.Len(t, p.Changes, 2)
	assert.Empty(t, p.Refusals)
	assert.Empty(t, p.Warnings)
	assert.Equal(t, "platform", p.Owner)
	assert.Equal(t, testNow, p.Now)
	assert.True(t, p.HasChanges())
	assert.Equal(t, reconcile.Summary{Created: 2}, p.Summary())
	assert.Equal(t, map[review.Severity]int{review.Critical: 1, review.High: 1}, p.RiskCounts(), "the universal key with a wildcard is flagged")

	expires := time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
	web := p.Changes[0] // acme/website sorts before root/frontend
	assert.Equal(t, spec.Address{Tenant: "acme", Slug: "website"}, web.Address)
	assert.Equal(t, reconcile.Create, web.Action)
	assert.False(t, web.Universal)
	assert.Zero(t, web.KeyID)
	assert.Empty(t, web.Fields, "a create lists its content in Row, not as field changes")
	assert.Equal(t, &store.KeyRow{Tenant: "acme", Slug: "website", Content: store.Content{Name: "Website", Description: "Reads published pages",
		Permissions: []byte(`[{"name": "cms.read"}, {"name": "cms.write", "locales": ["en"]}]`),
		Metadata:    []byte(`{"team": "web"}`), ExpiresAt: &expires, Owner: "platform"}}, web.Row)
	assert.Equal(t, []store.NewToken{{Digest: digestOf("TOKEN_B"), Hint: hintOf("TOKEN_B"), State: store.StateActive}}, web.NewTokens)
	assert.Empty(t, web.TokenUpdates)
	assert.Equal(t, &reconcile.TokenChange{After: hintOf("TOKEN_B")}, web.Token)
	assert.False(t, web.Rotated(), "a new key's first token is not a rotation")

	front := p.Changes[1]
	assert.Equal(t, spec.Address{Tenant: "root", Slug: "frontend"}, front.Address)
	assert.Equal(t, reconcile.Create, front.Action)
	assert.True(t, front.Universal)
	assert.Equal(t, &store.KeyRow{Tenant: "root", Slug: "frontend", Content: store.Content{Universal: true, Name: "Universal front-end key",
		Permissions: []byte(`[{"name": "*"}]`), Metadata: []byte(`{}`), Owner: "platform"}}, front.Row)
	assert.Equal(t, []store.NewToken{{Digest: digestOf("TOKEN_A"), Hint: hintOf("TOKEN_A"), State: store.StateActive}}, front.NewTokens)

	b := reconcile.Batch(p, reconcile.Meta{RunID: "0b7c3a52-6a2c-4f43-9d7e-2f1c1b0a9e11", Actor: "tester"})
	assert.Equal(t, "0b7c3a52-6a2c-4f43-9d7e-2f1c1b0a9e11", b.RunID)
	assert.Equal(t, "platform", b.Owner)
	assert.Equal(t, "tester", b.Actor)
	assert.Equal(t, testNow, b.Now)
	require.Len(t, b.Keys, 2)
	kw := b.Keys[0]
	assert.True(t, kw.Create)
	assert.Equal(t, "acme", kw.Tenant)
	assert.Equal(t, "website", kw.Slug)
	require.Len(t, kw.Events, 1)
	assert.Equal(t, reconcile.EventCreated, kw.Events[0].Action)
	assert.JSONEq(t, `{
		"universal":   {"new": false},
		"name":        {"new": "Website"},
		"description": {"new": "Reads published pages"},
		"permissions": {"new": [{"name": "cms.read"}, {"name": "cms.write", "locales": ["en"]}]},
		"metadata":    {"new": {"team": "web"}},
		"expires":     {"new": "2027-06-30T00:00:00Z"},
		"token":       {"new": "`+hintOf("TOKEN_B")+`"}
	}`, string(kw.Events[0].Document()))

	assertPlanHasNoToken(t, p, b)
}

// assertPlanHasNoToken checks every printable form of a plan and its batch.
func assertPlanHasNoToken(t *testing.T, p *reconcile.Plan, b *store.Batch) {
	t.Helper()
	js, err := json.Marshal(p)
	require.NoError(t, err)
	assertNoToken(t, "the plan (%+v)", fmt.Sprintf("%+v", p))
	assertNoToken(t, "the plan (%#v)", fmt.Sprintf("%#v", p))
	assertNoToken(t, "the plan (JSON)", string(js))
	for _, kw := range b.Keys {
		for _, e := range kw.Events {
			assertNoToken(t, "an event", string(e.Document()))
		}
	}
}

func TestDiffUpdateFields(t *testing.T) {
	expires := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return tm
	}
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	tests := map[string]struct {
		before, after string // attributes of acme/website besides tenant and token
		want          reconcile.FieldChange
		event         string          // the updated event's changes
		risk          review.Severity // the change's worst risk (see review.KeyRisks)
	}{
		"name": {
			before: `name = "Website"`,
			after:  `name = "Public website"`,
			want:   reconcile.FieldChange{Field: "name", Before: "Website", After: "Public website"},
			event:  `{"name": {"old": "Website", "new": "Public website"}}`,
		},
		"description added": {
			before: `name = "Website"`,
			after:  "name = \"Website\"\ndescription = \"Reads pages\"",
			want:   reconcile.FieldChange{Field: "description", Before: "", After: "Reads pages"},
			event:  `{"description": {"old": "", "new": "Reads pages"}}`,
		},
		"description changed": {
			before: "name = \"Website\"\ndescription = \"Reads pages\"",
			after:  "name = \"Website\"\ndescription = \"Reads and lists pages\"",
			want:   reconcile.FieldChange{Field: "description", Before: "Reads pages", After: "Reads and lists pages"},
			event:  `{"description": {"old": "Reads pages", "new": "Reads and lists pages"}}`,
		},
		"description removed": {
			before: "name = \"Website\"\ndescription = \"Reads pages\"",
			after:  `name = "Website"`,
			want:   reconcile.FieldChange{Field: "description", Before: "Reads pages", After: ""},
			event:  `{"description": {"old": "Reads pages", "new": ""}}`,
		},
		"permission added": {
			before: "name = \"Website\"\npermissions = [\"cms.read\"]",
			after:  "name = \"Website\"\npermissions = [\"cms.read\", \"cms.write\"]",
			want: reconcile.FieldChange{Field: "permissions",
				Before: raw(`[{"name": "cms.read"}]`), After: raw(`[{"name": "cms.read"}, {"name": "cms.write"}]`),
				Added: []json.RawMessage{raw(`{"name": "cms.write"}`)}},
			event: `{"permissions": {"old": [{"name": "cms.read"}], "new": [{"name": "cms.read"}, {"name": "cms.write"}]}}`,
			risk:  review.High,
		},
		"permission removed": {
			before: "name = \"Website\"\npermissions = [\"cms.read\", \"cms.write\"]",
			after:  "name = \"Website\"\npermissions = [\"cms.read\"]",
			want: reconcile.FieldChange{Field: "permissions",
				Before: raw(`[{"name": "cms.read"}, {"name": "cms.write"}]`), After: raw(`[{"name": "cms.read"}]`),
				Removed: []json.RawMessage{raw(`{"name": "cms.write"}`)}},
			event: `{"permissions": {"old": [{"name": "cms.read"}, {"name": "cms.write"}], "new": [{"name": "cms.read"}]}}`,
		},
		"permission attributes changed": {
			before: "name = \"Website\"\npermissions = [{ name = \"cms.read\", locales = [\"en\"] }]",
			after:  "name = \"Website\"\npermissions = [{ name = \"cms.read\", locales = [\"en\", \"de\"] }]",
			want: reconcile.FieldChange{Field: "permissions",
				Before: raw(`[{"name": "cms.read", "locales": ["en"]}]`), After: raw(`[{"name": "cms.read", "locales": ["en", "de"]}]`),
				Added:   []json.RawMessage{raw(`{"name": "cms.read", "locales": ["en", "de"]}`)},
				Removed: []json.RawMessage{raw(`{"name": "cms.read", "locales": ["en"]}`)}},
			event: `{"permissions": {"old": [{"name": "cms.read", "locales": ["en"]}], "new": [{"name": "cms.read", "locales": ["en", "de"]}]}}`,
			risk:  review.High,
		},
		"metadata added": {
			before: `name = "Website"`,
			after:  "name = \"Website\"\nmetadata = { team = \"web\" }",
			want:   reconcile.FieldChange{Field: "metadata", Before: raw(`{}`), After: raw(`{"team": "web"}`)},
			event:  `{"metadata": {"old": {}, "new": {"team": "web"}}}`,
		},
		"metadata changed": {
			before: "name = \"Website\"\nmetadata = { team = \"web\", tier = \"1\" }",
			after:  "name = \"Website\"\nmetadata = { team = \"platform\", tier = \"1\" }",
			want:   reconcile.FieldChange{Field: "metadata", Before: raw(`{"team": "web", "tier": "1"}`), After: raw(`{"team": "platform", "tier": "1"}`)},
			event:  `{"metadata": {"old": {"team": "web", "tier": "1"}, "new": {"team": "platform", "tier": "1"}}}`,
		},
		"expires set": {
			before: `name = "Website"`,
			after:  "name = \"Website\"\nexpires = \"2027-06-30T00:00:00Z\"",
			want:   reconcile.FieldChange{Field: "expires", Before: nil, After: expires("2027-06-30T00:00:00Z")},
			event:  `{"expires": {"old": null, "new": "2027-06-30T00:00:00Z"}}`,
		},
		"expires changed": {
			before: "name = \"Website\"\nexpires = \"2027-06-30T00:00:00Z\"",
			after:  "name = \"Website\"\nexpires = \"2027-12-31T12:00:00+01:00\"",
			want:   reconcile.FieldChange{Field: "expires", Before: expires("2027-06-30T00:00:00Z"), After: expires("2027-12-31T11:00:00Z")},
			event:  `{"expires": {"old": "2027-06-30T00:00:00Z", "new": "2027-12-31T11:00:00Z"}}`,
			risk:   review.Medium,
		},
		"expires removed": {
			before: "name = \"Website\"\nexpires = \"2027-06-30T00:00:00Z\"",
			after:  `name = "Website"`,
			want:   reconcile.FieldChange{Field: "expires", Before: expires("2027-06-30T00:00:00Z"), After: nil},
			event:  `{"expires": {"old": "2027-06-30T00:00:00Z", "new": null}}`,
			risk:   review.High,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := stateOf(evalSpec(t, withOwner("platform", websiteKey(tc.before))))
			s := evalSpec(t, withOwner("platform", websiteKey(tc.after)))
			p := reconcile.Diff(s, st, nil, reconcile.Options{})

			require.Len(t, p.Changes, 1)
			c := p.Changes[0]
			assert.Equal(t, reconcile.Update, c.Action)
			assert.Equal(t, []reconcile.FieldChange{tc.want}, c.Fields)
			assert.Equal(t, int64(1), c.KeyID)
			require.NotNil(t, c.Row, "an update writes the key's content")
			assert.Equal(t, int64(0), c.Row.ID, "the row is written by KeyID")
			assert.Equal(t, s.Keys[0].Name, c.Row.Name)
			assert.Equal(t, s.Keys[0].Description, c.Row.Description)
			assert.Equal(t, s.Keys[0].PermissionsJSON, c.Row.Permissions)
			assert.Equal(t, s.Keys[0].MetadataJSON, c.Row.Metadata)
			assert.Equal(t, s.Keys[0].Expires, c.Row.ExpiresAt)
			assert.Equal(t, "platform", c.Row.Owner)
			assert.Nil(t, c.Token, "the token did not change")
			assert.Empty(t, c.NewTokens)
			assert.Empty(t, c.TokenUpdates)
			assert.Equal(t, tc.risk, review.MaxSeverity(c.Risks), "%+v", c.Risks)
			assert.Equal(t, reconcile.Summary{Updated: 1}, p.Summary())

			b := reconcile.Batch(p, reconcile.Meta{RunID: "r"})
			require.Len(t, b.Keys, 1)
			assert.False(t, b.Keys[0].Create)
			assert.Equal(t, int64(1), b.Keys[0].KeyID)
			require.Len(t, b.Keys[0].Events, 1)
			assert.Equal(t, reconcile.EventUpdated, b.Keys[0].Events[0].Action)
			assert.JSONEq(t, tc.event, string(b.Keys[0].Events[0].Document()))
		})
	}
}

func TestDiffUpdateUniversal(t *testing.T) {
	// The same address (root/frontend) declared first as a tenant key of the
	// root tenant, then as a universal key.
	st := stateOf(evalSpec(t, withOwner("platform", `
tenant_key "frontend" {
  tenant = "root"
  name   = "Front end"
  token  = env("TOKEN_A")
}`)))
	s := evalSpec(t, withOwner("platform", `
universal_key "frontend" {
  name  = "Front end"
  token = env("TOKEN_A")
}`))
	p := reconcile.Diff(s, st, nil, reconcile.Options{})
	require.Len(t, p.Changes, 1)
	c := p.Changes[0]
	assert.Equal(t, reconcile.Update, c.Action)
	assert.True(t, c.Universal)
	assert.Equal(t, []reconcile.FieldChange{{Field: "universal", Before: false, After: true}}, c.Fields)
	require.NotNil(t, c.Row)
	assert.True(t, c.Row.Universal)
	b := reconcile.Batch(p, reconcile.Meta{})
	require.Len(t, b.Keys[0].Events, 1)
	assert.JSONEq(t, `{"universal": {"old": false, "new": true}}`, string(b.Keys[0].Events[0].Document()))
}

func TestDiffRotation(t *testing.T) {
	st := stateOf(evalSpec(t, withOwner("platform", websiteKey(`name = "Website"`))))
	s := evalSpec(t, withOwner("platform", strings.Replace(websiteKey(`name = "Website"`), "TOKEN_A", "TOKEN_B", 1)))
	p := reconcile.Diff(s, st, nil, reconcile.Options{})

	require.Len(t, p.Changes, 1)
	c := p.Changes[0]
	assert.Equal(t, reconcile.Update, c.Action)
	assert.True(t, c.Rotated())
	assert.Empty(t, c.Fields)
	assert.Nil(t, c.Row, "a rotation does not rewrite the key row")
	assert.Equal(t, &reconcile.TokenChange{Before: hintOf("TOKEN_A"), After: hintOf("TOKEN_B"), Retired: []string{hintOf("TOKEN_A")}}, c.Token)
	assert.Equal(t, []store.NewToken{{Digest: digestOf("TOKEN_B"), Hint: hintOf("TOKEN_B"), State: store.StateActive}}, c.NewTokens)
	assert.Equal(t, []store.TokenUpdate{{Digest: digestOf("TOKEN_A"), State: store.StateRetired, RetiredReason: reconcile.ReasonRotated}}, c.TokenUpdates)
	assert.Equal(t, reconcile.Summary{Rotated: 1}, p.Summary())
	assert.Equal(t, map[review.Severity]int{review.Medium: 1}, p.RiskCounts(), "a rotation is a medium risk")

	b := reconcile.Batch(p, reconcile.Meta{})
	require.Len(t, b.Keys, 1)
	require.Len(t, b.Keys[0].Events, 1)
	e := b.Keys[0].Events[0]
	assert.Equal(t, reconcile.EventRotated, e.Action)
	assert.JSONEq(t, fmt.Sprintf(`{"token": {"old": %q, "new": %q}, "retired_tokens": [%q]}`,
		hintOf("TOKEN_A"), hintOf("TOKEN_B"), hintOf("TOKEN_A")), string(e.Document()))
	assertPlanHasNoToken(t, p, b)

	t.Run("with a field change", func(t *testing.T) {
		s := evalSpec(t, withOwner("platform", strings.Replace(websiteKey(`name = "Public website"`), "TOKEN_A", "TOKEN_B", 1)))
		p := reconcile.Diff(s, st, nil, reconcile.Options{})
		require.Len(t, p.Changes, 1)
		assert.Equal(t, reconcile.Summary{Updated: 1, Rotated: 1}, p.Summary())
		b := reconcile.Batch(p, reconcile.Meta{})
		var actions []string
		for _, e := range b.Keys[0].Events {
			actions = append(actions, e.Action)
		}
		assert.Equal(t, []string{reconcile.EventUpdated, reconcile.EventRotated}, actions)
	})

	t.Run("to a token another key uses", func(t *testing.T) {
		two := evalSpec(t, withOwner("platform", websiteKey(`name = "Website"`)+`
tenant_key "blog" {
  tenant = "acme"
  name   = "Blog"
  token  = env("TOKEN_B")
}`))
		st := stateOf(two)
		// The website now wants the blog's token.
		s := evalSpec(t, withOwner("platform", strings.Replace(websiteKey(`name = "Website"`), "TOKEN_A", "TOKEN_B", 1)+`
tenant_key "blog" {
  tenant = "acme"
  name   = "Blog"
  token  = env("TOKEN_C")
}`))
		p := reconcile.Diff(s, st, nil, reconcile.Options{})
		require.Len(t, p.Changes, 2)
		web := p.Changes[1]
		assert.Equal(t, "acme/website", web.Address.String())
		assert.Equal(t, reconcile.Blocked, web.Action)
		assert.Contains(t, web.Reason, "already used by acme/blog")
		assert.Empty(t, web.NewTokens)
		assert.Empty(t, web.TokenUpdates)
	})

	t.Run("to a retired token", func(t *testing.T) {
		retired := testNow.Add(-24 * time.Hour)
		known := map[token.Digest]store.TokenRef{digestOf("TOKEN_B"): {KeyID: 1, Tenant: "acme", Slug: "website",
			State: store.StateRetired, RetiredAt: &retired, RetiredReason: reconcile.ReasonRotated}}
		p := reconcile.Diff(s, st, known, reconcile.Options{})
		require.Len(t, p.Changes, 1)
		assert.Equal(t, reconcile.Blocked, p.Changes[0].Action)
		assert.Contains(t, p.Changes[0].Reason, "can never be active again")
		assert.False(t, p.HasChanges())
	})
}

func TestDiffNoOp(t *testing.T) {
	s := evalSpec(t, withOwner("platform", twoKeys))
	st := stateOf(s)
	assert.Empty(t, reconcile.CandidateDigests(s, st), "no lookup of retired tokens when every token is live")
	p := reconcile.Diff(s, st, nil, reconcile.Options{})
	// Unchanged keys are counted, not listed.
	assert.Empty(t, p.Changes)
	assert.Equal(t, 2, p.Unlisted)
	assert.False(t, p.HasChanges())
	assert.True(t, p.Settled())
	assert.Equal(t, reconcile.Summary{Unchanged: 2}, p.Summary())
	assert.Empty(t, reconcile.Batch(p, reconcile.Meta{}).Keys)

	t.Run("equal JSON in another spelling", func(t *testing.T) {
		// PostgreSQL keeps a number as written ("1.50"); the spec prints 1.5.
		s := evalSpec(t, withOwner("platform", websiteKey("name = \"Website\"\npermissions = [{ name = \"cms.read\", rate = 1.5 }]")))
		st := stateOf(s)
		st.Keys[0].Permissions = []byte(`[{"name": "cms.read", "rate": 1.50}]`)
		p := reconcile.Diff(s, st, nil, reconcile.Options{})
		assert.Empty(t, p.Changes)
		assert.Equal(t, 1, p.Unlisted)
	})
}

func TestDiffDrift(t *testing.T) {
	base := withOwner("platform", websiteKey("name = \"Website\"\npermissions = [\"cms.read\", \"cms.write\"]\nmetadata = { team = \"web\" }\nexpires = \"2027-06-30T00:00:00Z\""))
	yesterday := testNow.Add(-24 * time.Hour)
	tests := map[string]struct {
		drift  func(k *store.Key, known map[token.Digest]store.TokenRef)
		action reconcile.Action
		fields []string
		token  *reconcile.TokenChange
		reason string // for a blocked key
	}{
		"name edited": {
			drift:  func(k *store.Key, _ map[token.Digest]store.TokenRef) { k.Name = "Edited by hand" },
			action: reconcile.Update, fields: []string{"name"},
		},
		"permission deleted": {
			drift: func(k *store.Key, _ map[token.Digest]store.TokenRef) {
				k.Permissions = []byte(`[{"name": "cms.read"}]`)
			},
			action: reconcile.Update, fields: []string{"permissions"},
		},
		"permission granted": {
			drift: func(k *store.Key, _ map[token.Digest]store.TokenRef) {
				k.Permissions = []byte(`[{"name": "*"}, {"name": "cms.read"}, {"name": "cms.write"}]`)
			},
			action: reconcile.Update, fields: []string{"permissions"},
		},
		"universal set": {
			drift:  func(k *store.Key, _ map[token.Digest]store.TokenRef) { k.Universal = true },
			action: reconcile.Update, fields: []string{"universal"},
		},
		"metadata and expiry edited": {
			drift: func(k *store.Key, _ map[token.Digest]store.TokenRef) {
				k.Metadata = []byte(`{}`)
				k.ExpiresAt = nil
			},
			action: reconcile.Update, fields: []string{"metadata", "expires"},
		},
		"active token deleted": {
			drift:  func(k *store.Key, _ map[token.Digest]store.TokenRef) { k.Tokens = nil },
			action: reconcile.Update,
			token:  &reconcile.TokenChange{After: hintOf("TOKEN_A")},
		},
		"active token demoted to previous": {
			drift: func(k *store.Key, _ map[token.Digest]store.TokenRef) {
				until := testNow.Add(time.Hour)
				k.Tokens[0].State, k.Tokens[0].ValidUntil = store.StatePrevious, &until
			},
			action: reconcile.Update,
			token:  &reconcile.TokenChange{After: hintOf("TOKEN_A")},
		},
		// A token retired or a key revoked by hand is never brought back:
		// that may have been an emergency revocation. The plan shows it.
		"active token retired": {
			drift: func(k *store.Key, known map[token.Digest]store.TokenRef) {
				k.Tokens = nil
				known[digestOf("TOKEN_A")] = store.TokenRef{KeyID: k.ID, Tenant: k.Tenant, Slug: k.Slug, State: store.StateRetired, RetiredAt: &yesterday}
			},
			action: reconcile.Blocked, reason: "token was retired at 2026-05-03T10:30:00Z",
		},
		"key revoked": {
			drift:  func(k *store.Key, _ map[token.Digest]store.TokenRef) { k.RevokedAt = &yesterday },
			action: reconcile.Blocked, reason: "token was revoked at 2026-05-03T10:30:00Z",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := evalSpec(t, base)
			st := stateOf(s)
			known := map[token.Digest]store.TokenRef{}
			tc.drift(st.Keys[0], known)
			p := reconcile.Diff(s, st, known, reconcile.Options{})
			require.Len(t, p.Changes, 1)
			c := p.Changes[0]
			assert.Equal(t, tc.action, c.Action)
			var fields []string
			for _, f := range c.Fields {
				fields = append(fields, f.Field)
			}
			assert.Equal(t, tc.fields, fields)
			assert.Equal(t, tc.token, c.Token)
			if tc.reason != "" {
				assert.Contains(t, c.Reason, tc.reason)
				assert.False(t, p.HasChanges())
				return
			}
			if len(tc.fields) > 0 {
				// The row written restores the spec's content.
				require.NotNil(t, c.Row)
				k := s.Keys[0]
				assert.Equal(t, &store.KeyRow{Tenant: "acme", Slug: "website", Content: store.Content{Universal: false, Name: k.Name,
					Permissions: k.PermissionsJSON, Metadata: k.MetadataJSON, ExpiresAt: k.Expires, Owner: "platform"}}, c.Row)
			}
			// Applying the plan leaves a state that plans no change.
			fixed := stateOf(s)
			q := reconcile.Diff(s, fixed, nil, reconcile.Options{})
			assert.False(t, q.HasChanges())
		})
	}
}

func TestDiffForeignOwner(t *testing.T) {
	st := stateOf(evalSpec(t, withOwner("billing", websiteKey(`name = "Website"`)+`
tenant_key "blog" {
  tenant = "acme"
  name   = "Blog"
  token  = env("TOKEN_B")
}`)))
	// The blog stays with billing; the website is declared by platform too.
	st.Keys[0].Owner = "platform" // acme/blog sorts first
	s := evalSpec(t, withOwner("platform", websiteKey(`name = "Public website"`)+`
tenant_key "blog" {
  tenant = "acme"
  name   = "Blog"
  token  = env("TOKEN_B")
}`))

	t.Run("refused", func(t *testing.T) {
		p := reconcile.Diff(s, st, nil, reconcile.Options{})
		require.Len(t, p.Refusals, 1)
		assert.Equal(t, "acme/website", p.Refusals[0].Address)
		assert.Contains(t, p.Refusals[0].Message, `owned by "billing"`)
		assert.Contains(t, p.Refusals[0].Message, `"platform"`)
		assert.Contains(t, p.Refusals[0].Message, "--adopt")
		for _, c := range p.Changes {
			assert.NotEqual(t, "acme/website", c.Address.String(), "a refused key is not planned")
		}

		w := &recordingWriter{}
		_, err := reconcile.Apply(context.Background(), w, p, reconcile.Meta{})
		require.ErrorIs(t, err, reconcile.ErrRefused)
		var re *reconcile.RefusedError
		require.ErrorAs(t, err, &re)
		assert.Equal(t, p.Refusals, re.Refusals)
		assert.Empty(t, w.batches, "a refused plan writes nothing")
	})

	t.Run("adopted", func(t *testing.T) {
		p := reconcile.Diff(s, st, nil, reconcile.Options{Adopt: true})
		assert.Empty(t, p.Refusals)
		require.Len(t, p.Changes, 1, "acme/blog, unchanged, is not listed")
		assert.Equal(t, 1, p.Unlisted, "acme/blog")
		c := p.Changes[0]
		assert.Equal(t, "acme/website", c.Address.String())
		assert.Equal(t, reconcile.Update, c.Action)
		assert.Equal(t, "billing", c.AdoptedFrom)
		assert.Equal(t, []reconcile.FieldChange{
			{Field: "name", Before: "Website", After: "Public website"},
			{Field: "owner", Before: "billing", After: "platform"},
		}, c.Fields)
		require.NotNil(t, c.Row)
		assert.Equal(t, "platform", c.Row.Owner)
		assert.Equal(t, reconcile.Summary{Updated: 1, Adopted: 1, Unchanged: 1}, p.Summary())

		b := reconcile.Batch(p, reconcile.Meta{})
		require.Len(t, b.Keys, 1)
		evs := b.Keys[0].Events
		require.Len(t, evs, 2)
		assert.Equal(t, reconcile.EventAdopted, evs[0].Action)
		assert.JSONEq(t, `{"owner": {"old": "billing", "new": "platform"}}`, string(evs[0].Changes))
		assert.Equal(t, reconcile.EventUpdated, evs[1].Action)
		assert.JSONEq(t, `{"name": {"old": "Website", "new": "Public website"}}`, string(evs[1].Changes))
	})

	t.Run("adopted unchanged", func(t *testing.T) {
		st := stateOf(evalSpec(t, withOwner("billing", websiteKey(`name = "Website"`))))
		s := evalSpec(t, withOwner("platform", websiteKey(`name = "Website"`)))
		p := reconcile.Diff(s, st, nil, reconcile.Options{Adopt: true})
		require.Len(t, p.Changes, 1)
		c := p.Changes[0]
		assert.Equal(t, reconcile.Update, c.Action, "taking ownership is a change even when nothing else is")
		assert.Equal(t, []reconcile.FieldChange{{Field: "owner", Before: "billing", After: "platform"}}, c.Fields)
		assert.Equal(t, reconcile.Summary{Adopted: 1}, p.Summary())
		b := reconcile.Batch(p, reconcile.Meta{})
		require.Len(t, b.Keys[0].Events, 1)
		assert.Equal(t, reconcile.EventAdopted, b.Keys[0].Events[0].Action)
	})
}

func TestDiffDeterministic(t *testing.T) {
	var src strings.Builder
	envs := []string{"TOKEN_A", "TOKEN_B", "TOKEN_C", "TOKEN_D", "TOKEN_E", "TOKEN_F"}
	tenants := []string{"zeta", "acme", "mid", "acme", "beta", "zeta"}
	for i, env := range envs {
		fmt.Fprintf(&src, "tenant_key \"k%d\" {\n  tenant = %q\n  name = \"Key %d\"\n  token = env(%q)\n}\n", 9-i, tenants[i], i, env)
	}
	s := evalSpec(t, withOwner("platform", src.String()))
	st := stateOf(s)
	// Changes of every kind: an update, a rotation, a create, no-ops, and
	// two owned keys the spec no longer declares (warnings).
	st.Keys[0].Name = "drifted"
	st.Keys[1].Tokens[0].Digest, st.Keys[1].Tokens[0].Hint = token.DigestOf("wat_n3Qp8ZxR2vLk5TbW9mYc4HdJ7fGs1Ae6"), "wat_…1Ae6"
	st.Keys = st.Keys[:len(st.Keys)-1]
	st.Keys = append(st.Keys,
		&store.Key{KeyRow: store.KeyRow{ID: 50, Tenant: "old", Slug: "b", Content: store.Content{Name: "B", Permissions: []byte("[]"), Metadata: []byte("{}"), Owner: "platform"}}},
		&store.Key{KeyRow: store.KeyRow{ID: 51, Tenant: "old", Slug: "a", Content: store.Content{Name: "A", Permissions: []byte("[]"), Metadata: []byte("{}"), Owner: "platform"}}},
	)

	first := reconcile.Diff(s, st, nil, reconcile.Options{})
	require.Len(t, first.Changes, 3, "the update, the rotation and the create; the unchanged keys are counted")
	assert.Equal(t, 3, first.Unlisted)
	assert.True(t, sort.SliceIsSorted(first.Changes, func(i, j int) bool {
		return first.Changes[i].Address.Compare(first.Changes[j].Address) < 0
	}), "changes are sorted by address")
	require.Len(t, first.Warnings, 2)
	assert.Equal(t, "old/a", first.Warnings[0].Address)
	assert.Equal(t, "old/b", first.Warnings[1].Address)

	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 50; i++ {
		shuffled := &store.State{Now: st.Now, Keys: append([]*store.Key(nil), st.Keys...)}
		rng.Shuffle(len(shuffled.Keys), func(i, j int) { shuffled.Keys[i], shuffled.Keys[j] = shuffled.Keys[j], shuffled.Keys[i] })
		require.Equal(t, first, reconcile.Diff(s, shuffled, nil, reconcile.Options{}), "the plan does not depend on the order of the stored keys")
	}
}

// recordingWriter records the batches Apply writes.
type recordingWriter struct {
	batches []*store.Batch
}

func (w *recordingWriter) Write(_ context.Context, b *store.Batch) (store.WriteResult, error) {
	w.batches = append(w.batches, b)
	return store.WriteResult{WriteStats: store.WriteStats{Events: int64(len(b.Keys))}}, nil
}

func TestApplyExecutesThePlan(t *testing.T) {
	s := evalSpec(t, withOwner("platform", twoKeys))
	meta := reconcile.Meta{RunID: "run", Actor: "tester"}

	t.Run("no changes", func(t *testing.T) {
		w := &recordingWriter{}
		stats, err := reconcile.Apply(context.Background(), w, reconcile.Diff(s, stateOf(s), nil, reconcile.Options{}), meta)
		require.NoError(t, err)
		assert.Zero(t, stats.Rows())
		assert.Empty(t, w.batches, "a plan without changes does not call the store")
	})

	// The store holds root/frontend under another name, and not
	// acme/website: Apply writes one batch that creates acme/website and
	// renames root/frontend, with one event each, and nothing else. The
	// expected batch is written out from the spec, not computed by Batch,
	// which Apply calls.
	t.Run("changes", func(t *testing.T) {
		st := stateOf(s)
		require.Equal(t, "acme/website", st.Keys[0].Tenant+"/"+st.Keys[0].Slug)
		st.Keys = st.Keys[1:]
		st.Keys[0].Name = "Old name"
		w := &recordingWriter{}
		_, err := reconcile.Apply(context.Background(), w, reconcile.Diff(s, st, nil, reconcile.Options{}), meta)
		require.NoError(t, err)
		require.Len(t, w.batches, 1, "one batch: the store writes it in bulk")

		expires := time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
		want := &store.Batch{RunID: "run", Owner: "platform", Actor: "tester", Now: testNow, Keys: []store.KeyWrite{
			{
				Create: true, Tenant: "acme", Slug: "website",
				Key: &store.KeyRow{Tenant: "acme", Slug: "website", Content: store.Content{Name: "Website", Description: "Reads published pages",
					Permissions: []byte(`[{"name": "cms.read"}, {"name": "cms.write", "locales": ["en"]}]`),
					Metadata:    []byte(`{"team": "web"}`), ExpiresAt: &expires, Owner: "platform"}},
				NewTokens: []store.NewToken{{Digest: digestOf("TOKEN_B"), Hint: hintOf("TOKEN_B"), State: store.StateActive}},
				Events: []store.Event{{Action: reconcile.EventCreated, Changes: []byte(`{
					"universal":   {"new": false},
					"name":        {"new": "Website"},
					"description": {"new": "Reads published pages"},
					"permissions": {"new": [{"name": "cms.read"}, {"name": "cms.write", "locales": ["en"]}]},
					"metadata":    {"new": {"team": "web"}},
					"expires":     {"new": "2027-06-30T00:00:00Z"},
					"token":       {"new": "` + hintOf("TOKEN_B") + `"}}`)}},
			},
			{
				KeyID: 2, Tenant: "root", Slug: "frontend",
				Key: &store.KeyRow{Tenant: "root", Slug: "frontend", Content: store.Content{Universal: true, Name: "Universal front-end key",
					Permissions: []byte(`[{"name": "*"}]`), Metadata: []byte(`{}`), Owner: "platform"}},
				Events: []store.Event{{Action: reconcile.EventUpdated,
					Changes: []byte(`{"name": {"old": "Old name", "new": "Universal front-end key"}}`)}},
			},
		}}
		got := documents(w.batches[0])
		require.Len(t, got.Keys, len(want.Keys), "keys written")
		// Event documents compare as JSON; the rest field by field.
		for i := range want.Keys {
			require.Len(t, got.Keys[i].Events, len(want.Keys[i].Events), "events of %s", want.Keys[i].Slug)
			for j := range want.Keys[i].Events {
				assert.JSONEq(t, string(want.Keys[i].Events[j].Changes), string(got.Keys[i].Events[j].Changes))
				want.Keys[i].Events[j].Changes, got.Keys[i].Events[j].Changes = nil, nil
			}
		}
		assert.Equal(t, want, got)
	})
}

// documents returns b with every event's document produced, so that
// batches compare by content (ChangesFunc values do not compare).
func documents(b *store.Batch) *store.Batch {
	c := *b
	c.Keys = append([]store.KeyWrite(nil), b.Keys...)
	for i := range c.Keys {
		evs := make([]store.Event, len(c.Keys[i].Events))
		for j, e := range c.Keys[i].Events {
			evs[j] = store.Event{Action: e.Action, Changes: e.Document(), Reason: e.Reason}
		}
		c.Keys[i].Events = evs
	}
	return &c
}

func TestNewRunID(t *testing.T) {
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		id := reconcile.NewRunID()
		assert.Regexp(t, v4, id)
		assert.False(t, seen[id], "run ids repeat: %s", id)
		seen[id] = true
	}
}
