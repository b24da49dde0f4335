package spec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/spec/internal/fast"
)

// ruleCase is one spec and what evaluating it must report. A case with no
// wanted diagnostics must evaluate to a spec with exactly the keys listed.
type ruleCase struct {
	spec    string
	files   map[string]string // extra files next to keys.hcl
	env     fakeEnv
	secrets bool
	vars    []Var
	want    []diag
	keys    []string
}

func runRuleCases(t *testing.T, tests map[string]ruleCase) {
	t.Helper()
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{"keys.hcl": tc.spec}
			for n, c := range tc.files {
				files[n] = c
			}
			env := tc.env
			if env == nil {
				env = fakeEnv{"A": tokA, "B": tokB, "C": tokC, "D": tokD}
			}
			s, ds := loadFiles(t, files, Options{Paths: []string{"keys.hcl"}, Secrets: tc.secrets, LookupEnv: env.lookup, Vars: tc.vars})
			requireDiags(t, ds, tc.want...)
			for _, v := range env {
				assertNoValue(t, ds, v)
			}
			if len(tc.want) > 0 {
				assert.Nil(t, s, "a spec with errors must not be returned")
				return
			}
			require.NotNil(t, s)
			var got []string
			for _, k := range s.Keys {
				got = append(got, k.Address.String())
			}
			assert.Equal(t, tc.keys, got)
		})
	}
}

