package spec

import (
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/token"
)

// TestPrefetch checks what prefetch reads before the variables are
// evaluated: the files of token references whose path names no variable,
// and nothing else.
func TestPrefetch(t *testing.T) {
	withSpeedLayer(t, true) // a test of the layer itself
	dir := t.TempDir()
	for name, text := range map[string]string{
		"secrets.json": `{"a": "wat_Hq7Zp2Lx9Vb4Nc8Tm1Rw5Ks3Df6Gy0Ja", "b": "wat_Ub3Yk8Pe1Wz6Qr9Ln4Xs7Hc2Mf5Tv0Gd"}`,
		"other.json":   `{"a": "wat_ox9yimTcfipZGnzPbDFDyFKm51zfFoWb", "b": "wat_SrHAE56yUhQqg0eyN1ygQdvpSfF5PH5n"}`,
		"single.txt":   "wat_Fj9Rb2Sx5Vn8Kq1Ez4Wm7Tc0Hy3Lp6Ud",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	src := `
variable "other" {
  type    = string
  default = "other.json"
}
tenant_key "site" {
  for_each = toset(["a", "b"])
  tenant   = each.key
  name     = "${upper("site")} ${each.key}"
  token    = jsondecode(file("secrets.json"))[each.key] # prefetched
}
tenant_key "other" {
  for_each = toset(["a", "b"])
  tenant   = each.key
  name     = "Other ${each.key}"
  token    = jsondecode(file(var.other))[each.key]      # a variable: not before the variables
}
tenant_key "single" {
  tenant = "a"
  name   = "Single"
  token  = file("single.txt")                           # no for_each: nothing to fold
}
`
	opts := Options{Secrets: true}
	e := &evaluator{opts: &opts, limits: opts.limits()}
	e.fn = newFuncs(e.opts)
	e.base = newBaseContext(e.fn)
	require.True(t, e.parse([]Source{{Name: "keys.hcl", Dir: dir, Bytes: []byte(src)}}), "%v", e.diags)

	e.refs = e.checkSecretCalls()
	done := e.prefetch()
	require.NotNil(t, done)
	<-done
	var read []string
	for p := range e.fn.files {
		read = append(read, filepath.Base(p))
	}
	sort.Strings(read)
	// The token references whose path names no variable; not other.json,
	// whose path is a variable.
	assert.Equal(t, []string{"secrets.json", "single.txt"}, read, "the files read before the variables")
	assert.Len(t, e.fn.secrets, 1, "the secrets file is decoded once")

	// And the evaluation that follows uses what was read.
	e.base.Variables["var"] = e.evalVariables()
	e.evalLocals()
	keys := e.evalKeys(e.evalSettings())
	require.False(t, e.diags.HasErrors(), "%v", e.diags)
	require.Len(t, keys, 5)
	assert.Equal(t, "SITE a", keys[2].Name)
	assert.Equal(t, token.DigestOf("wat_Hq7Zp2Lx9Vb4Nc8Tm1Rw5Ks3Df6Gy0Ja"), keys[2].Token.Digest)
}

// TestPrefetchNothing: a spec without for_each, or whose per-instance
// calls all use variables, starts no goroutine.
func TestPrefetchNothing(t *testing.T) {
	withSpeedLayer(t, true) // a test of the layer itself
	for name, src := range map[string]string{
		"no for_each": `tenant_key "k" {
  tenant = "a"
  name   = upper("k")
  token  = env("TOKEN")
}`,
		"calls use variables": `variable "f" { default = "x" }
tenant_key "k" {
  for_each = toset(["a"])
  tenant   = each.key
  name     = "${upper(var.f)}-${each.key}"
  token    = env("TOKEN_${upper(each.key)}")
}`,
	} {
		t.Run(name, func(t *testing.T) {
			opts := Options{}
			e := &evaluator{opts: &opts, limits: opts.limits()}
			e.fn = newFuncs(e.opts)
			e.base = newBaseContext(e.fn)
			require.True(t, e.parse([]Source{{Name: "keys.hcl", Dir: t.TempDir(), Bytes: []byte(src)}}), "%v", e.diags)
			assert.Nil(t, e.prefetch())
		})
	}
}
