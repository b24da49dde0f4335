package spec

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The wildcard semantics of settings.allowed_permissions: "*" allows every
// name; "prefix.*" (or "prefix:*") allows every name that starts with
// "prefix." (or "prefix:"), at any depth, but not "prefix" itself; any
// other entry allows exactly that name.
func TestAllowedBy(t *testing.T) {
	tests := map[string]struct {
		patterns []string
		allowed  []string
		denied   []string
	}{
		"star": {
			patterns: []string{"*"},
			allowed:  []string{"wb.page", "anything", "a:b", "*"},
		},
		"prefix dot star": {
			patterns: []string{"wb.*"},
			allowed:  []string{"wb.page", "wb.page.read", "wb.*"},
			denied:   []string{"wb", "wbx.page", "cms.wb.page", "WB.page", "wb:page"},
		},
		"prefix colon star": {
			patterns: []string{"posts:*"},
			allowed:  []string{"posts:read", "posts:write:all"},
			denied:   []string{"posts", "posts.read", "postsread"},
		},
		"exact names": {
			patterns: []string{"cms.read", "cms.write"},
			allowed:  []string{"cms.read", "cms.write"},
			denied:   []string{"cms.read.all", "cms", "cms.*", "cms.rea"},
		},
		"several patterns": {
			patterns: []string{"cms.read", "wb.*", "billing:*"},
			allowed:  []string{"cms.read", "wb.page", "billing:invoices"},
			denied:   []string{"cms.write", "billing.invoices"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for _, p := range tc.patterns {
				require.Empty(t, checkPattern(p), "pattern %q", p)
			}
			for _, n := range tc.allowed {
				assert.True(t, allowedBy(n, tc.patterns), "%q should be allowed by %q", n, tc.patterns)
			}
			for _, n := range tc.denied {
				assert.False(t, allowedBy(n, tc.patterns), "%q should be denied by %q", n, tc.patterns)
			}
		})
	}
}

func TestPermissionRules(t *testing.T) {
	key := func(perms string) string {
		return "universal_key \"a\" {\n  name        = \"a\"\n  token       = env(\"A\")\n  permissions = " + perms + "\n}\n"
	}
	catalog := "settings {\n  allowed_permissions = [\"wb.*\", \"cms.read\", \"posts:*\"]\n}\n"
	const wildcard = `may use "*" only alone or at the end after "." or ":" (e.g. "wb.*").`
	runRuleCases(t, map[string]ruleCase{
		"names and objects": {
			spec: key(`["posts:read", { name = "cms.contentModel", rwd = "r", own = false, pw = "", models = { "en-US" = ["article"] } }]`),
			keys: []string{"root/a"},
		},
		"object without name": {
			spec: key(`["cms.read", { rwd = "r" }]`),
			want: []diag{{Pos: "keys.hcl:4:17", Summary: "Invalid permissions", Detail: `Permission 2 has no name: each permission object needs a name, e.g. { name = "wb.page", rwd = "r" }.`, Address: "root/a"}},
		},
		"name is not a string": {
			spec: key(`[{ name = ["cms"] }]`),
			want: []diag{{Pos: "keys.hcl:4:17", Summary: "Invalid permissions", Detail: `The name of permission 1 must be a string.`, Address: "root/a"}},
		},
		"empty name": {
			spec: key(`[{ name = "" }]`),
			want: []diag{{Pos: "keys.hcl:4:17", Summary: "Invalid permissions", Detail: `Permission 1 has an empty name.`, Address: "root/a"}},
		},
		"null permission": {
			spec: key(`["cms.read", null]`),
			want: []diag{{Pos: "keys.hcl:4:17", Summary: "Invalid permissions", Detail: `Permission 2 is null.`, Address: "root/a"}},
		},
		"listed twice": {
			spec: key(`["cms.read", { name = "cms.read" }]`),
			want: []diag{{Pos: "keys.hcl:4:17", Summary: "Invalid permissions", Detail: `The permission {"name": "cms.read"} is listed twice.`, Address: "root/a"}},
		},
		"same name, different attributes": {
			spec: key(`[{ name = "wb.page", rwd = "r" }, { name = "wb.page", rwd = "w" }]`),
			keys: []string{"root/a"},
		},
		"null permissions": {
			spec: key(`null`),
			keys: []string{"root/a"},
		},
		"set of permissions": {
			spec: key(`toset(["a", "b"])`),
			keys: []string{"root/a"},
		},
		"from env() is refused": {
			spec: key(`[env("PERM")]`),
			want: []diag{{Pos: "keys.hcl:4:18", Summary: "Secret read outside a token", Detail: outsideDetail("env"), Address: "universal_key.a"}},
		},
		"control character in an attribute": {
			spec: key(`[{ name = "a", note = "x\u0000y" }]`),
			want: []diag{{Pos: "keys.hcl:4:17", Summary: "Invalid permissions", Detail: `Permission "a" contains the control character U+0000.`, Address: "root/a"}},
		},
		"inside the catalog": {
			spec: catalog + key(`["wb.page", { name = "wb.block.read", rwd = "r" }, "cms.read", "posts:write"]`),
			keys: []string{"root/a"},
		},
		"outside the catalog: every one is reported": {
			spec: catalog + key(`["wb", "cms.write", { name = "billing.read" }, "wb.page"]`),
			want: []diag{
				{Pos: "keys.hcl:7:17", Summary: "Permission not allowed", Detail: `The permission "wb" matches no entry of settings.allowed_permissions ("wb.*", "cms.read", "posts:*").`, Address: "root/a"},
				{Pos: "keys.hcl:7:17", Summary: "Permission not allowed", Detail: `The permission "cms.write" matches no entry`, Address: "root/a"},
				{Pos: "keys.hcl:7:17", Summary: "Permission not allowed", Detail: `The permission "billing.read" matches no entry`, Address: "root/a"},
			},
		},
		"star allows everything": {
			spec: "settings {\n  allowed_permissions = [\"*\"]\n}\n" + key(`["anything", { name = "*" }]`),
			keys: []string{"root/a"},
		},
		"empty catalog allows everything": {
			spec: "settings {\n  allowed_permissions = []\n}\n" + key(`["anything"]`),
			keys: []string{"root/a"},
		},
		"invalid patterns": {
			spec: "settings {\n  allowed_permissions = [\"wb*\", \"*.page\", \"wb.*.read\", \"\", \".*\"]\n}\n",
			want: []diag{
				{Pos: "keys.hcl:2:25", Summary: "Invalid permission pattern", Detail: `"wb*" ` + wildcard},
				{Pos: "keys.hcl:2:25", Summary: "Invalid permission pattern", Detail: `"*.page" ` + wildcard},
				{Pos: "keys.hcl:2:25", Summary: "Invalid permission pattern", Detail: `"wb.*.read" ` + wildcard},
				{Pos: "keys.hcl:2:25", Summary: "Invalid permission pattern", Detail: `"" must not be empty.`},
				{Pos: "keys.hcl:2:25", Summary: "Invalid permission pattern", Detail: `".*" ` + wildcard},
			},
		},
		"catalog is not a list": {
			spec: "settings {\n  allowed_permissions = \"wb.*\"\n}\n",
			want: []diag{{Pos: "keys.hcl:2:25", Summary: "Incorrect attribute value type", Detail: `Inappropriate value for attribute "allowed_permissions": list of string required, but have string.`}},
		},
	})
}