// Syntax errors, unknown blocks and attributes, missing required
// attributes and wrong types.
func TestSchemaRules(t *testing.T) {
	runRuleCases(t, map[string]ruleCase{
		"syntax error: unclosed block": {
			spec: "universal_key \"a\" {\n  name  = \"a\"\n  token = env(\"A\")\n",
			want: []diag{
				{Pos: "keys.hcl:1:19", Summary: "Unclosed configuration block", Detail: "There is no closing brace for this block before the end of the file."},
			},
		},
		"syntax error: missing value": {
			spec: "universal_key \"a\" {\n  name  =\n  token = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:10", Summary: "Invalid expression", Detail: "Expected the start of an expression, but found an invalid expression token."},
			},
		},
		"syntax error: missing equals": {
			spec: "universal_key \"a\" {\n  name \"a\"\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:11", Summary: "Invalid block definition", Detail: "A block definition must have block content delimited by \"{\" and \"}\", starting on the same line as the block header."},
			},
		},
		"valid syntax": {
			spec: "universal_key \"a\" {\n  name  = \"a\"\n  token = env(\"A\")\n}\n",
			keys: []string{"root/a"},
		},
		"unknown block": {
			spec: "universal_keys \"a\" {\n  name = \"a\"\n}\n",
			want: []diag{
				{Pos: "keys.hcl:1:1", Summary: "Unsupported block type", Detail: `Blocks of type "universal_keys" are not expected here. Did you mean "universal_key"?`},
			},
		},
		"unknown block inside a key": {
			spec: "universal_key \"a\" {\n  name  = \"a\"\n  token = env(\"A\")\n  permission {}\n}\n",
			want: []diag{
				{Pos: "keys.hcl:4:3", Summary: "Unsupported block type", Detail: `Blocks of type "permission" are not expected here.`, Address: "universal_key.a"},
			},
		},
		"unknown attribute": {
			spec: "universal_key \"a\" {\n  name  = \"a\"\n  token = env(\"A\")\n  tokne = env(\"B\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:4:3", Summary: "Unsupported argument", Detail: `An argument named "tokne" is not expected here.`, Address: "universal_key.a"},
				// tokne is no token: its env() is refused, inside the key block.
				{Pos: "keys.hcl:4:11", Summary: "Secret read outside a token", Detail: outsideDetail("env"), Address: "universal_key.a"},
			},
		},
		"unknown settings attribute": {
			spec: "settings {\n  prefix = \"wat_\"\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:3", Summary: "Unsupported argument", Detail: `An argument named "prefix" is not expected here.`},
			},
		},
		"missing name": {
			spec: "universal_key \"a\" {\n  token = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:1:19", Summary: "Missing required argument", Detail: `The argument "name" is required, but no definition was found.`, Address: "universal_key.a"},
			},
		},
		"missing token": {
			spec: "tenant_key \"a\" {\n  tenant = \"acme\"\n  name   = \"a\"\n}\n",
			want: []diag{
				{Pos: "keys.hcl:1:1", Summary: "Missing token", Detail: `A key needs a token argument read with env() or file()`, Address: "acme/a"},
			},
		},
		"missing label": {
			spec: "universal_key {\n  name  = \"a\"\n  token = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:1:15", Summary: "Missing slug for universal_key", Detail: `All universal_key blocks must have 1 labels (slug).`},
			},
		},
		"extra label": {
			// The block is not evaluated: its token is no error of its own.
			spec: "universal_key \"a\" \"b\" {\n  name  = \"a\"\n  token = env(\"A\")\n  previous_token = file(\"old.txt\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:1:19", Summary: "Extraneous label for universal_key", Detail: `Only 1 labels (slug) are expected for universal_key blocks.`},
			},
		},
		"name is not a string": {
			spec: "universal_key \"a\" {\n  name  = [\"a\"]\n  token = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:11", Summary: "Incorrect attribute value type", Detail: `Inappropriate value for attribute "name": string required, but have tuple.`, Address: "root/a"},
			},
		},
		"name is empty": {
			spec: "universal_key \"a\" {\n  name  = \"\"\n  token = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:11", Summary: "Invalid name", Detail: `Name must not be empty.`, Address: "root/a"},
			},
		},
		"name is null": {
			spec: "universal_key \"a\" {\n  name  = null\n  token = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:11", Summary: "Invalid value", Detail: `name must not be null.`, Address: "root/a"},
			},
		},
		"name with a control character": {
			spec: "universal_key \"a\" {\n  name  = \"a\\u0007b\"\n  token = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:11", Summary: "Invalid name", Detail: `Name contains the control character U+0007.`, Address: "root/a"},
			},
		},
		"name with a bidirectional override": {
			spec: "universal_key \"a\" {\n  name  = \"admin\\u202eb\"\n  token = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:11", Summary: "Invalid name", Detail: `Name contains the invisible bidirectional control character U+202E.`, Address: "root/a"},
			},
		},
		"permissions is a string": {
			spec: "universal_key \"a\" {\n  name        = \"a\"\n  token       = env(\"A\")\n  permissions = \"cms.read\"\n}\n",
			want: []diag{
				{Pos: "keys.hcl:4:17", Summary: "Invalid permissions", Detail: `permissions must be a list of permission names or objects with a name, and this is a string.`, Address: "root/a"},
			},
		},
		"permission is a number": {
			spec: "universal_key \"a\" {\n  name        = \"a\"\n  token       = env(\"A\")\n  permissions = [1]\n}\n",
			want: []diag{
				{Pos: "keys.hcl:4:17", Summary: "Invalid permissions", Detail: `Permission 1 is a number; each permission is a name ("posts:read") or an object with a name.`, Address: "root/a"},
			},
		},
		"metadata values must be strings": {
			spec: "universal_key \"a\" {\n  name     = \"a\"\n  token    = env(\"A\")\n  metadata = { team = [\"web\"] }\n}\n",
			want: []diag{
				{Pos: "keys.hcl:4:14", Summary: "Incorrect attribute value type", Detail: `Inappropriate value for attribute "metadata": element "team": string required, but have tuple.`, Address: "root/a"},
			},
		},
		"metadata converts numbers and bools": {
			spec: "universal_key \"a\" {\n  name     = \"a\"\n  token    = env(\"A\")\n  metadata = { tier = 1, public = true }\n}\n",
			keys: []string{"root/a"},
		},
		"description is an object": {
			spec: "universal_key \"a\" {\n  name        = \"a\"\n  token       = env(\"A\")\n  description = { a = 1 }\n}\n",
			want: []diag{
				{Pos: "keys.hcl:4:17", Summary: "Incorrect attribute value type", Detail: `Inappropriate value for attribute "description": string required, but have object.`, Address: "root/a"},
			},
		},
		"token is a list": {
			spec: "universal_key \"a\" {\n  name  = \"a\"\n  token = [env(\"A\")]\n}\n",
			want: []diag{
				{Pos: "keys.hcl:3:11", Summary: "Invalid token reference", Detail: refDetail, Address: "root/a"},
			},
		},
		"token is a number": {
			spec: "universal_key \"a\" {\n  name  = \"a\"\n  token = 42\n}\n",
			want: []diag{
				{Pos: "keys.hcl:3:11", Summary: "Literal token", Detail: literalDetail, Address: "root/a"},
			},
		},
		"literal token of a for_each block": {
			// Reported once for the block, not once per instance.
			spec: "tenant_key \"a\" {\n  for_each = toset([\"acme\", \"globex\"])\n  tenant   = each.key\n  name     = \"a\"\n  token    = \"" + tokA + "\"\n}\n",
			want: []diag{
				{Pos: "keys.hcl:5:14", Summary: "Literal token", Detail: literalDetail, Address: "tenant_key.a"},
			},
		},
		"computed token of a for_each block": {
			spec: "tenant_key \"a\" {\n  for_each = toset([\"acme\", \"globex\"])\n  tenant   = each.key\n  name     = \"a\"\n  token    = upper(env(each.key))\n}\n",
			want: []diag{
				{Pos: "keys.hcl:5:14", Summary: "Invalid token reference", Detail: refDetail, Address: "tenant_key.a"},
			},
		},
		"token name is a list": {
			spec: "universal_key \"a\" {\n  name  = \"a\"\n  token = env([\"A\"])\n}\n",
			want: []diag{
				{Pos: "keys.hcl:3:15", Summary: "Invalid token reference", Detail: "The variable name of the token reference must be a string, and this is a tuple.", Address: "root/a"},
			},
		},
		"token path is null": {
			spec: "universal_key \"a\" {\n  name  = \"a\"\n  token = file(null)\n}\n",
			want: []diag{
				{Pos: "keys.hcl:3:16", Summary: "Invalid token reference", Detail: "The file path of the token reference is null.", Address: "root/a"},
			},
		},
		"settings prune is not a bool": {
			spec: "settings {\n  prune = \"maybe\"\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:11", Summary: "Incorrect attribute value type", Detail: `Inappropriate value for attribute "prune": want true (disable the owned keys the spec no longer declares), false, or "revoke" (revoke them).`},
			},
		},
		"duplicate settings": {
			spec: "settings {\n}\nsettings {\n}\n",
			want: []diag{
				{Pos: "keys.hcl:3:1", Summary: "Duplicate settings block", Detail: `Only one settings block is allowed; the first is at keys.hcl:1:1.`},
			},
		},
		"invalid token_prefix": {
			spec: "settings {\n  token_prefix = \"wat \"\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:18", Summary: "Invalid setting", Detail: `token_prefix may contain only letters, digits, '_' and '-'.`},
			},
		},
		"invalid root_tenant": {
			spec: "settings {\n  root_tenant = \"Root\"\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:17", Summary: "Invalid setting", Detail: `root_tenant must be a valid tenant: lowercase letters`},
			},
		},
		"invalid owner": {
			spec: "settings {\n  owner = \"\"\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:11", Summary: "Invalid setting", Detail: `owner must be lowercase letters`},
			},
		},
		"settings from env are refused": {
			spec: "settings {\n  owner = env(\"OWNER\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:11", Summary: "Secret read outside a token", Detail: outsideDetail("env")},
			},
		},
		"name from env is refused": {
			spec: "universal_key \"a\" {\n  name  = env(\"A\")\n  token = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:11", Summary: "Secret read outside a token", Detail: outsideDetail("env"), Address: "universal_key.a"},
			},
		},
		"valid settings": {
			spec: "settings {\n  token_prefix = \"acme_\"\n  owner = \"platform\"\n  root_tenant = \"system\"\n  prune = false\n}\nuniversal_key \"a\" {\n  name  = \"a\"\n  token = env(\"A\")\n}\n",
			keys: []string{"system/a"},
		},
	})
}

