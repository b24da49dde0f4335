package spec

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// The evaluated spec is a plain value: later packages never touch HCL.
func TestEvaluatedKey(t *testing.T) {
	spec := `settings {
  owner               = "platform"
  allowed_permissions = ["*"]
}

universal_key "frontend" {
  name        = "Universal front-end key"
  description = "Next.js site,\nevery tenant"
  token       = env("A")
  permissions = [{ name = "*" }]
  expires     = "2027-06-30T12:00:00.1234567+02:00"
}

tenant_key "website" {
  for_each = toset(["acme"])
  tenant   = each.key
  name     = "Website (${each.key})"
  token    = env("WEBSITE_KEY_${upper(each.key)}")
  metadata = { team = "web", "cost-center" = "42" }
}
`
	env := fakeEnv{"A": tokA, "WEBSITE_KEY_ACME": tokB}
	s, ds := load(t, spec, Options{Secrets: true, LookupEnv: env.lookup})
	requireDiags(t, ds)
	require.NotNil(t, s)
	assert.Equal(t, Settings{TokenPrefix: "wat_", Owner: "platform", RootTenant: "root", AllowedPermissions: []string{"*"}, Range: s.Settings.Range}, s.Settings)
	assert.Equal(t, "keys.hcl:1:1", Pos(s.Settings.Range))
	require.Len(t, s.Keys, 2)

	site, front := s.Keys[0], s.Keys[1]
	assert.Equal(t, Address{Tenant: "acme", Slug: "website"}, site.Address)
	assert.False(t, site.Universal)
	assert.Equal(t, "Website (acme)", site.Name)
	assert.Empty(t, site.Description)
	assert.Equal(t, map[string]string{"team": "web", "cost-center": "42"}, site.Metadata)
	assert.Equal(t, `{"team": "web", "cost-center": "42"}`, string(site.MetadataJSON))
	assert.Empty(t, site.Permissions)
	assert.Equal(t, "[]", string(site.PermissionsJSON))
	assert.Nil(t, site.Expires)
	assert.Equal(t, `tenant_key.website["acme"]`, site.Block.String())
	assert.Equal(t, "keys.hcl:14:1", Pos(site.Block.DefRange()))
	assert.Equal(t, []string{`env("WEBSITE_KEY_ACME")`}, site.Token.Sources())
	assert.Equal(t, "keys.hcl:18:14", Pos(site.Token.Range()))
	assert.Equal(t, tokB, site.Token.Secret.Reveal())

	assert.Equal(t, Address{Tenant: "root", Slug: "frontend"}, front.Address)
	assert.True(t, front.Universal)
	assert.Equal(t, "Next.js site,\nevery tenant", front.Description)
	assert.Equal(t, `[{"name": "*"}]`, string(front.PermissionsJSON))
	assert.Nil(t, front.Metadata)
	assert.Equal(t, "{}", string(front.MetadataJSON))
	require.NotNil(t, front.Expires)
	assert.Equal(t, time.Date(2027, 6, 30, 10, 0, 0, 123456000, time.UTC), *front.Expires, "UTC, microseconds")
	assert.Equal(t, "universal_key.frontend", front.Block.String())
	assert.False(t, front.Revoked)
	assert.Nil(t, front.Previous)

	assert.Same(t, site, s.Key(Address{"acme", "website"}))
	assert.Same(t, front, s.Key(Address{"root", "frontend"}))
	assert.Nil(t, s.Key(Address{"acme", "frontend"}))

	// No formatting of the spec or its keys prints a token.
	for _, v := range []any{s, *s, site, *site, site.Token, front.Token.Secret} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(verb, v)
			assert.NotContains(t, out, tokA[4:])
			assert.NotContains(t, out, tokB[4:])
		}
	}
}

