package review_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/review"
	"github.com/keyprov/keyprov/spec"
)

// evaluate evaluates src offline, as keyprov diff does: no secrets, no
// environment.
func evaluate(t *testing.T, src string) *spec.Spec {
	t.Helper()
	s, diags := spec.Evaluate([]spec.Source{{Name: "keys.hcl", Dir: ".", Bytes: []byte(src)}},
		spec.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	require.False(t, diags.HasErrors(), "spec does not evaluate: %v", diags)
	return s
}

// key returns a tenant key block for tenant acme.
func key(slug, body string) string {
	return fmt.Sprintf("tenant_key %q {\n  tenant = \"acme\"\n  name = %q\n  token = env(\"KEY_%s\")\n%s\n}\n", slug, slug, slug, body)
}

// reviewNow is the time the tests' reviews run at.
var reviewNow = time.Date(2026, 5, 4, 10, 30, 0, 0, time.UTC)

type risk struct {
	sev  review.Severity
	kind review.RiskKind
	addr string
}

func risks(r *review.Review) []risk {
	out := []risk{}
	for _, rk := range r.Risks {
		out = append(out, risk{rk.Severity, rk.Kind, rk.Address})
	}
	return out
}

func TestReviewRisks(t *testing.T) {
	tests := map[string]struct {
		base, head string
		want       []risk
		reason     string // a fragment of the first risk's reason
	}{
		"no change": {
			base: key("web", ""), head: key("web", ""),
			want: []risk{},
		},
		"new tenant key": {
			base: "", head: key("web", `permissions = ["cms.read"]`),
			want: []risk{},
		},
		"new universal key": {
			base: "",
			head: `universal_key "fe" {
  name = "Front end"
  token = env("FE")
  permissions = [{ name = "*" }]
}`,
			want: []risk{
				{review.Critical, review.RiskCrossTenant, "root/fe"},
				{review.High, review.RiskPermissions, "root/fe"},
			},
			reason: "new universal key",
		},
		"new revoked universal key": {
			base: "",
			head: `universal_key "fe" {
  name = "Front end"
  revoked = true
}`,
			want: []risk{},
		},
		"tenant key turned universal": {
			base: `tenant_key "fe" {
  tenant = "root"
  name = "Front end"
  token = env("FE")
}`,
			head: `universal_key "fe" {
  name = "Front end"
  token = env("FE")
}`,
			want:   []risk{{review.Critical, review.RiskCrossTenant, "root/fe"}},
			reason: "tenant key turned universal",
		},
		"tenant key moved to universal": {
			base: key("fe", ""),
			head: `universal_key "fe" {
  name = "fe"
  token = env("KEY_fe")
}
moved {
  from = "acme/fe"
  to   = "root/fe"
}`,
			want:   []risk{{review.Critical, review.RiskCrossTenant, "root/fe"}},
			reason: `not only "acme"`,
		},
		"moved to another tenant": {
			base: key("web", ""),
			head: `tenant_key "web" {
  tenant = "globex"
  name = "web"
  token = env("KEY_web")
}
moved {
  from = "acme/web"
  to   = "globex/web"
}`,
			want:   []risk{{review.Critical, review.RiskCrossTenant, "globex/web"}},
			reason: `moved from tenant "acme" to "globex": the same token now reaches "globex"`,
		},
		// Issue 16: a universal key that becomes a key of one tenant
		// reaches less; it was flagged critical.
		"universal key moved into a tenant": {
			base: `universal_key "gateway" {
  name = "Gateway"
  token = env("GW")
  permissions = ["cms.read"]
}`,
			head: `tenant_key "gateway" {
  tenant = "acme"
  name = "Gateway"
  token = env("GW")
  permissions = ["cms.read"]
}
moved {
  from = "root/gateway"
  to   = "acme/gateway"
}`,
			want: []risk{},
		},
		"renamed within the tenant": {
			base: key("web", ""),
			head: key("website", "") + `moved {
  from = "acme/web"
  to   = "acme/website"
}`,
			want: []risk{{review.Medium, review.RiskTokenSource, "acme/website"}},
		},
		"wildcard gained": {
			base: key("web", `permissions = ["cms.read"]`), head: key("web", `permissions = ["cms.read", "wb.*"]`),
			want: []risk{{review.High, review.RiskPermissions, "acme/web"}}, reason: `wildcard "wb.*" gained`,
		},
		"star gained": {
			base: key("web", `permissions = ["cms.read"]`), head: key("web", `permissions = ["*"]`),
			want: []risk{{review.High, review.RiskPermissions, "acme/web"}}, reason: `wildcard "*" gained`,
		},
		"new permission name": {
			base: key("web", `permissions = ["cms.read"]`), head: key("web", `permissions = ["cms.read", "cms.write"]`),
			want: []risk{{review.High, review.RiskPermissions, "acme/web"}}, reason: `new permission "cms.write"`,
		},
		"name covered by a wildcard": {
			base: key("web", `permissions = ["wb.*"]`), head: key("web", `permissions = ["wb.*", { name = "wb.page", rwd = "rwd" }]`),
			want: []risk{},
		},
		"access level widened": {
			base: key("web", `permissions = [{ name = "cms.entry", rwd = "r" }]`),
			head: key("web", `permissions = [{ name = "cms.entry", rwd = "rw" }]`),
			want: []risk{{review.High, review.RiskPermissions, "acme/web"}}, reason: `"cms.entry" rwd "r" → "rw" (gained w)`,
		},
		"access level narrowed": {
			base: key("web", `permissions = [{ name = "cms.entry", rwd = "rwd" }]`),
			head: key("web", `permissions = [{ name = "cms.entry", rwd = "r" }]`),
			want: []risk{},
		},
		"own dropped": {
			base: key("web", `permissions = [{ name = "cms.entry", own = true }]`),
			head: key("web", `permissions = [{ name = "cms.entry", own = false }]`),
			want: []risk{{review.High, review.RiskPermissions, "acme/web"}}, reason: `"cms.entry" own = true dropped`,
		},
		"own removed": {
			base: key("web", `permissions = [{ name = "cms.entry", own = true, rwd = "r" }]`),
			head: key("web", `permissions = [{ name = "cms.entry", rwd = "r" }]`),
			want: []risk{{review.High, review.RiskPermissions, "acme/web"}}, reason: `own = true dropped`,
		},
		"scope gained": {
			base: key("web", `permissions = [{ name = "cms.entry", locales = ["en-US"] }]`),
			head: key("web", `permissions = [{ name = "cms.entry", locales = ["en-US", "de-DE"] }]`),
			want: []risk{{review.High, review.RiskPermissions, "acme/web"}}, reason: `"cms.entry" locales gained "de-DE"`,
		},
		"nested scope gained": {
			base: key("web", `permissions = [{ name = "cms.entry", models = { "en-US" = ["article"] } }]`),
			head: key("web", `permissions = [{ name = "cms.entry", models = { "en-US" = ["article", "page"], "de-DE" = ["article"] } }]`),
			want: []risk{{review.High, review.RiskPermissions, "acme/web"}}, reason: `models gained "de-DE"; "cms.entry" models.en-US gained "page"`,
		},
		"constraint removed": {
			base: key("web", `permissions = [{ name = "cms.entry", models = ["article"] }]`),
			head: key("web", `permissions = [{ name = "cms.entry" }]`),
			want: []risk{{review.High, review.RiskPermissions, "acme/web"}}, reason: `"cms.entry" models removed`,
		},
		"constraint added": {
			base: key("web", `permissions = [{ name = "cms.entry" }]`),
			head: key("web", `permissions = [{ name = "cms.entry", models = ["article"] }]`),
			want: []risk{},
		},
		"permission removed": {
			base: key("web", `permissions = ["cms.read", "cms.write"]`), head: key("web", `permissions = ["cms.read"]`),
			want: []risk{},
		},
		"expiry removed": {
			base: key("web", `expires = "2027-01-01T00:00:00Z"`), head: key("web", ""),
			want: []risk{{review.High, review.RiskExpiry, "acme/web"}}, reason: "expiry removed",
		},
		"expiry pushed later": {
			base: key("web", `expires = "2027-01-01T00:00:00Z"`), head: key("web", `expires = "2028-01-01T00:00:00Z"`),
			want: []risk{{review.Medium, review.RiskExpiry, "acme/web"}}, reason: "2027-01-01T00:00:00Z → 2028-01-01T00:00:00Z",
		},
		"expiry brought forward": {
			base: key("web", `expires = "2028-01-01T00:00:00Z"`), head: key("web", `expires = "2027-01-01T00:00:00Z"`),
			want: []risk{},
		},
		"expiry added": {
			base: key("web", ""), head: key("web", `expires = "2027-01-01T00:00:00Z"`),
			want: []risk{},
		},
		"previous_until pushed later": {
			base:   key("web", "previous_token = env(\"OLD\")\nprevious_until = \"2027-01-01T00:00:00Z\""),
			head:   key("web", "previous_token = env(\"OLD\")\nprevious_until = \"2027-02-01T00:00:00Z\""),
			want:   []risk{{review.Medium, review.RiskExpiry, "acme/web"}},
			reason: "previous_until pushed later: 2027-01-01T00:00:00Z → 2027-02-01T00:00:00Z: the previous token stays valid 272 days from now (more than 30)",
		},
		"unrevoked": {
			base: key("web", "revoked = true"), head: key("web", ""),
			want: []risk{{review.High, review.RiskUnrevoked, "acme/web"}}, reason: "revoked = true removed",
		},
		"revoked": {
			base: key("web", `permissions = ["cms.read"]`), head: key("web", "revoked = true\npermissions = [\"*\"]"),
			want: []risk{},
		},
		"token source changed": {
			base: key("web", ""),
			head: `tenant_key "web" {
  tenant = "acme"
  name = "web"
  token = file("/run/secrets/web")
}`,
			want:   []risk{{review.Medium, review.RiskTokenSource, "acme/web"}},
			reason: `token changed: env("KEY_web") → file("/run/secrets/web"): the key is rotated when applied (the old token stops working)`,
		},
		"rolling rotation": {
			base: key("web", ""),
			head: `tenant_key "web" {
  tenant = "acme"
  name = "web"
  token = env("KEY_web_2")
  previous_token = env("KEY_web")
  previous_until = "2026-05-20T00:00:00Z"
}`,
			want:   []risk{{review.Medium, review.RiskTokenSource, "acme/web"}},
			reason: `the old token stays valid until 2026-05-20T00:00:00Z as previous_token`,
		},
		"rolling rotation with a long window": {
			base: key("web", ""),
			head: `tenant_key "web" {
  tenant = "acme"
  name = "web"
  token = env("KEY_web_2")
  previous_token = env("KEY_web")
  previous_until = "2026-07-01T00:00:00Z"
}`,
			want: []risk{
				{review.Medium, review.RiskExpiry, "acme/web"},
				{review.Medium, review.RiskTokenSource, "acme/web"},
			},
			reason: `previous_until far away: the former token env("KEY_web") stays valid until 2026-07-01T00:00:00Z, 57 days from now (more than 30)`,
		},
		// Issue 16: adding a previous token without changing the token was
		// reported as no risks.
		"previous_token added without a token change": {
			base:   key("web", ""),
			head:   key("web", "previous_token = env(\"X\")\nprevious_until = \"2030-01-01T00:00:00Z\""),
			want:   []risk{{review.High, review.RiskPreviousToken, "acme/web"}},
			reason: `previous_token env("X") added without a token change: a second token works for this key until 2030-01-01T00:00:00Z, 1337 days from now (more than 30)`,
		},
		"previous_token that is not the former token": {
			base: key("web", ""),
			head: `tenant_key "web" {
  tenant = "acme"
  name = "web"
  token = env("KEY_web_2")
  previous_token = env("X")
  previous_until = "2026-05-20T00:00:00Z"
}`,
			want: []risk{
				{review.High, review.RiskPreviousToken, "acme/web"},
				{review.Medium, review.RiskTokenSource, "acme/web"},
			},
			reason: `previous_token env("X") added that is not the key's former token (env("KEY_web"))`,
		},
		"previous_token replaced": {
			base: key("web", "previous_token = env(\"OLD\")\nprevious_until = \"2026-05-20T00:00:00Z\""),
			head: key("web", "previous_token = env(\"X\")\nprevious_until = \"2026-05-20T00:00:00Z\""),
			want: []risk{{review.High, review.RiskPreviousToken, "acme/web"}},
		},
		"previous_token past its cutoff": {
			base: key("web", ""),
			head: key("web", "previous_token = env(\"X\")\nprevious_until = \"2026-05-01T00:00:00Z\""),
			want: []risk{},
		},
		"previous_until brought forward": {
			base: key("web", "previous_token = env(\"OLD\")\nprevious_until = \"2027-01-01T00:00:00Z\""),
			head: key("web", "previous_token = env(\"OLD\")\nprevious_until = \"2026-12-01T00:00:00Z\""),
			want: []risk{},
		},
		"previous_token removed": {
			base: key("web", "previous_token = env(\"OLD\")\nprevious_until = \"2027-01-01T00:00:00Z\""),
			head: key("web", ""),
			want: []risk{},
		},
		"key removed": {
			base: key("web", "") + key("old", ""), head: key("web", ""),
			want: []risk{{review.Low, review.RiskRemoved, "acme/old"}}, reason: "removed from the spec: disabled at the next apply --prune, its tokens kept (revoked with --prune=revoke)",
		},
		// Issue 18: prune disables, which is reversible: low.
		"key removed with prune on": {
			base: key("web", "") + key("old", ""), head: "settings {\n  prune = true\n}\n" + key("web", ""),
			want: []risk{
				{review.Low, review.RiskRemoved, "acme/old"},
				{review.Low, review.RiskSettings, ""},
			},
			reason: "removed from the spec: disabled at the next apply (settings.prune = true), its tokens kept",
		},
		"prune switched to revoking": {
			base: "settings {\n  prune = true\n}\n" + key("web", "") + key("old", ""), head: "settings {\n  prune = \"revoke\"\n}\n" + key("web", ""),
			want: []risk{
				{review.High, review.RiskSettings, ""},
				{review.Low, review.RiskRemoved, "acme/old"},
			},
			reason: "prune switched to revoking: every apply revokes the owned keys the spec no longer declares, and a revocation cannot be undone",
		},
		"key disabled": {
			base: key("web", ""), head: key("web", "disabled = true"),
			want: []risk{{review.Low, review.RiskDisabled, "acme/web"}}, reason: "disabled: the key's tokens stop working when applied, and are kept (enabling it restores them)",
		},
		// Enabling brings access back.
		"key enabled": {
			base: key("web", "disabled = true"), head: key("web", ""),
			want: []risk{{review.High, review.RiskEnabled, "acme/web"}}, reason: "enabled: the key's tokens, kept while it was disabled, work again when applied",
		},
		"disabled key widened": {
			base: key("web", "disabled = true"), head: key("web", "disabled = true\npermissions = [\"*\"]"),
			want: []risk{{review.High, review.RiskPermissions, "acme/web"}},
		},
		"revoked key removed": {
			base: key("web", "") + key("old", "revoked = true"), head: key("web", ""),
			want: []risk{},
		},
		"token prefix changed": {
			base: key("web", ""), head: "settings {\n  token_prefix = \"key_\"\n}\n" + key("web", ""),
			want: []risk{{review.High, review.RiskSettings, ""}}, reason: `token_prefix "wat_" → "key_": every token must now start with "key_" (1 key)`,
		},
		"owner changed": {
			base: key("web", ""), head: "settings {\n  owner = \"platform\"\n}\n" + key("web", ""),
			want: []risk{{review.High, review.RiskSettings, ""}}, reason: `owner "keyprov" → "platform"`,
		},
		"allowed permissions widened": {
			base: "settings {\n  allowed_permissions = [\"cms.read\"]\n}\n" + key("web", ""),
			head: "settings {\n  allowed_permissions = [\"cms.read\", \"cms.*\"]\n}\n" + key("web", ""),
			want: []risk{{review.Medium, review.RiskSettings, ""}}, reason: `allowed_permissions widened: "cms.*" added`,
		},
		"allowed permissions narrowed": {
			base: "settings {\n  allowed_permissions = [\"cms.*\"]\n}\n" + key("web", ""),
			head: "settings {\n  allowed_permissions = [\"cms.read\"]\n}\n" + key("web", ""),
			want: []risk{},
		},
		"allowed permissions removed": {
			base: "settings {\n  allowed_permissions = [\"cms.*\"]\n}\n" + key("web", ""),
			head: key("web", ""),
			want: []risk{{review.Medium, review.RiskSettings, ""}}, reason: "any permission name is now allowed",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			r := review.Compare(evaluate(t, tt.base), evaluate(t, tt.head), reviewNow)
			assert.Equal(t, tt.want, risks(r))
			if tt.reason != "" && assert.NotEmpty(t, r.Risks) {
				assert.Contains(t, r.Risks[0].Reason, tt.reason)
			}
		})
	}
}