// Permissions are sorted by name, then by their JSON; each is a canonical
// JSON object with every attribute kept, nested values and empty ones
// included.
func TestPermissionsValue(t *testing.T) {
	s, ds := load(t, `universal_key "a" {
  name  = "a"
  token = env("A")
  permissions = [
    "posts:read",
    { name = "cms.contentModel", rwd = "r", own = false, pw = "", models = { "en-US" = ["article"], de = [] } },
    { name = "cms.contentModel", rwd = "w" },
    { name = "a", n = 1.5, nested = { deep = { deeper = [1, "two", null, true] } } },
  ]
}
`, Options{})
	requireDiags(t, ds)
	require.Len(t, s.Keys, 1)
	k := s.Keys[0]
	var names []string
	for _, p := range k.Permissions {
		names = append(names, p.Name)
	}
	assert.Equal(t, []string{"a", "cms.contentModel", "cms.contentModel", "posts:read"}, names)
	assert.Equal(t, `{"n": 1.5, "name": "a", "nested": {"deep": {"deeper": [1, "two", null, true]}}}`, string(k.Permissions[0].JSON))
	assert.Equal(t, `{"pw": "", "own": false, "rwd": "r", "name": "cms.contentModel", "models": {"de": [], "en-US": ["article"]}}`, string(k.Permissions[1].JSON))
	assert.Equal(t, `{"rwd": "w", "name": "cms.contentModel"}`, string(k.Permissions[2].JSON))
	assert.Equal(t, `{"name": "posts:read"}`, string(k.Permissions[3].JSON))
	assert.Equal(t, "["+string(k.Permissions[0].JSON)+", "+string(k.Permissions[1].JSON)+", "+
		string(k.Permissions[2].JSON)+", "+string(k.Permissions[3].JSON)+"]", string(k.PermissionsJSON))

	attrs, err := k.Permissions[1].Attributes()
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"name": "cms.contentModel", "rwd": "r", "own": false, "pw": "",
		"models": map[string]any{"en-US": []any{"article"}, "de": []any{}}}, attrs)
}
