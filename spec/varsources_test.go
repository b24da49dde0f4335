package spec

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVarSources: variable files already read (from a git revision) set
// variables as files on disk do, after them, and name themselves in
// diagnostics.
func TestVarSources(t *testing.T) {
	srcs := []Source{{Name: "spec.hcl", Bytes: []byte(varSpec)}}
	tests := map[string]struct {
		varFiles []string
		sources  []Source
		keys     []string
		name     string
		want     []diag
	}{
		"JSON": {
			sources: []Source{{Name: "main:vars.json", Bytes: []byte(`{"tenants": ["globex", "umbrella"]}`)}},
			keys:    []string{"globex/site", "umbrella/site"}, name: "web-1",
		},
		"HCL": {
			sources: []Source{{Name: "main:prod.tfvars", Bytes: []byte("team = \"api\"\n")}},
			keys:    []string{"acme/site"}, name: "api-1",
		},
		"in order, after VarFiles": {
			varFiles: []string{"disk.hcl"},
			sources: []Source{
				{Name: "main:a.hcl", Bytes: []byte("team = \"a\"\n")},
				{Name: "main:b.hcl", Bytes: []byte("tier = 2\n")},
			},
			keys: []string{"acme/site"}, name: "a-2",
		},
		"diagnostics name the source": {
			sources: []Source{{Name: "main:vars.hcl", Bytes: []byte("nope = 1\n")}},
			want:    []diag{{Pos: "main:vars.hcl:1:1", Summary: "Undeclared variable", Detail: `sets "nope"`}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Chdir(writeFiles(t, map[string]string{"disk.hcl": "team = \"disk\"\ntier = 9\n"}))
			s, ds := Evaluate(srcs, Options{VarFiles: tc.varFiles, VarSources: tc.sources, LookupEnv: fakeEnv{}.lookup})
			if tc.want != nil {
				requireDiags(t, ds, tc.want...)
				return
			}
			require.False(t, ds.HasErrors(), "%v", ds)
			var keys []string
			for _, k := range s.Keys {
				keys = append(keys, k.Address.String())
				assert.Equal(t, tc.name, k.Name)
			}
			assert.Equal(t, tc.keys, keys)
		})
	}
}