func TestReviewChanges(t *testing.T) {
	base := evaluate(t, key("web", `permissions = ["cms.read", "cms.write"]`)+key("old", "")+key("same", "")+key("mv", ""))
	head := evaluate(t, key("web", "description = \"Website\"\npermissions = [\"cms.read\", \"wb.*\"]\nexpires = \"2027-06-30T00:00:00Z\"")+
		key("same", "")+key("new", `metadata = { team = "web" }`)+
		"tenant_key \"moved\" {\n  tenant = \"acme\"\n  name = \"mv\"\n  token = env(\"KEY_mv\")\n}\nmoved {\n  from = \"acme/mv\"\n  to = \"acme/moved\"\n}\n")
	r := review.Compare(base, head, reviewNow)

	require.Len(t, r.Changes, 4)
	assert.Equal(t, 1, r.Unchanged)
	assert.True(t, r.HasChanges())

	kinds := map[string]review.Kind{}
	for _, c := range r.Changes {
		kinds[c.Address.String()] = c.Kind
	}
	assert.Equal(t, map[string]review.Kind{
		"acme/moved": review.Moved, "acme/new": review.Added, "acme/old": review.Removed, "acme/web": review.Changed,
	}, kinds)

	moved := r.Changes[0]
	require.Equal(t, "acme/moved", moved.Address.String())
	require.NotNil(t, moved.MovedFrom)
	assert.Equal(t, "acme/mv", moved.MovedFrom.String())
	assert.Empty(t, moved.Fields, "a pure rename changes no field")

	added := r.Changes[1]
	var fields []string
	for _, f := range added.Fields {
		fields = append(fields, f.Field)
		assert.Nil(t, f.Before)
	}
	assert.Equal(t, []string{"name", "permissions", "metadata", "token"}, fields)
	assert.Equal(t, review.Sources{`env("KEY_new")`}, added.Fields[3].After)

	assert.Equal(t, []review.FieldChange{{Field: "name", Before: "old"}}, r.Changes[2].Fields, "a removed key lists its name")

	web := r.Changes[3]
	require.Len(t, web.Fields, 3)
	assert.Equal(t, "description", web.Fields[0].Field)
	assert.Equal(t, "", web.Fields[0].Before, "no description is \"\", as in the store")
	assert.Equal(t, "Website", web.Fields[0].After)
	perms := web.Fields[1]
	assert.Equal(t, "permissions", perms.Field)
	assert.Equal(t, []json.RawMessage{json.RawMessage(`{"name": "wb.*"}`)}, perms.Added)
	assert.Equal(t, []json.RawMessage{json.RawMessage(`{"name": "cms.write"}`)}, perms.Removed)
	assert.Equal(t, review.FieldChange{Field: "expires", After: time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)}, web.Fields[2])

	sum := r.Summary()
	assert.Equal(t, 1, sum.Added)
	assert.Equal(t, 1, sum.Removed)
	assert.Equal(t, 1, sum.Moved)
	assert.Equal(t, 1, sum.Changed)
	assert.Equal(t, 1, sum.Unchanged)
	assert.Equal(t, map[review.Severity]int{review.High: 1, review.Low: 1}, sum.Risks)
	assert.Equal(t, review.High, r.MaxSeverity())
}