func TestExpires(t *testing.T) {
	key := func(expires string) string {
		return "universal_key \"a\" {\n  name    = \"a\"\n  token   = env(\"A\")\n  expires = " + expires + "\n}\n"
	}
	bad := func(v string) []diag {
		return []diag{{Pos: "keys.hcl:4:13", Summary: "Invalid expires", Detail: `Expires "` + v + `" is not an RFC 3339 time such as "2027-06-30T00:00:00Z".`, Address: "root/a"}}
	}
	runRuleCases(t, map[string]ruleCase{
		"UTC":                {spec: key(`"2027-06-30T00:00:00Z"`), keys: []string{"root/a"}},
		"offset":             {spec: key(`"2027-06-30T00:00:00+02:00"`), keys: []string{"root/a"}},
		"fraction":           {spec: key(`"2027-06-30T00:00:00.5Z"`), keys: []string{"root/a"}},
		"from timeadd":       {spec: key(`timeadd("2027-06-30T00:00:00Z", "720h")`), keys: []string{"root/a"}},
		"date only":          {spec: key(`"2027-06-30"`), want: bad("2027-06-30")},
		"no zone":            {spec: key(`"2027-06-30T00:00:00"`), want: bad("2027-06-30T00:00:00")},
		"month 13":           {spec: key(`"2027-13-01T00:00:00Z"`), want: bad("2027-13-01T00:00:00Z")},
		"space separator":    {spec: key(`"2027-06-30 00:00:00Z"`), want: bad("2027-06-30 00:00:00Z")},
		"words":              {spec: key(`"next year"`), want: bad("next year")},
		"number":             {spec: key(`2027`), want: bad("2027")},
		"empty":              {spec: key(`""`), want: bad("")},
		"from env() refused": {spec: key(`env("EXPIRES")`), want: []diag{{Pos: "keys.hcl:4:13", Summary: "Secret read outside a token", Detail: outsideDetail("env"), Address: "universal_key.a"}}},
	})
}

func TestRotationAndRevocation(t *testing.T) {
	runRuleCases(t, map[string]ruleCase{
		"previous token": {
			secrets: true,
			spec:    "universal_key \"a\" {\n  name           = \"a\"\n  token          = env(\"A\")\n  previous_token = env(\"B\")\n  previous_until = \"2027-01-01T00:00:00Z\"\n}\n",
			keys:    []string{"root/a"},
		},
		"previous token without until": {
			spec: "universal_key \"a\" {\n  name           = \"a\"\n  token          = env(\"A\")\n  previous_token = env(\"B\")\n}\n",
			want: []diag{{Pos: "keys.hcl:4:3", Summary: "Missing previous_until", Detail: "previous_token keeps an old token valid during a rolling rotation and needs previous_until", Address: "root/a"}},
		},
		"until without previous token": {
			spec: "universal_key \"a\" {\n  name           = \"a\"\n  token          = env(\"A\")\n  previous_until = \"2027-01-01T00:00:00Z\"\n}\n",
			want: []diag{{Pos: "keys.hcl:4:3", Summary: "Missing previous_token", Detail: "previous_until is the cutoff of previous_token, which is not set.", Address: "root/a"}},
		},
		"previous token equal to token": {
			secrets: true,
			spec:    "universal_key \"a\" {\n  name           = \"a\"\n  token          = env(\"A\")\n  previous_token = env(\"A2\")\n  previous_until = \"2027-01-01T00:00:00Z\"\n}\n",
			env:     fakeEnv{"A": tokA, "A2": tokA},
			want:    []diag{{Pos: "keys.hcl:4:20", Summary: "Invalid previous_token", Detail: "previous_token has the same value as token", Address: "root/a"}},
		},
		"literal previous token": {
			spec: "universal_key \"a\" {\n  name           = \"a\"\n  token          = env(\"A\")\n  previous_token = \"" + tokB + "\"\n  previous_until = \"2027-01-01T00:00:00Z\"\n}\n",
			want: []diag{{Pos: "keys.hcl:4:20", Summary: "Literal token", Detail: literalDetailOf("previous_token"), Address: "root/a"}},
		},
		"previous token computed from env()": {
			spec: "universal_key \"a\" {\n  name           = \"a\"\n  token          = env(\"A\")\n  previous_token = lower(env(\"B\"))\n  previous_until = \"2027-01-01T00:00:00Z\"\n}\n",
			want: []diag{{Pos: "keys.hcl:4:20", Summary: "Invalid token reference", Detail: "previous_token must read a token whole, with one of: " + refShapes + ".", Address: "root/a"}},
		},
		"previous token that cannot be read": {
			secrets: true,
			spec:    "universal_key \"a\" {\n  name           = \"a\"\n  token          = env(\"A\")\n  previous_token = file(\"old.txt\")\n  previous_until = \"2027-01-01T00:00:00Z\"\n}\n",
			want:    []diag{{Pos: "keys.hcl:4:20", Summary: "Cannot read previous_token", Detail: `file("old.txt"): old.txt does not exist.`, Address: "root/a"}},
		},
		"previous token breaking a token rule": {
			secrets: true,
			spec:    "universal_key \"a\" {\n  name           = \"a\"\n  token          = env(\"A\")\n  previous_token = env(\"B\")\n  previous_until = \"2027-01-01T00:00:00Z\"\n}\n",
			env:     fakeEnv{"A": tokA, "B": tokB[:35]},
			want: []diag{{Pos: "keys.hcl:4:20", Summary: "Invalid token", Address: "root/a",
				Detail: `The previous_token read from env("B") breaks a token rule: too short: 31 characters after the prefix, at least 32 are required.`}},
		},
		"revoked key without token": {
			spec: "universal_key \"a\" {\n  name    = \"a\"\n  revoked = true\n}\n",
			keys: []string{"root/a"},
		},
		"revoked is not a bool": {
			spec: "universal_key \"a\" {\n  name    = \"a\"\n  token   = env(\"A\")\n  revoked = \"yes\"\n}\n",
			want: []diag{{Pos: "keys.hcl:4:13", Summary: "Incorrect attribute value type", Detail: `Inappropriate value for attribute "revoked": a bool is required.`, Address: "root/a"}},
		},
	})
}