// Slugs, tenants, universal and tenant keys.
func TestIdentityRules(t *testing.T) {
	const rule = "use lowercase letters, digits, '-' and '_', starting with a letter or digit, at most 63 characters."
	long := strings.Repeat("a", 64)
	runRuleCases(t, map[string]ruleCase{
		"invalid slug label": {
			spec: "universal_key \"Front end\" {\n  name  = \"a\"\n  token = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:1:15", Summary: "Invalid slug", Detail: `The slug "Front end" is not valid: ` + rule, Address: "universal_key.Front end"},
			},
		},
		"slug starting with a dash": {
			spec: "universal_key \"-a\" {\n  name  = \"a\"\n  token = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:1:15", Summary: "Invalid slug", Detail: `The slug "-a" is not valid`, Address: "universal_key.-a"},
			},
		},
		"slug of 64 characters": {
			spec: "universal_key \"" + long + "\" {\n  name  = \"a\"\n  token = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:1:15", Summary: "Invalid slug", Detail: `The slug "` + long + `" is not valid`, Address: "universal_key." + long},
			},
		},
		"valid slugs": {
			spec: "universal_key \"" + long[1:] + "\" {\n  name  = \"a\"\n  token = env(\"A\")\n}\n" +
				"universal_key \"0-a_b\" {\n  name  = \"a\"\n  token = env(\"B\")\n}\n",
			keys: []string{"root/0-a_b", "root/" + long[1:]},
		},
		"invalid tenant": {
			spec: "tenant_key \"a\" {\n  tenant = \"ACME\"\n  name   = \"a\"\n  token  = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:12", Summary: "Invalid tenant", Detail: `Tenant "ACME" is not valid: ` + rule, Address: "tenant_key.a"},
			},
		},
		"tenant is a number": {
			spec: "tenant_key \"a\" {\n  tenant = 42\n  name   = \"a\"\n  token  = env(\"A\")\n}\n",
			keys: []string{"42/a"},
		},
		"tenant is a list": {
			spec: "tenant_key \"a\" {\n  tenant = [\"acme\"]\n  name   = \"a\"\n  token  = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:12", Summary: "Incorrect attribute value type", Detail: `Inappropriate value for attribute "tenant": string required, but have tuple.`, Address: "tenant_key.a"},
			},
		},
		"tenant from env is refused": {
			spec: "tenant_key \"a\" {\n  tenant = env(\"TENANT\")\n  name   = \"a\"\n  token  = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:12", Summary: "Secret read outside a token", Detail: outsideDetail("env"), Address: "tenant_key.a"},
			},
		},
		"invalid tenant from for_each": {
			spec: "tenant_key \"a\" {\n  for_each = toset([\"acme\", \"Globex Inc\"])\n  tenant   = each.key\n  name     = \"a\"\n  token    = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:3:14", Summary: "Invalid tenant", Detail: `Tenant "Globex Inc" is not valid: ` + rule, Address: `tenant_key.a["Globex Inc"]`},
			},
		},
		"invalid slug from for_each": {
			spec: "tenant_key \"a\" {\n  for_each = { web = \"Web site\", app = \"app\" }\n  tenant   = \"acme\"\n  slug     = each.value\n  name     = \"a\"\n  token    = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:4:14", Summary: "Invalid slug", Detail: `Slug "Web site" is not valid: ` + rule, Address: `tenant_key.a["web"]`},
			},
		},
		"valid slug and tenant from for_each": {
			spec: "tenant_key \"a\" {\n  for_each = { acme = \"site\", globex = \"app\" }\n  tenant   = each.key\n  slug     = \"${each.value}-key\"\n  name     = \"a\"\n  token    = env(\"A\")\n}\n",
			keys: []string{"acme/site-key", "globex/app-key"},
		},
		"tenant on a universal key": {
			spec: "universal_key \"a\" {\n  tenant = \"acme\"\n  name   = \"a\"\n  token  = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:3", Summary: "Unexpected tenant", Detail: `A universal key lives in the root tenant ("root") and reaches every tenant; it has no tenant argument. Use tenant_key for a key scoped to one tenant.`, Address: "universal_key.a"},
			},
		},
		"tenant key without tenant": {
			spec: "tenant_key \"a\" {\n  name  = \"a\"\n  token = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:1:1", Summary: "Missing tenant", Detail: `A tenant_key needs a tenant argument naming the tenant it is scoped to.`, Address: "tenant_key.a"},
			},
		},
		"universal key in a custom root tenant": {
			spec: "settings {\n  root_tenant = \"system\"\n}\nuniversal_key \"a\" {\n  name  = \"a\"\n  token = env(\"A\")\n}\ntenant_key \"a\" {\n  tenant = \"root\"\n  name   = \"a\"\n  token  = env(\"B\")\n}\n",
			keys: []string{"root/a", "system/a"},
		},
		"slug without for_each": {
			spec: "tenant_key \"a\" {\n  tenant = \"acme\"\n  slug   = \"b\"\n  name   = \"a\"\n  token  = env(\"A\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:3:3", Summary: "Unexpected slug", Detail: `slug is only used with for_each, to derive a slug per instance; without for_each the block label "a" is the slug.`, Address: "tenant_key.a"},
			},
		},
	})
}

