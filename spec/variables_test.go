package spec

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// varSpec declares a list variable "tenants", a string "team" and a
// number "tier", and one tenant key per tenant whose name shows team and tier.
const varSpec = `variable "tenants" {
  type    = list(string)
  default = ["acme"]
}

variable "team" {
  type        = string
  default     = "web"
  description = "Owning team"
}

variable "tier" {
  type    = number
  default = 1
}

tenant_key "site" {
  for_each = toset(var.tenants)
  tenant   = each.key
  name     = "${var.team}-${var.tier}"
  token    = env("TOKEN_${upper(each.key)}")
}
`

func TestVariables(t *testing.T) {
	tests := map[string]struct {
		spec     string
		files    map[string]string
		vars     []Var
		varFiles []string
		env      fakeEnv
		keys     []string // addresses
		name     string   // name of every key
		want     []diag
	}{
		"defaults": {keys: []string{"acme/site"}, name: "web-1"},
		"-var": {
			vars: []Var{{"tenants", `["globex", "initech"]`}, {"team", "api"}, {"tier", "2"}},
			keys: []string{"globex/site", "initech/site"}, name: "api-2",
		},
		"later -var wins": {
			vars: []Var{{"team", "api"}, {"team", "ops"}},
			keys: []string{"acme/site"}, name: "ops-1",
		},
		"-var-file HCL": {
			files:    map[string]string{"prod.hcl": "tenants = [\"globex\"]\nteam = \"api\"\ntier = 3\n"},
			varFiles: []string{"prod.hcl"},
			keys:     []string{"globex/site"}, name: "api-3",
		},
		"-var-file JSON": {
			files:    map[string]string{"prod.json": `{"tenants": ["globex", "umbrella"], "tier": "4"}`},
			varFiles: []string{"prod.json"},
			keys:     []string{"globex/site", "umbrella/site"}, name: "web-4",
		},
		"KEYPROV_VAR_": {
			env:  fakeEnv{"KEYPROV_VAR_tenants": `["hooli"]`, "KEYPROV_VAR_team": "data"},
			keys: []string{"hooli/site"}, name: "data-1",
		},
		"precedence: default < KEYPROV_VAR_ < -var-file in order < -var": {
			env: fakeEnv{"KEYPROV_VAR_tenants": `["env"]`, "KEYPROV_VAR_team": "env", "KEYPROV_VAR_tier": "5"},
			files: map[string]string{
				"a.hcl.vars": "team = \"file-a\"\ntier = 6\n",
				"b.json":     `{"team": "file-b"}`,
			},
			varFiles: []string{"a.hcl.vars", "b.json"},
			vars:     []Var{{"tier", "7"}},
			keys:     []string{"env/site"}, name: "file-b-7",
		},
		"required variable without a value": {
			spec: "variable \"tenants\" {\n  type = list(string)\n}\n",
			want: []diag{{Pos: "keys.hcl:1:1", Summary: "No value for required variable",
				Detail: `The variable "tenants" has no default. Set it with -var tenants=VALUE, in a -var-file, or with the environment variable KEYPROV_VAR_tenants.`}},
		},
		"required variable set by -var": {
			spec: "variable \"tenants\" {\n  type = list(string)\n}\n",
			vars: []Var{{"tenants", `["acme"]`}},
		},
		"-var that does not convert": {
			vars: []Var{{"tier", "high"}},
			want: []diag{{Summary: "Invalid value for variable",
				Detail: `The value for variable "tier" (from -var tier) is not a valid number: a number is required.`}},
		},
		"KEYPROV_VAR_ that does not convert": {
			env: fakeEnv{"KEYPROV_VAR_tier": "high"},
			want: []diag{{Summary: "Invalid value for variable",
				Detail: `The value for variable "tier" (from KEYPROV_VAR_tier) is not a valid number: a number is required.`}},
		},
		"-var-file value that does not convert": {
			files:    map[string]string{"prod.hcl": "\ntenants = \"acme\"\n"},
			varFiles: []string{"prod.hcl"},
			want: []diag{{Pos: "prod.hcl:2:11", Summary: "Invalid value for variable",
				Detail: `The value for variable "tenants" is not a valid list(string): list of string required, but have string.`}},
		},
		"-var list that is not HCL": {
			vars: []Var{{"tenants", `["acme"`}},
			want: []diag{{Pos: "-var tenants:1:1", Summary: "Unterminated tuple constructor expression"}},
		},
		"undeclared -var": {
			vars: []Var{{"tennants", `["acme"]`}},
			want: []diag{{Summary: "Undeclared variable", Detail: `A value was given with -var for "tennants", but no variable of that name is declared in the spec.`}},
		},
		"undeclared variable in a -var-file": {
			files:    map[string]string{"prod.hcl": "team = \"api\"\nteem = \"x\"\n"},
			varFiles: []string{"prod.hcl"},
			want: []diag{{Pos: "prod.hcl:2:1", Summary: "Undeclared variable",
				Detail: `The variable file sets "teem", but no variable of that name is declared in the spec.`}},
		},
		"missing -var-file": {
			varFiles: []string{"prod.hcl"},
			want:     []diag{{Summary: "Cannot read variable file", Detail: "prod.hcl does not exist."}},
		},
		"-var-file with a syntax error": {
			files:    map[string]string{"prod.json": `{"team": }`},
			varFiles: []string{"prod.json"},
			want:     []diag{{Pos: "prod.json:1:10", Summary: "Missing JSON value", Detail: "A JSON value must start with a brace, a bracket, a number, a string, or a keyword."}},
		},
		"default that does not convert": {
			spec: "variable \"tier\" {\n  type    = number\n  default = \"high\"\n}\n",
			want: []diag{{Pos: "keys.hcl:3:13", Summary: "Invalid value for variable",
				Detail: `The value for variable "tier" is not a valid number: a number is required.`}},
		},
		"default reading env()": {
			spec: "variable \"team\" {\n  default = env(\"TEAM\")\n}\n",
			// HCL's own "Function calls not allowed" is dropped as a repeat.
			want: []diag{{Pos: "keys.hcl:2:13", Summary: "Secret read outside a token", Detail: outsideDetail("env")}},
		},
		"invalid type": {
			spec: "variable \"team\" {\n  type    = strin\n  default = \"a\"\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:13", Summary: "Invalid type specification", Detail: `The keyword "strin" is not a valid type specification.`},
			},
		},
		"duplicate variable": {
			spec: "variable \"team\" {\n  default = \"a\"\n}\nvariable \"team\" {\n  default = \"b\"\n}\n",
			want: []diag{{Pos: "keys.hcl:4:1", Summary: "Duplicate variable", Detail: `The variable "team" is already declared at keys.hcl:1:1.`}},
		},
		"unknown variable attribute": {
			spec: "variable \"team\" {\n  default   = \"a\"\n  sensitive = true\n}\n",
			want: []diag{{Pos: "keys.hcl:3:3", Summary: "Unsupported argument", Detail: `An argument named "sensitive" is not expected here.`}},
		},
		"reference to an undeclared variable": {
			spec: "universal_key \"a\" {\n  name  = var.nope\n  token = env(\"A\")\n}\n",
			want: []diag{{Pos: "keys.hcl:2:14", Summary: "Unsupported attribute", Detail: `This object does not have an attribute named "nope".`, Address: "root/a"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := tc.spec
			if spec == "" {
				spec = varSpec
			}
			files := map[string]string{"keys.hcl": spec}
			for n, c := range tc.files {
				files[n] = c
			}
			env := fakeEnv{"TOKEN_ACME": tokA}
			for k, v := range tc.env {
				env[k] = v
			}
			s, ds := loadFiles(t, files, Options{Paths: []string{"keys.hcl"}, Vars: tc.vars, VarFiles: tc.varFiles, LookupEnv: env.lookup})
			requireDiags(t, ds, tc.want...)
			if tc.want != nil {
				assert.Nil(t, s)
				return
			}
			require.NotNil(t, s)
			var got []string
			for _, k := range s.Keys {
				got = append(got, k.Address.String())
				assert.Equal(t, tc.name, k.Name)
			}
			assert.Equal(t, tc.keys, got)
		})
	}
}

