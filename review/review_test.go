package review_test

import (
	"encoding/json"
	"fmt"
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
			reason: `moved from tenant "acme" to "globex"`,
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
			base: key("web", "previous_token = env(\"OLD\")\nprevious_until = \"2027-01-01T00:00:00Z\""),
			head: key("web", "previous_token = env(\"OLD\")\nprevious_until = \"2027-02-01T00:00:00Z\""),
			want: []risk{{review.Medium, review.RiskExpiry, "acme/web"}}, reason: "previous_until pushed later",
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
			reason: `token source changed: env("KEY_web") → file("/run/secrets/web"): the key will be rotated at the next apply`,
		},
		"key removed": {
			base: key("web", "") + key("old", ""), head: key("web", ""),
			want: []risk{{review.Low, review.RiskRemoved, "acme/old"}}, reason: "revoked at the next apply --prune",
		},
		"key removed with prune on": {
			base: key("web", "") + key("old", ""), head: "settings {\n  prune = true\n}\n" + key("web", ""),
			want: []risk{
				{review.Medium, review.RiskSettings, ""},
				{review.Low, review.RiskRemoved, "acme/old"},
			},
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
			r := review.Compare(evaluate(t, tt.base), evaluate(t, tt.head))
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
	r := review.Compare(base, head)

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
	assert.Nil(t, web.Fields[0].Before)
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
	r := review.Compare(base, head)
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
	r := review.Compare(base, head)
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