// Duplicate identities say where the first one was declared.
func TestDuplicateRules(t *testing.T) {
	runRuleCases(t, map[string]ruleCase{
		"two blocks in one file": {
			spec: "tenant_key \"site\" {\n  tenant = \"acme\"\n  name   = \"a\"\n  token  = env(\"A\")\n}\n\ntenant_key \"site\" {\n  tenant = \"acme\"\n  name   = \"b\"\n  token  = env(\"B\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:7:1", Summary: "Duplicate key", Detail: `The key acme/site is declared twice: by tenant_key.site here, and first at keys.hcl:1:1. A key's identity is its tenant and slug.`, Address: "acme/site"},
			},
		},
		"universal key and tenant key in the root tenant": {
			spec: "universal_key \"site\" {\n  name  = \"a\"\n  token = env(\"A\")\n}\ntenant_key \"site\" {\n  tenant = \"root\"\n  name   = \"b\"\n  token  = env(\"B\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:5:1", Summary: "Duplicate key", Detail: `The key root/site is declared twice: by tenant_key.site here, and first at keys.hcl:1:1.`, Address: "root/site"},
			},
		},
		"for_each instances with the same slug": {
			spec: "tenant_key \"site\" {\n  for_each = { a = \"web\", b = \"web\", c = \"app\" }\n  tenant   = \"acme\"\n  slug     = each.value\n  name     = each.key\n  token    = env(upper(each.key))\n}\n",
			want: []diag{
				{Pos: "keys.hcl:1:1", Summary: "Duplicate key", Detail: `The key acme/web is declared twice: by tenant_key.site["b"] here, and first at keys.hcl:1:1 (instance "a").`, Address: "acme/web"},
			},
		},
		"for_each instance and a plain block": {
			spec: "tenant_key \"site\" {\n  for_each = toset([\"acme\", \"globex\"])\n  tenant   = each.key\n  name     = each.key\n  token    = env(\"A\")\n}\ntenant_key \"site\" {\n  tenant = \"globex\"\n  name   = \"b\"\n  token  = env(\"B\")\n}\n",
			want: []diag{
				{Pos: "keys.hcl:7:1", Summary: "Duplicate key", Detail: `The key globex/site is declared twice: by tenant_key.site here, and first at keys.hcl:1:1 (instance "globex").`, Address: "globex/site"},
			},
		},
		"same slug in different tenants": {
			spec: "tenant_key \"site\" {\n  tenant = \"acme\"\n  name   = \"a\"\n  token  = env(\"A\")\n}\ntenant_key \"site\" {\n  tenant = \"globex\"\n  name   = \"b\"\n  token  = env(\"B\")\n}\nuniversal_key \"site\" {\n  name  = \"c\"\n  token = env(\"C\")\n}\n",
			keys: []string{"acme/site", "globex/site", "root/site"},
		},
	})
}