func TestLocals(t *testing.T) {
	runRuleCases(t, map[string]ruleCase{
		"locals refer to variables and other locals, in any order": {
			spec: "locals {\n  name = \"${local.team} key\"\n}\nvariable \"team\" {\n  default = \"web\"\n}\nlocals {\n  team = upper(var.team)\n}\nuniversal_key \"a\" {\n  name  = local.name\n  token = env(\"A\")\n}\n",
			keys: []string{"root/a"},
		},
		"cycle": {
			spec: "locals {\n  a = local.b\n  b = local.c\n  c = \"${local.a}!\"\n  d = \"fine\"\n}\nuniversal_key \"a\" {\n  name  = local.d\n  token = env(\"A\")\n}\n",
			want: []diag{{Pos: "keys.hcl:2:3", Summary: "Cycle in local values", Detail: "The local values refer to each other in a cycle: local.a → local.b → local.c → local.a. Break the cycle."}},
		},
		"self reference": {
			spec: "locals {\n  a = [local.a]\n}\n",
			want: []diag{{Pos: "keys.hcl:2:3", Summary: "Cycle in local values", Detail: "local.a → local.a."}},
		},
		"a key using a local in a cycle reports the cycle only": {
			spec: "locals {\n  a = local.b\n  b = local.a\n}\nuniversal_key \"a\" {\n  name  = local.a\n  token = env(local.a)\n}\n",
			want: []diag{{Pos: "keys.hcl:2:3", Summary: "Cycle in local values", Detail: "local.a → local.b → local.a."}},
		},
		"a token that is a local in a cycle is a literal": {
			// A token attribute that reads no env() or file() is refused
			// as written, whatever its value.
			spec: "locals {\n  a = local.b\n  b = local.a\n}\nuniversal_key \"a\" {\n  name  = \"a\"\n  token = local.a\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:3", Summary: "Cycle in local values", Detail: "local.a → local.b → local.a."},
				{Pos: "keys.hcl:7:11", Summary: "Literal token", Detail: literalDetail, Address: "root/a"},
			},
		},
		"duplicate local": {
			spec: "locals {\n  a = 1\n}\nlocals {\n  a = 2\n}\n",
			want: []diag{{Pos: "keys.hcl:5:3", Summary: "Duplicate local value", Detail: `The local value "a" is already defined at keys.hcl:2:3.`}},
		},
		"undefined local": {
			spec: "universal_key \"a\" {\n  name  = local.nope\n  token = env(\"A\")\n}\n",
			want: []diag{{Pos: "keys.hcl:2:16", Summary: "Unsupported attribute", Detail: `This object does not have an attribute named "nope".`, Address: "root/a"}},
		},
		"local with an error": {
			spec: "locals {\n  a = upper(1, 2)\n}\n",
			want: []diag{{Pos: "keys.hcl:2:16", Summary: "Too many function arguments", Detail: `Function "upper" expects only 1 argument(s).`}},
		},
		"blocks are not allowed in locals": {
			spec: "locals {\n  a {\n  }\n}\n",
			want: []diag{{Pos: "keys.hcl:2:3", Summary: "Unexpected \"a\" block", Detail: "Blocks are not allowed here."}},
		},
	})
}