func TestReviewSettingsChanges(t *testing.T) {
	base := evaluate(t, key("web", ""))
	head := evaluate(t, "settings {\n  owner = \"platform\"\n  allowed_permissions = [\"cms.*\"]\n  prune = false\n}\n"+key("web", ""))
	r := review.Compare(base, head, reviewNow)
	assert.Equal(t, []review.FieldChange{
		{Field: "owner", Before: "keyprov", After: "platform"},
		{Field: "allowed_permissions", Before: nil, After: []string{"cms.*"}},
		{Field: "prune", Before: nil, After: false},
	}, r.Settings)
	assert.Empty(t, r.Changes)
	assert.True(t, r.HasChanges())
}

// Risks are ordered by severity, then kind, then address.
func TestReviewRiskOrder(t *testing.T) {
	base := evaluate(t, key("a", `expires = "2027-01-01T00:00:00Z"`)+key("b", `permissions = ["x"]`)+key("gone", ""))
	head := evaluate(t, "settings {\n  owner = \"other\"\n}\n"+key("a", `expires = "2028-01-01T00:00:00Z"`)+
		key("b", `permissions = ["*"]`)+
		"universal_key \"u\" {\n  name = \"u\"\n  token = env(\"U\")\n}\n")
	r := review.Compare(base, head, reviewNow)
	assert.Equal(t, []risk{
		{review.Critical, review.RiskCrossTenant, "root/u"},
		{review.High, review.RiskPermissions, "acme/b"},
		{review.High, review.RiskSettings, ""},
		{review.Medium, review.RiskExpiry, "acme/a"},
		{review.Low, review.RiskRemoved, "acme/gone"},
	}, risks(r))
}