func TestDuplicateAcrossFiles(t *testing.T) {
	files := map[string]string{
		"a.hcl": "tenant_key \"site\" {\n  tenant = \"acme\"\n  name   = \"a\"\n  token  = env(\"A\")\n}\n",
		"b.hcl": "\n\ntenant_key \"site\" {\n  tenant = \"acme\"\n  name   = \"b\"\n  token  = env(\"B\")\n}\n",
	}
	_, ds := loadFiles(t, files, Options{})
	requireDiags(t, ds, diag{Pos: "b.hcl:3:1", Summary: "Duplicate key",
		Detail: "The key acme/site is declared twice: by tenant_key.site here, and first at a.hcl:1:1.", Address: "acme/site"})

	files["b.hcl"] = strings.Replace(files["b.hcl"], `"acme"`, `"globex"`, 1)
	s, ds := loadFiles(t, files, Options{})
	requireDiags(t, ds)
	require.NotNil(t, s)
	assert.Equal(t, []string{"a.hcl", "b.hcl"}, s.Files)
	assert.Len(t, s.Keys, 2)
}

// One run reports every mistake, in every file.
func TestAllErrorsInOneRun(t *testing.T) {
	files := map[string]string{
		"a.hcl": `settings {
  allowed_permissions = ["cms.*"]
}

universal_key "Front" {
  name  = "front"
  token = env("A")
}

tenant_key "site" {
  name  = "site"
  token = "wat_Q3xT9mLpV2rZ8kW4nB7yH1cJ5fD6gS0a"
}

tenant_key "app" {
  tenant      = "acme"
  name        = "app"
  token       = env("B")
  expires     = "tomorrow"
  permissions = ["wb.page", { rwd = "r" }]
}
`,
		"b.hcl": `tenant_key "app" {
  tenant      = "acme"
  name        = "app again"
  token       = env("C")
  permissions = ["billing.read"]
  colour      = "blue"
}

tenant_key "db" {
  tenant = "acme"
  name   = "db"
  token  = env("D")
}

tenant_key "db" {
  tenant = "acme"
  name   = "db"
  token  = env("D2")
}
`,
	}
	_, ds := loadFiles(t, files, Options{})
	requireDiags(t, ds,
		diag{Pos: "a.hcl:5:15", Summary: "Invalid slug", Detail: `The slug "Front" is not valid`, Address: "universal_key.Front"},
		diag{Pos: "a.hcl:10:1", Summary: "Missing tenant", Detail: "A tenant_key needs a tenant argument", Address: "tenant_key.site"},
		diag{Pos: "a.hcl:12:11", Summary: "Literal token", Detail: "Never commit a token", Address: "tenant_key.site"},
		diag{Pos: "a.hcl:19:17", Summary: "Invalid expires", Detail: `Expires "tomorrow" is not an RFC 3339 time`, Address: "acme/app"},
		diag{Pos: "a.hcl:20:17", Summary: "Invalid permissions", Detail: "Permission 2 has no name", Address: "acme/app"},
		diag{Pos: "a.hcl:20:17", Summary: "Permission not allowed", Detail: `The permission "wb.page" matches no entry of settings.allowed_permissions ("cms.*").`, Address: "acme/app"},
		diag{Pos: "b.hcl:1:1", Summary: "Duplicate key", Detail: "The key acme/app is declared twice: by tenant_key.app here, and first at a.hcl:15:1.", Address: "acme/app"},
		diag{Pos: "b.hcl:5:17", Summary: "Permission not allowed", Detail: `The permission "billing.read" matches no entry of settings.allowed_permissions ("cms.*").`, Address: "acme/app"},
		diag{Pos: "b.hcl:6:3", Summary: "Unsupported argument", Detail: `An argument named "colour" is not expected here.`, Address: "tenant_key.app"},
		diag{Pos: "b.hcl:15:1", Summary: "Duplicate key", Detail: "first at b.hcl:9:1", Address: "acme/db"},
	)
}

