package spec

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSmuggledLiteralTokens checks the tokens that carry the secret mark
// but hold a value written in the spec: HCL marks a conditional's result
// with both branches' marks, so the mark alone let them pass when secrets
// were read (apply), and offline validation cannot decide a condition that
// reads a secret.
func TestSmuggledLiteralTokens(t *testing.T) {
	env := fakeEnv{"A": tokA, "B": tokB, "BODY": tokC[len("wat_"):], "EMPTY": ""}
	tests := map[string]struct {
		files   map[string]string
		literal bool
	}{
		"constant condition":         {literal: true, files: map[string]string{"keys.hcl": tokenKey(`true ? "` + tokD + `" : env("A")`)}},
		"condition on a secret":      {literal: true, files: map[string]string{"keys.hcl": tokenKey(`strlen(env("A")) > 100 ? env("A") : "` + tokD + `"`)}},
		"through a local":            {literal: true, files: map[string]string{"keys.hcl": "locals {\n  fallback = \"" + tokD + "\"\n  tok = env(\"A\") == \"\" ? env(\"B\") : local.fallback\n}\n" + tokenKey(`local.tok`)}},
		"through a variable":         {literal: true, files: map[string]string{"keys.hcl": "variable \"t\" {\n  default = \"" + tokD + "\"\n}\n" + tokenKey(`env("A") == "" ? env("B") : var.t`)}},
		"body written, prefix added": {literal: true, files: map[string]string{"keys.hcl": tokenKey(`env("A") == "" ? env("B") : "wat_${"` + tokD[len("wat_"):] + `"}"`)}},
		"JSON syntax":                {literal: true, files: map[string]string{"keys.hcl.json": `{"universal_key": {"a": {"name": "A", "token": "${true ? \"` + tokD + `\" : env(\"A\")}"}}}`}},
		"env":                        {files: map[string]string{"keys.hcl": tokenKey(`env("A")`)}},
		"prefix and env":             {files: map[string]string{"keys.hcl": tokenKey(`"wat_${env("BODY")}"`)}},
		"condition between envs":     {files: map[string]string{"keys.hcl": tokenKey(`env("A") == "" ? env("B") : trimspace(env("A"))`)}},
		// In a for_each block, each-free parts are computed once (fold.go):
		// a literal made by a function is still caught, and a secret read by
		// an each-free env() is not mistaken for a literal.
		"function of a literal, for_each": {literal: true, files: map[string]string{"keys.hcl": forEachTokenKey(`"${env("A")}${lower("` + tokD[len("wat_"):] + `")}${each.key}"`)}},
		"each-free env, for_each":         {files: map[string]string{"keys.hcl": forEachTokenKey(`"${each.key}${env("BODY")}"`)}},
		"file and jsondecode":             {files: map[string]string{"keys.hcl": "locals {\n  secrets = jsondecode(file(\"secrets-of-every-tenant.json\"))\n}\n" + tokenKey(`local.secrets["a"]`), "secrets-of-every-tenant.json": `{"a": "` + tokA + `"}`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, ds := loadFiles(t, tc.files, Options{Secrets: true, LookupEnv: env.lookup})
			if !tc.literal {
				require.Empty(t, diagsOf(ds))
				assert.Len(t, s.Keys, 1)
				return
			}
			require.Len(t, ds, 1, dumpDiags(diagsOf(ds)))
			assert.Equal(t, "Literal token", ds[0].Summary)
			assert.True(t, DiagnosticHidesSource(ds[0]))
		})
	}
}

func tokenKey(expr string) string {
	return "universal_key \"a\" {\n  name  = \"A\"\n  token = " + expr + "\n}\n"
}

// forEachTokenKey is a tenant key with for_each over one tenant, "wat_".
func forEachTokenKey(expr string) string {
	return "tenant_key \"a\" {\n  for_each = toset([\"wat_\"])\n  tenant   = \"acme\"\n  name     = \"A\"\n  token    = " + expr + "\n}\n"
}