func TestReviewSeverity(t *testing.T) {
	for _, s := range []review.Severity{review.Low, review.Medium, review.High, review.Critical} {
		got, err := review.ParseSeverity(s.String())
		require.NoError(t, err)
		assert.Equal(t, s, got)
	}
	_, err := review.ParseSeverity("severe")
	assert.Error(t, err)
	b, err := json.Marshal(review.Risk{Severity: review.High}.Severity)
	require.NoError(t, err)
	assert.Equal(t, `"high"`, string(b))
}

// Narrowing a key's reach is never ranked above low (issue 16): whoever
// holds its token can do no more than before.
func TestReviewNarrowingIsNeverAboveLow(t *testing.T) {
	universal := `universal_key "gateway" {
  name = "Gateway"
  token = env("GW")
  permissions = [{ name = "cms.entry", rwd = "rwd" }, "cms.read"]
  expires = "2027-01-01T00:00:00Z"
}
`
	tests := map[string]struct{ base, head string }{
		"universal key moved into a tenant": {universal, `tenant_key "gateway" {
  tenant = "acme"
  name = "Gateway"
  token = env("GW")
  permissions = [{ name = "cms.entry", rwd = "rwd" }, "cms.read"]
  expires = "2027-01-01T00:00:00Z"
}
moved {
  from = "root/gateway"
  to   = "acme/gateway"
}`},
		"universal key turned a key of the root tenant": {universal, `tenant_key "gateway" {
  tenant = "root"
  name = "Gateway"
  token = env("GW")
  permissions = [{ name = "cms.entry", rwd = "rwd" }, "cms.read"]
  expires = "2027-01-01T00:00:00Z"
}`},
		"fewer permissions":       {universal, strings.Replace(universal, `, "cms.read"`, "", 1)},
		"access level narrowed":   {universal, strings.Replace(universal, `rwd = "rwd"`, `rwd = "r"`, 1)},
		"constraint added":        {universal, strings.Replace(universal, `rwd = "rwd"`, `rwd = "rwd", own = true`, 1)},
		"earlier expiry":          {universal, strings.Replace(universal, "2027-01-01", "2026-06-01", 1)},
		"revoked":                 {universal, strings.Replace(universal, `name = "Gateway"`, "name = \"Gateway\"\nrevoked = true", 1)},
		"revoked with a wildcard": {universal, strings.Replace(strings.Replace(universal, `"cms.read"`, `"*"`, 1), `name = "Gateway"`, "name = \"Gateway\"\nrevoked = true", 1)},
		"removed":                 {universal + key("web", ""), key("web", "")},
		"previous_token removed":  {key("web", "previous_token = env(\"OLD\")\nprevious_until = \"2026-05-20T00:00:00Z\""), key("web", "")},
		"previous_until earlier":  {key("web", "previous_token = env(\"OLD\")\nprevious_until = \"2026-09-01T00:00:00Z\""), key("web", "previous_token = env(\"OLD\")\nprevious_until = \"2026-08-01T00:00:00Z\"")},
		"allowed_permissions narrowed": {"settings {\n  allowed_permissions = [\"cms.*\"]\n}\n" + key("web", ""),
			"settings {\n  allowed_permissions = [\"cms.read\"]\n}\n" + key("web", "")},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			r := review.Compare(evaluate(t, tt.base), evaluate(t, tt.head), reviewNow)
			require.True(t, r.HasChanges())
			assert.LessOrEqual(t, r.MaxSeverity(), review.Low, "%+v", r.Risks)
		})
	}
}

