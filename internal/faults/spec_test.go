package faults

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/token"
)

// specOpts describe a generated spec.
type specOpts struct {
	// Keys is the number of tenant keys, spread over Tenants tenants.
	Keys    int
	Tenants int
	// Owner is settings.owner; TenantPrefix starts every tenant name, so
	// that specs of different owners declare disjoint keys.
	Owner        string
	TenantPrefix string
	// Gen goes into every key's name: two specs that differ only in Gen
	// (and tokens) change every key's name and token.
	Gen string
}

// generatedSpec is a spec written to a directory, with its tokens.
type generatedSpec struct {
	dir    string
	opts   specOpts
	tokens map[string]string // instance key → token
}

// writeSpec writes keys.hcl and its tokens (tokens.json, read with file())
// into a new directory. Keys use for_each so that the spec stays small
// whatever the number of keys.
func writeSpec(t *testing.T, o specOpts) *generatedSpec {
	t.Helper()
	return writeSpecIn(t, t.TempDir(), o)
}

// writeSpecIn is writeSpec into dir, which may outlive t (a spec that a
// subtest makes for the subtests after it).
func writeSpecIn(t *testing.T, dir string, o specOpts) *generatedSpec {
	t.Helper()
	if o.Tenants == 0 {
		o.Tenants = 20
	}
	if o.Owner == "" {
		o.Owner = "platform"
	}
	if o.TenantPrefix == "" {
		o.TenantPrefix = "tenant"
	}
	g := &generatedSpec{dir: dir, opts: o, tokens: make(map[string]string, o.Keys)}
	for i := 0; i < o.Keys; i++ {
		tok, err := token.Generate(token.DefaultPrefix)
		require.NoError(t, err)
		g.tokens[fmt.Sprintf("%05d", i)] = tok.Reveal()
	}
	b, err := json.Marshal(g.tokens)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokens.json"), b, 0o600))
	src := fmt.Sprintf(`settings {
  owner = %q
}

tenant_key "key" {
  for_each    = toset(flatten([for a in range(%d) : [for b in range(1000) : format("%%05d", a * 1000 + b) if a * 1000 + b < %d]]))
  tenant      = format("%s-%%02d", parseint(each.key, 10) %% %d)
  slug        = "key-${each.key}"
  name        = "Key ${each.key} (%s)"
  token       = jsondecode(file("tokens.json"))[each.key]
  permissions = ["cms.read", { name = "cms.contentEntry", rwd = "r" }]
  metadata    = { team = "web" }
}
`, o.Owner, (o.Keys+999)/1000, o.Keys, o.TenantPrefix, o.Tenants, o.Gen)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keys.hcl"), []byte(src), 0o644))
	return g
}

// address is the address of instance i.
func (g *generatedSpec) address(i int) string {
	return fmt.Sprintf("%s-%02d/key-%05d", g.opts.TenantPrefix, i%g.opts.Tenants, i)
}

// token returns the token of instance i.
func (g *generatedSpec) token(i int) string { return g.tokens[fmt.Sprintf("%05d", i)] }

// secrets returns every token, with and without its prefix, for output scans.
func (g *generatedSpec) secrets() []string {
	out := make([]string, 0, 2*len(g.tokens))
	for _, v := range g.tokens {
		out = append(out, v, v[len(token.DefaultPrefix):])
	}
	return out
}
