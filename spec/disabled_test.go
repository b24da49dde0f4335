package spec

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// disabled = true switches a key off (issue 18); it may come from a
// variable or per for_each instance, and is a bool that must be known.
func TestDisabledAttribute(t *testing.T) {
	src := `variable "suspended" {
  type    = set(string)
  default = ["globex"]
}

universal_key "frontend" {
  name     = "Front end"
  token    = env("A")
  disabled = true
}

tenant_key "website" {
  for_each = toset(["acme", "globex"])
  tenant   = each.key
  name     = "Website"
  token    = env("KEY_${upper(each.key)}")
  disabled = contains(var.suspended, each.key)
}

tenant_key "blog" {
  tenant   = "acme"
  name     = "Blog"
  token    = env("B")
  disabled = false
}
`
	env := fakeEnv{"A": tokA, "B": tokB, "KEY_ACME": tokC, "KEY_GLOBEX": tokD}
	s, ds := load(t, src, Options{Secrets: true, LookupEnv: env.lookup})
	requireDiags(t, ds)
	got := map[string]bool{}
	for _, k := range s.Keys {
		got[k.Address.String()] = k.Disabled
	}
	assert.Equal(t, map[string]bool{"root/frontend": true, "acme/website": false, "globex/website": true, "acme/blog": false}, got)

	// Offline, too: disabled is no secret.
	s, ds = load(t, src, Options{})
	requireDiags(t, ds)
	assert.True(t, s.Key(Address{Tenant: "root", Slug: "frontend"}).Disabled)
}

func TestDisabledAttributeErrors(t *testing.T) {
	tests := map[string]struct {
		value string
		want  diag
	}{
		"not a bool": {`"yes"`, diag{Pos: "keys.hcl:4:14", Summary: "Incorrect attribute value type", Address: "acme/website", Detail: "a bool is required"}},
		"null":       {`null`, diag{Pos: "keys.hcl:4:14", Summary: "Invalid value", Address: "acme/website", Detail: "disabled must not be null."}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := "tenant_key \"website\" {\n  tenant = \"acme\"\n  name = \"W\"\n  disabled = " + tc.value + "\n  token = env(\"A\")\n}\n"
			_, ds := load(t, src, Options{Secrets: true, LookupEnv: fakeEnv{"A": tokA}.lookup})
			requireDiags(t, ds, tc.want)
		})
	}
}

// settings { prune = "revoke" } keeps revoking pruned keys; true disables.
func TestPruneSetting(t *testing.T) {
	tests := map[string]struct {
		value       string
		prune       *bool
		pruneRevoke bool
		err         string
	}{
		"true":     {value: `true`, prune: ptrTo(true)},
		"false":    {value: `false`, prune: ptrTo(false)},
		"revoke":   {value: `"revoke"`, prune: ptrTo(true), pruneRevoke: true},
		"computed": {value: `lower("REVOKE")`, prune: ptrTo(true), pruneRevoke: true},
		"unset":    {},
		"other":    {value: `"disable"`, err: `Inappropriate value for attribute "prune": want true (disable the owned keys the spec no longer declares), false, or "revoke" (revoke them).`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			src := "tenant_key \"website\" {\n  tenant = \"acme\"\n  name = \"W\"\n  token = env(\"A\")\n}\n"
			if tc.value != "" {
				src = "settings {\n  prune = " + tc.value + "\n}\n" + src
			}
			s, ds := load(t, src, Options{})
			if tc.err != "" {
				requireDiags(t, ds, diag{Pos: "keys.hcl:2:11", Summary: "Incorrect attribute value type", Detail: tc.err})
				return
			}
			requireDiags(t, ds)
			require.NotNil(t, s)
			assert.Equal(t, tc.prune, s.Settings.Prune)
			assert.Equal(t, tc.pruneRevoke, s.Settings.PruneRevoke)
		})
	}
}

func ptrTo[T any](v T) *T { return &v }