func TestForEach(t *testing.T) {
	runRuleCases(t, map[string]ruleCase{
		"set": {
			spec: "tenant_key \"site\" {\n  for_each = toset([\"acme\", \"globex\", \"acme\"])\n  tenant   = each.key\n  name     = each.value\n  token    = env(upper(each.key))\n}\n",
			env:  fakeEnv{"ACME": tokA, "GLOBEX": tokB},
			keys: []string{"acme/site", "globex/site"},
		},
		"set of numbers": {
			spec: "tenant_key \"site\" {\n  for_each = toset([1, 2])\n  tenant   = \"t${each.key}\"\n  name     = each.value\n  token    = env(\"T${each.key}\")\n}\n",
			env:  fakeEnv{"T1": tokA, "T2": tokB},
			keys: []string{"t1/site", "t2/site"},
		},
		"map of objects": {
			spec: "tenant_key \"site\" {\n  for_each = {\n    acme   = { name = \"Acme\", perms = [\"cms.read\"] }\n    globex = { name = \"Globex\", perms = [] }\n  }\n  tenant      = each.key\n  name        = each.value.name\n  permissions = each.value.perms\n  token       = env(upper(each.key))\n}\n",
			env:  fakeEnv{"ACME": tokA, "GLOBEX": tokB},
			keys: []string{"acme/site", "globex/site"},
		},
		"map from a variable": {
			spec: "variable \"sites\" {\n  type = map(string)\n  default = { web = \"acme\", app = \"globex\" }\n}\ntenant_key \"k\" {\n  for_each = var.sites\n  slug     = each.key\n  tenant   = each.value\n  name     = each.key\n  token    = env(upper(each.key))\n}\n",
			env:  fakeEnv{"WEB": tokA, "APP": tokB},
			keys: []string{"acme/web", "globex/app"},
		},
		"empty set": {
			spec: "tenant_key \"site\" {\n  for_each = toset([])\n  tenant   = each.key\n  name     = each.value\n  token    = env(\"A\")\n}\n",
		},
		"list": {
			spec: "variable \"tenants\" {\n  type    = list(string)\n  default = [\"acme\"]\n}\ntenant_key \"site\" {\n  for_each = var.tenants\n  tenant   = each.key\n  name     = \"a\"\n  token    = env(\"A\")\n}\n",
			want: []diag{{Pos: "keys.hcl:6:14", Summary: "Invalid for_each argument",
				Detail: "for_each needs a set or a map, and this is a list of string. Convert a list of strings with toset(...).", Address: "tenant_key.site"}},
		},
		"tuple": {
			spec: "tenant_key \"site\" {\n  for_each = [\"acme\"]\n  tenant   = each.key\n  name     = \"a\"\n  token    = env(\"A\")\n}\n",
			want: []diag{{Pos: "keys.hcl:2:14", Summary: "Invalid for_each argument",
				Detail: "for_each needs a set or a map, and this is a tuple. Convert a list of strings with toset(...).", Address: "tenant_key.site"}},
		},
		"string": {
			spec: "tenant_key \"site\" {\n  for_each = \"acme\"\n  tenant   = each.key\n  name     = \"a\"\n  token    = env(\"A\")\n}\n",
			want: []diag{{Pos: "keys.hcl:2:14", Summary: "Invalid for_each argument",
				Detail: "for_each needs a set of strings or a map, and this is a string.", Address: "tenant_key.site"}},
		},
		"null": {
			spec: "tenant_key \"site\" {\n  for_each = null\n  tenant   = each.key\n  name     = \"a\"\n  token    = env(\"A\")\n}\n",
			want: []diag{{Pos: "keys.hcl:2:14", Summary: "Invalid for_each argument",
				Detail: "The for_each value is null; use an empty set or map to declare no keys.", Address: "tenant_key.site"}},
		},
		"set of lists": {
			spec: "tenant_key \"site\" {\n  for_each = toset([[\"acme\"]])\n  tenant   = \"acme\"\n  name     = \"a\"\n  token    = env(\"A\")\n}\n",
			want: []diag{{Pos: "keys.hcl:2:14", Summary: "Invalid for_each argument",
				Detail: "for_each needs a set of strings; this set's elements are tuple.", Address: "tenant_key.site"}},
		},
		"from env() is refused": {
			spec: "tenant_key \"site\" {\n  for_each = toset(split(\",\", env(\"TENANTS\")))\n  tenant   = each.key\n  name     = \"a\"\n  token    = env(\"A\")\n}\n",
			want: []diag{{Pos: "keys.hcl:2:31", Summary: "Secret read outside a token", Detail: outsideDetail("env"), Address: "tenant_key.site"}},
		},
		"each outside for_each": {
			spec: "tenant_key \"site\" {\n  tenant = each.key\n  name   = \"a\"\n  token  = env(\"A\")\n}\n",
			want: []diag{{Pos: "keys.hcl:2:12", Summary: "Unknown variable", Detail: `There is no variable named "each".`, Address: "tenant_key.site"}},
		},
		"slug from each.value": {
			spec: "universal_key \"k\" {\n  for_each = { a = \"front-end\", b = \"back-end\" }\n  slug     = each.value\n  name     = each.value\n  token    = env(upper(each.key))\n}\n",
			env:  fakeEnv{"A": tokA, "B": tokB},
			keys: []string{"root/back-end", "root/front-end"},
		},
	})
}

// Too many keys after for_each expansion are refused before evaluation.
func TestMaxKeys(t *testing.T) {
	spec := "tenant_key \"site\" {\n  for_each = toset([for i in range(20) : \"t${i}\"])\n  tenant   = each.key\n  name     = \"a\"\n  token    = env(\"A\")\n}\n"
	_, ds := load(t, spec, Options{Limits: Limits{MaxKeys: 10}})
	requireDiags(t, ds, diag{Pos: "keys.hcl:2:14", Summary: "Too many keys", Detail: "The spec declares more than 10 keys (KEYPROV_MAX_KEYS)."})
	s, ds := load(t, spec, Options{Limits: Limits{MaxKeys: 20}})
	requireDiags(t, ds)
	assert.Len(t, s.Keys, 20)
}
