package spec_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/token"
)

// benchSpec writes the benchmark's spec for n tenants: for_each over a
// map variable read from a JSON var-file, tokens from one JSON secrets
// file, and the flat variant of n literal blocks.
func benchSpec(b *testing.B, n int) (dir string) {
	b.Helper()
	dir = b.TempDir()
	tenants := make(map[string]string, n)
	secrets := make(map[string]string, n)
	for i := 0; i < n; i++ {
		t := fmt.Sprintf("t%07d", i)
		tenants[t] = "Website " + t
		tok, err := token.Generate("wat_")
		if err != nil {
			b.Fatal(err)
		}
		secrets[t] = tok.Reveal()
	}
	write := func(name string, v any) {
		data, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	write("tenants.json", map[string]any{"tenants": tenants})
	write("secrets.json", secrets)
	forEach := `variable "tenants" { type = map(string) }
tenant_key "website" {
  for_each    = var.tenants
  tenant      = each.key
  name        = each.value
  token       = jsondecode(file("secrets.json"))[each.key]
  permissions = [{ name = "wb.page", rwd = "r" }, "cms.read"]
  metadata    = { team = "web" }
}
`
	var flat strings.Builder
	for i := 0; i < n; i++ {
		t := fmt.Sprintf("t%07d", i)
		fmt.Fprintf(&flat, "tenant_key \"website\" {\n  tenant      = %q\n  name        = \"Website %s\"\n  token       = jsondecode(file(\"secrets.json\"))[%q]\n  permissions = [{ name = \"wb.page\", rwd = \"r\" }, \"cms.read\"]\n}\n", t, t, t)
	}
	// The same keys with a per-instance conditional, and a template with a
	// function call, in name (issue 20: at most 1.3× the plain spec).
	cond := strings.Replace(forEach, "  name        = each.value\n", "  name        = strlen(each.value) > 0 ? each.value : \"Website ${each.key}\"\n", 1)
	tmpl := strings.Replace(forEach, "  name        = each.value\n", "  name        = \"${trimsuffix(each.value, each.key)}${each.key}\"\n", 1)
	for name, text := range map[string]string{"foreach.hcl": forEach, "foreach-cond.hcl": cond, "foreach-tmpl.hcl": tmpl, "flat.hcl": flat.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkEvaluate measures parse + evaluate + validate with secrets read,
// per spec (ns/op is the whole spec; see keys/s).
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		dir := benchSpec(b, n)
		for _, kind := range []string{"foreach", "foreach-cond", "foreach-tmpl", "flat"} {
			b.Run(fmt.Sprintf("%s/%d", kind, n), func(b *testing.B) {
				opts := spec.Options{Paths: []string{filepath.Join(dir, kind+".hcl")}, Secrets: true}
				if kind != "flat" {
					opts.VarFiles = []string{filepath.Join(dir, "tenants.json")}
				}
				b.ReportAllocs()
				for b.Loop() {
					s, diags := spec.Load(opts)
					if diags.HasErrors() {
						b.Fatal(diags)
					}
					if len(s.Keys) != n {
						b.Fatalf("%d keys, want %d", len(s.Keys), n)
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
			})
		}
	}
}