// Large specs are evaluated in parallel (fast.ParallelMin instances and more);
// the keys and the diagnostics come out in the same order as serially.
func TestParallelEvaluation(t *testing.T) {
	const n = fast.ParallelMin + 100
	var tenants, secrets strings.Builder
	secrets.WriteString("{")
	for i := range n {
		if i > 0 {
			tenants.WriteString(", ")
		}
		fmt.Fprintf(&tenants, "%q", fmt.Sprintf("t%04d", i))
		if i%100 != 7 { // every hundredth tenant has no token
			if i > 0 {
				secrets.WriteString(", ")
			}
			fmt.Fprintf(&secrets, "%q: %q", fmt.Sprintf("t%04d", i), fmt.Sprintf("wat_%04dQ3xT9mLpV2rZ8kW4nB7yH1cJ5fD6gS0a", i))
		}
	}
	secrets.WriteString("}")
	spec := "tenant_key \"site\" {\n  for_each = toset([" + tenants.String() + "])\n  tenant   = each.key\n  name     = \"Site ${each.key}\"\n  token    = jsondecode(file(\"secrets.json\"))[each.key]\n}\n" +
		"tenant_key \"dup\" {\n  for_each = toset([" + tenants.String() + "])\n  tenant   = \"shared\"\n  name     = \"dup\"\n  slug     = substr(each.key, 0, 4)\n  token    = env(\"A\")\n}\n"
	files := map[string]string{"keys.hcl": spec, "secrets.json": secrets.String()}

	var first []diag
	for run := range 3 {
		_, ds := loadFiles(t, files, Options{Paths: []string{"keys.hcl"}, Secrets: true, LookupEnv: fakeEnv{"A": tokA}.lookup})
		got := diagsOf(ds)
		var missing, dups, twice int
		for _, d := range got {
			switch d.Summary {
			case "Cannot read token":
				tenant := strings.TrimSuffix(d.Address, "/site")
				assert.Equal(t, fmt.Sprintf(`jsondecode(file("secrets.json"))[%q]: secrets.json has no entry %q.`, tenant, tenant), d.Detail)
				assert.Equal(t, "keys.hcl:5:14", d.Pos)
				missing++
			case "Duplicate key":
				dups++
			case "Token used twice":
				twice++
			default:
				t.Errorf("unexpected diagnostic %+v", d)
			}
		}
		assert.Equal(t, n/100+1, missing, "tenants without a token")
		// dup derives the slugs t000 … t061 from the tenants t0000 …
		// t0611: every tenth instance declares a new key, the others
		// duplicate it; the new keys all read env("A").
		distinct := (n + 9) / 10
		assert.Equal(t, n-distinct, dups)
		assert.Equal(t, distinct-1, twice)
		if run == 0 {
			first = got
		} else {
			require.Equal(t, first, got, "diagnostics depend on scheduling")
		}
	}

	// An error of a file that every instance reads is reported once, for
	// the first instance in key order, as serially.
	missingFile := strings.Replace(strings.SplitAfter(spec, "}\n")[0], "secrets.json", "missing.json", 1)
	for range 5 {
		_, ds := loadFiles(t, map[string]string{"keys.hcl": missingFile}, Options{Paths: []string{"keys.hcl"}, Secrets: true})
		requireDiags(t, ds, diag{Pos: "keys.hcl:5:14", Summary: "Cannot read token", Address: "t0000/site",
			Detail: `jsondecode(file("missing.json"))["t0000"]: missing.json does not exist.`})
	}

	files["keys.hcl"] = strings.SplitAfter(spec, "}\n")[0]
	s, ds := loadFiles(t, files, Options{Paths: []string{"keys.hcl"}})
	requireDiags(t, ds)
	require.Len(t, s.Keys, n)
	for i, k := range s.Keys {
		assert.Equal(t, fmt.Sprintf("t%04d/site", i), k.Address.String())
	}
}