// KeyRisks reads a stored key as well as a spec's: permissions from their
// JSON, tokens by digest, labelled by hint.
func TestKeyRisksOfStoredKeys(t *testing.T) {
	acme := spec.Address{Tenant: "acme", Slug: "web"}
	until := reviewNow.Add(10 * 24 * time.Hour)
	before := &review.Version{Address: acme, Content: review.Content{Permissions: []byte(`[{"name": "cms.read"}]`)},
		Token: review.Token{ID: "digest-a", Label: "wat_…aaaa"}}
	after := &review.Version{Address: acme, Content: review.Content{Permissions: []byte(`[{"name": "*"}]`)},
		Token:    review.Token{ID: "digest-b", Label: "wat_…bbbb"},
		Previous: &review.Previous{Token: review.Token{ID: "digest-a", Label: "wat_…aaaa"}, Until: until}}
	assert.Equal(t, []review.Risk{
		{Severity: review.High, Kind: review.RiskPermissions, Address: "acme/web", Field: "permissions", Reason: `permissions widened: wildcard "*" gained`},
		{Severity: review.Medium, Kind: review.RiskTokenSource, Address: "acme/web", Field: "token",
			Reason: "token changed: wat_…aaaa → wat_…bbbb: the key is rotated when applied (the old token stays valid until 2026-05-14T10:30:00Z as previous_token)"},
	}, review.KeyRisks(before, after, reviewNow))

	assert.Equal(t, []review.Risk{
		{Severity: review.Critical, Kind: review.RiskCrossTenant, Address: "acme/web", Reason: "new universal key: its token reaches every tenant"},
		{Severity: review.High, Kind: review.RiskPermissions, Address: "acme/web", Field: "permissions", Reason: `new key with broad permissions: wildcard "*"`},
	}, review.KeyRisks(nil, &review.Version{Address: acme, Content: review.Content{Universal: true, Permissions: []byte(`[{"name": "*"}]`)}}, reviewNow))
}