// A reviewed attribute whose value is not known when the spec is evaluated
// is an error: a key is never left out silently. No spec function returns
// an unknown any more (env() and file() are never evaluated), so the test
// adds one. After an earlier error (a variable without a value) an unknown
// is its consequence, and is not reported again.
func TestUnknownValue(t *testing.T) {
	eval := func(t *testing.T, src string) hcl.Diagnostics {
		t.Helper()
		opts := Options{}
		e := &evaluator{opts: &opts, limits: opts.limits()}
		e.fn = newFuncs(e.opts)
		e.base = newBaseContext(e.fn)
		e.base.Functions["unknown"] = function.New(&function.Spec{
			Type: function.StaticReturnType(cty.String),
			Impl: func([]cty.Value, cty.Type) (cty.Value, error) { return cty.UnknownVal(cty.String), nil },
		})
		require.True(t, e.parse([]Source{{Name: "keys.hcl", Dir: t.TempDir(), Bytes: []byte(src)}}), "%v", e.diags)
		e.refs = e.checkSecretCalls()
		e.base.Variables["var"] = e.evalVariables()
		e.evalLocals()
		keys := e.evalKeys(e.evalSettings())
		assert.Empty(t, keys, "a key with an unknown attribute is not valid")
		return e.dropRepeats(e.diags)
	}
	unknown := func(pos, name string) diag {
		return diag{Pos: pos, Summary: "Unknown value", Address: "root/a",
			Detail: "The value of " + name + " is not known when the spec is evaluated. Every attribute but a token must be known in a review, without secrets or a database."}
	}
	t.Run("name", func(t *testing.T) {
		ds := eval(t, "universal_key \"a\" {\n  name  = unknown()\n  token = env(\"A\")\n}\n")
		requireDiags(t, ds, unknown("keys.hcl:2:11", "name"))
	})
	t.Run("revoked", func(t *testing.T) {
		ds := eval(t, "universal_key \"a\" {\n  name    = \"a\"\n  token   = env(\"A\")\n  revoked = unknown() == \"x\"\n}\n")
		requireDiags(t, ds, unknown("keys.hcl:4:13", "revoked"))
	})
	t.Run("after an earlier error", func(t *testing.T) {
		ds := eval(t, "variable \"v\" {\n  type = string\n}\nuniversal_key \"a\" {\n  name  = unknown()\n  token = env(\"A\")\n}\n")
		require.Len(t, ds, 1, dumpDiags(diagsOf(ds)))
		assert.NotEqual(t, "Unknown value", ds[0].Summary)
	})
}

func TestParseAddress(t *testing.T) {
	for in, want := range map[string]string{
		"acme/site":  "",
		"root/a-b_c": "",
		"acme":       `invalid key address "acme": want tenant/slug`,
		"Acme/site":  `invalid key address "Acme/site": invalid tenant "Acme"`,
		"acme/":      `invalid key address "acme/": invalid slug ""`,
		"acme/a/b":   `invalid key address "acme/a/b": invalid slug "a/b"`,
	} {
		a, err := ParseAddress(in)
		if want == "" {
			assert.NoError(t, err, in)
			assert.Equal(t, in, a.String())
		} else {
			assert.EqualError(t, err, want, in)
		}
	}
}

func TestValidIdent(t *testing.T) {
	re := regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	for _, s := range []string{"", "a", "acme", "a-b_c", "0", "-a", "_a", "A", "aB", "a.b", "a b", "é",
		strings.Repeat("a", 63), strings.Repeat("a", 64), "a\n", "tenant-01", "x_"} {
		assert.Equal(t, re.MatchString(s), ValidIdent(s), "%q", s)
	}
}
