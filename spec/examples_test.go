package spec

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/token"
)

// readEnvFile reads KEY=VALUE lines; blank lines and # comments are skipped.
func readEnvFile(t *testing.T, path string) fakeEnv {
	t.Helper()
	env := fakeEnv{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return env
	}
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.True(t, ok, "%s: %q is not KEY=VALUE", path, line)
		env[k] = v
	}
	require.NoError(t, sc.Err())
	return env
}

// exampleSpec is a spec under examples/ (or keys.hcl) with its variable
// files and example environment.
type exampleSpec struct {
	paths    []string
	varFiles []string
	env      fakeEnv
}

// examples lists keys.hcl at the root of the repository and every folder of
// examples/ but ci/ and secrets/: each folder's *.hcl and *.hcl.json files are
// the spec, its other *.json files are variable files (-var-file), and
// example-tokens.env holds its example environment.
func examples(t *testing.T) map[string]exampleSpec {
	t.Helper()
	out := map[string]exampleSpec{
		"keys.hcl": {paths: []string{"../keys.hcl"}, env: readEnvFile(t, "../examples/example-tokens.env")},
	}
	dirs, err := os.ReadDir("../examples")
	require.NoError(t, err)
	for _, d := range dirs {
		// ci and secrets hold no spec; verify holds the clients of
		// keyprov.verify_token (cmd/keyprov tests them).
		if !d.IsDir() || d.Name() == "ci" || d.Name() == "secrets" || d.Name() == "verify" {
			continue
		}
		dir := filepath.Join("../examples", d.Name())
		ex := exampleSpec{paths: []string{dir}, env: readEnvFile(t, filepath.Join(dir, "example-tokens.env"))}
		vars, err := filepath.Glob(filepath.Join(dir, "*.json"))
		require.NoError(t, err)
		for _, v := range vars {
			if !strings.HasSuffix(v, ".hcl.json") {
				ex.varFiles = append(ex.varFiles, v)
			}
		}
		out["examples/"+d.Name()] = ex
	}
	return out
}

// Every example validates offline and with its example secrets, so that
// the examples cannot rot.
func TestExamples(t *testing.T) {
	exs := examples(t)
	for _, want := range []string{"keys.hcl", "examples/webiny", "examples/tenants-from-json", "examples/catalog"} {
		require.Contains(t, exs, want)
	}
	for name, ex := range exs {
		for _, secrets := range []bool{false, true} {
			t.Run(name+mode(secrets), func(t *testing.T) {
				s, ds := Load(Options{Paths: ex.paths, VarFiles: ex.varFiles, Secrets: secrets, LookupEnv: ex.env.lookup})
				requireDiags(t, ds)
				require.NotNil(t, s)
				require.NotEmpty(t, s.Keys)
				for _, k := range s.Keys {
					assert.Equal(t, secrets, k.Token.Known, "%s", k.Address)
					assert.NotEmpty(t, k.Token.Sources(), "%s", k.Address)
					if secrets {
						tok := k.Token.Secret.Reveal()
						assert.Empty(t, token.Check(tok, s.Settings.TokenPrefix), "%s", k.Address)
						assert.True(t, token.HasChecksum(tok, s.Settings.TokenPrefix), "%s: example tokens are made by keyprov token new", k.Address)
					}
				}
			})
		}
		if name != "keys.hcl" {
			t.Run(name+" has a README", func(t *testing.T) {
				_, err := os.Stat(filepath.Join(ex.paths[0], "README.md"))
				assert.NoError(t, err)
			})
		}
	}
}

// keys.hcl uses every feature of the language.
func TestKeysHCLUsesEveryFeature(t *testing.T) {
	src, err := os.ReadFile("../keys.hcl")
	require.NoError(t, err)
	for _, feature := range []string{
		"settings {", "token_prefix", "owner", "root_tenant", "allowed_permissions",
		"variable \"", "locals {", "universal_key \"", "tenant_key \"", "for_each", "each.key", "each.value", "slug ",
		"env(\"", "file(\"", "jsondecode(file(", "metadata", "expires", "description", "permissions",
		"rwd = ", "models = {",
	} {
		assert.Contains(t, string(src), feature)
	}
	ex := examples(t)["keys.hcl"]
	s, ds := Load(Options{Paths: ex.paths, Secrets: true, LookupEnv: ex.env.lookup})
	requireDiags(t, ds)
	var universal, tenant, expires, meta, desc int
	for _, k := range s.Keys {
		if k.Universal {
			universal++
		} else {
			tenant++
		}
		if k.Expires != nil {
			expires++
			assert.Greater(t, k.Expires.Year(), 2026, "%s expires in the past", k.Address)
		}
		if k.Metadata != nil {
			meta++
		}
		if k.Description != "" {
			desc++
		}
	}
	assert.Positive(t, universal)
	assert.Positive(t, tenant)
	assert.Positive(t, expires)
	assert.Positive(t, meta)
	assert.Positive(t, desc)
	assert.NotEmpty(t, s.Settings.AllowedPermissions)

	// Every variable in the example environment is used, and only there.
	used := map[string]bool{}
	for _, k := range s.Keys {
		for _, src := range k.Token.Sources() {
			used[src] = true
		}
	}
	for name := range ex.env {
		assert.True(t, used[`env("`+name+`")`], "%s is set in examples/example-tokens.env but not read by keys.hcl", name)
	}
}