// SortRisks orders every kind that RiskKinds lists, in its order.
func TestRiskKinds(t *testing.T) {
	kinds := review.RiskKinds()
	require.NotEmpty(t, kinds)
	var rs []review.Risk
	for i := len(kinds) - 1; i >= 0; i-- {
		rs = append(rs, review.Risk{Severity: review.High, Kind: kinds[i]})
	}
	review.SortRisks(rs)
	for i, rk := range rs {
		assert.Equal(t, kinds[i], rk.Kind)
	}
	kinds[0] = "changed by the caller"
	assert.NotEqual(t, kinds[0], review.RiskKinds()[0], "RiskKinds returns a copy")
}

// disabled and prune = "revoke" are compared like the other attributes
// and settings (issue 18).
func TestReviewDisabledAndPruneMode(t *testing.T) {
	base := evaluate(t, "settings {\n  prune = true\n}\n"+key("web", "")+key("blog", "disabled = true"))
	head := evaluate(t, "settings {\n  prune = \"revoke\"\n}\n"+key("web", "disabled = true")+key("blog", "")+key("new", "disabled = true"))
	r := review.Compare(base, head, reviewNow)
	assert.Equal(t, []review.FieldChange{{Field: "prune", Before: true, After: "revoke"}}, r.Settings)
	fields := map[string][]review.FieldChange{}
	for _, c := range r.Changes {
		fields[c.Address.String()] = c.Fields
	}
	assert.Equal(t, []review.FieldChange{{Field: "disabled", Before: false, After: true}}, fields["acme/web"])
	assert.Equal(t, []review.FieldChange{{Field: "disabled", Before: true, After: false}}, fields["acme/blog"])
	assert.Contains(t, fields["acme/new"], review.FieldChange{Field: "disabled", After: true}, "an added key says it is disabled")
}
