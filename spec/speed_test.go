package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/require"
	"golang.org/x/tools/txtar"
)

// evalBothWays runs eval with the speed layer on and then off, fails t
// unless both give the same spec and the same diagnostics (in the same
// order, with the same ranges), and returns what the layer on gave.
func evalBothWays(t testing.TB, eval func() (*Spec, hcl.Diagnostics)) (*Spec, hcl.Diagnostics) {
	t.Helper()
	was := speedOff.Load()
	defer speedOff.Store(was)
	speedOff.Store(false)
	s, diags := eval()
	speedOff.Store(true)
	slow, slowDiags := eval()
	if msg := sameEvaluation(s, diags, slow, slowDiags); msg != "" {
		t.Fatalf("the speed layer changes the evaluation: %s", msg)
	}
	return s, diags
}

// diagView is what a diagnostic says, for comparing two evaluations.
type diagView struct {
	Severity         hcl.DiagnosticSeverity
	Summary, Detail  string
	Subject, Context *hcl.Range
	Address          string
	HidesSource      bool
}

func viewDiag(d *hcl.Diagnostic) diagView {
	return diagView{d.Severity, d.Summary, d.Detail, d.Subject, d.Context, DiagnosticAddress(d), DiagnosticHidesSource(d)}
}

// sameEvaluation returns what differs between two evaluations (the speed
// layer on, then off), or "".
func sameEvaluation(fast *Spec, fastDiags hcl.Diagnostics, slow *Spec, slowDiags hcl.Diagnostics) string {
	for i := 0; i < max(len(fastDiags), len(slowDiags)); i++ {
		var f, s diagView
		if i < len(fastDiags) {
			f = viewDiag(fastDiags[i])
		}
		if i < len(slowDiags) {
			s = viewDiag(slowDiags[i])
		}
		if !reflect.DeepEqual(f, s) {
			return fmt.Sprintf("diagnostic %d of %d/%d:\n on: %+v\noff: %+v", i, len(fastDiags), len(slowDiags), f, s)
		}
	}
	switch {
	case (fast == nil) != (slow == nil):
		return fmt.Sprintf("a spec with the layer on: %v, off: %v", fast != nil, slow != nil)
	case fast == nil:
		return ""
	case len(fast.Keys) != len(slow.Keys):
		return fmt.Sprintf("%d keys with the layer on, %d off", len(fast.Keys), len(slow.Keys))
	}
	for i := range fast.Keys {
		f, s := reflect.ValueOf(*fast.Keys[i]), reflect.ValueOf(*slow.Keys[i])
		for j := range f.NumField() {
			if a, b := f.Field(j).Interface(), s.Field(j).Interface(); !reflect.DeepEqual(a, b) {
				return fmt.Sprintf("key %d (%s), %s:\n on: %s\noff: %s", i, fast.Keys[i].Address, f.Type().Field(j).Name, printable(a), printable(b))
			}
		}
	}
	f, s := *fast, *slow
	f.Keys, s.Keys = nil, nil
	if !reflect.DeepEqual(f, s) {
		return fmt.Sprintf("the spec:\n on: %+v\noff: %+v", f, s)
	}
	return ""
}

// printable prints a field of a key, its JSON as text.
func printable(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return fmt.Sprintf("%+v", v)
}

// TestSpeedLayerChangesNothing evaluates every spec the repository holds
// (keys.hcl, the examples, the specs of every testdata folder and of every
// txtar script), the specs of speedCases and large generated specs that
// take every path of the speed layer, with the layer on and off, offline
// and with secrets: the keys, the diagnostics (text, ranges, order) and
// the input digests must be the same. The fuzz targets compare both ways
// too, on their corpora (evaluateWithin, FuzzSpec, FuzzJSONDecode).
func TestSpeedLayerChangesNothing(t *testing.T) {
	evaluated := 0
	both := func(t *testing.T, opts Options) {
		t.Helper()
		for _, secrets := range []bool{false, true} {
			opts.Secrets = secrets
			evalBothWays(t, func() (*Spec, hcl.Diagnostics) { return Load(opts) })
			evaluated++
		}
	}
	t.Run("examples", func(t *testing.T) {
		for name, ex := range examples(t) {
			t.Run(name, func(t *testing.T) {
				both(t, Options{Paths: ex.paths, VarFiles: ex.varFiles, LookupEnv: ex.env.lookup})
			})
		}
	})
	t.Run("testdata", func(t *testing.T) {
		for _, p := range repoSpecFiles(t) {
			t.Run(p, func(t *testing.T) {
				both(t, Options{Paths: []string{p}, LookupEnv: fakeEnv{}.lookup})
			})
		}
	})
	t.Run("scripts", func(t *testing.T) {
		for _, p := range repoScripts(t) {
			ar, err := txtar.ParseFile(p)
			require.NoError(t, err)
			dir := t.TempDir()
			var specs []string
			for _, f := range ar.Files {
				if strings.Contains(f.Name, "..") || filepath.IsAbs(f.Name) {
					continue
				}
				path := filepath.Join(dir, f.Name)
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, f.Data, 0o644))
				if IsSpecFile(f.Name) {
					specs = append(specs, path)
				}
			}
			for _, s := range specs {
				name := strings.TrimPrefix(p, "../") + "/" + strings.TrimPrefix(s, dir+"/")
				t.Run(name, func(t *testing.T) {
					both(t, Options{Paths: []string{s}, LookupEnv: fakeEnv{"A": tokA, "B": tokB}.lookup})
				})
			}
		}
	})
	t.Run("speed cases", func(t *testing.T) {
		for name, c := range speedCases() {
			t.Run(name, func(t *testing.T) {
				dir := writeFiles(t, c.files)
				t.Chdir(dir)
				opts := Options{Paths: []string{"keys.hcl"}, VarFiles: c.varFiles, Vars: c.vars, LookupEnv: c.env.lookup, Limits: c.limits}
				both(t, opts)
			})
		}
	})
	t.Run("large", func(t *testing.T) {
		for name, c := range largeCases() {
			t.Run(name, func(t *testing.T) {
				dir := writeFiles(t, c.files)
				t.Chdir(dir)
				both(t, Options{Paths: []string{"keys.hcl"}, VarFiles: c.varFiles, Vars: c.vars, LookupEnv: c.env.lookup, Limits: c.limits})
			})
		}
	})
	require.Greater(t, evaluated, 300, "specs evaluated both ways")
}

// repoSpecFiles returns the spec files of every testdata folder of the
// repository.
func repoSpecFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && IsSpecFile(p) && strings.Contains(filepath.ToSlash(p), "/testdata/") {
			out = append(out, p)
		}
		return nil
	}))
	require.NotEmpty(t, out)
	return out
}

// repoScripts returns every txtar archive of the repository.
func repoScripts(t *testing.T) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".txtar") {
			out = append(out, p)
		}
		return nil
	}))
	require.NotEmpty(t, out)
	return out
}

// speedCase is a spec (keys.hcl among files) with what it is evaluated with.
type speedCase struct {
	files    map[string]string
	varFiles []string
	vars     []Var
	env      fakeEnv
	limits   Limits
}

// speedCases are specs whose per-instance attributes take the speed
// layer's paths, and the ways they can fail: templates, conditionals,
// lookups, escapes, unicode, nulls, unknowns, wrong types, errors inside
// them.
func speedCases() map[string]speedCase {
	env := fakeEnv{"A": tokA, "B": tokB, "C": tokC, "D": tokD}
	secrets := `{"acme": "` + tokA + `", "globex": "` + tokB + `", "initech": "` + tokC + `", "ümlaut": "` + tokD + `"}`
	block := func(forEach, attrs string) string {
		return "tenant_key \"site\" {\n  for_each = " + forEach + "\n  tenant   = each.key\n  token    = jsondecode(file(\"secrets.json\"))[each.key]\n" + attrs + "}\n"
	}
	tenants := `toset(["acme", "globex", "initech"])`
	names := `{ acme = "Acme", globex = "", initech = "Initech ${"$"}{x}" }`
	out := map[string]speedCase{}
	add := func(name, spec string) {
		out[name] = speedCase{files: map[string]string{"keys.hcl": spec, "secrets.json": secrets}, env: env}
	}
	add("each.key", block(tenants, "  name = each.key\n"))
	add("each.value of a map", block(names, "  name = each.value == \"\" ? \"none\" : each.value\n"))
	add("template", block(tenants, "  name = \"${each.key}: ${each.value}\"\n"))
	add("template with escapes", block(tenants, "  name = \"$${each.key} %%{x} \\\"${each.key}\\\" \\u00e9\\t${each.value}\"\n"))
	add("template with unicode", block(`{ "ümlaut" = "e\u0301", acme = "ＡＣＭＥ" }`, "  name = \"→ ${each.value} ${upper(each.key)} ←\"\n"))
	add("template with a number", block(tenants, "  name = \"${each.key} ${1.50} ${length(each.key)} ${true}\"\n"))
	add("template with a directive", block(tenants, "  name = \"%{ if each.key == \"acme\" }A%{ else }${each.key}%{ endif }\"\n"))
	add("template with strip markers", block(tenants, "  name = \"x ${~ each.key ~} y\"\n"))
	add("conditional", block(names, "  name = strlen(each.value) > 0 ? each.value : \"Website ${each.key}\"\n"))
	add("conditional on the key", block(tenants, "  name = each.key == \"acme\" ? upper(each.key) : \"${each.key}-x\"\n"))
	add("nested conditionals", block(tenants, "  name = each.key == \"acme\" ? \"a\" : each.key == \"globex\" ? \"g\" : \"other\"\n  description = !(each.key != \"acme\") && true || false ? \"yes\" : \"no\"\n"))
	add("conditional of unlike types", block(tenants, "  name = each.key == \"acme\" ? 1 : \"x\"\n"))
	add("conditional with a null", block(tenants, "  name = each.key == \"acme\" ? null : \"x\"\n"))
	add("conditional on a string", block(tenants, "  name = each.key ? \"a\" : \"b\"\n"))
	add("conditional on null", block(tenants, "  name = (each.key == \"acme\" ? null : true) ? \"a\" : \"b\"\n"))
	add("conditional with an error in a branch", block(tenants, "  name = each.key == \"acme\" ? \"a\" : each.nope\n"))
	add("conditional with an error in the other branch", block(tenants, "  name = each.key == \"acme\" ? substr(each.key, 0, -5) : local.nope\n"))
	add("function error", block(tenants, "  name = upper(each.key, 1)\n"))
	add("arithmetic", block(`{ acme = 3, globex = 4.5, initech = -1 }`, "  name = \"n${each.value * 2 + 1}\"\n  description = each.value > 3 ? \"big\" : \"small\"\n"))
	add("division by zero", block(`{ acme = 0, globex = 4 }`, "  name = \"n${1 / each.value}\"\n"))
	add("each.value of an object", block(`{ acme = { n = "Acme", on = true }, globex = { n = "Globex", on = false } }`, "  name = each.value.on ? each.value.n : \"off ${each.value.n}\"\n  description = each.value[\"n\"]\n"))
	add("a missing attribute of each.value", block(`{ acme = { n = "Acme" }, globex = { m = "Globex" } }`, "  name = each.value.n\n"))
	add("a null each.value", block(`{ acme = null, globex = "G" }`, "  name = each.value == null ? \"none\" : each.value\n  description = \"${each.value}\"\n"))
	add("a list each.value", block(`{ acme = ["a", "b"], globex = [] }`, "  name = length(each.value) > 0 ? each.value[0] : \"empty\"\n  description = \"${each.value}\"\n"))
	add("a bool each.value", block(`{ acme = true, globex = false }`, "  name = each.value ? \"on\" : \"off\"\n  description = \"${each.value}\"\n"))
	add("locals and variables", "variable \"suffix\" {\n  default = \"!\"\n}\nvariable \"on\" {\n  type    = bool\n  default = true\n}\nlocals {\n  prefix = \"Site\"\n  names  = { acme = \"Acme\" }\n  flags  = { acme = true, globex = false, initech = true }\n}\n"+
		block(tenants, "  name = var.on && local.flags[each.key] ? \"${local.prefix} ${lookup(local.names, each.key, each.key)}${var.suffix}\" : \"${each.key}${var.suffix}\"\n  description = local.names[each.key]\n"))
	add("a missing local", block(tenants, "  name = \"${local.nope} ${each.key}\"\n"))
	add("an unknown variable", "variable \"v\" {\n}\n"+block(tenants, "  name = var.v == \"\" ? each.key : \"${var.v}-${each.key}\"\n"))
	add("slug and tenant", "tenant_key \"site\" {\n  for_each = "+names+"\n  tenant   = each.value == \"\" ? \"empty\" : lower(replace(each.value, \" \", \"-\"))\n  slug     = \"s-${each.key}\"\n  name     = \"${each.key}\"\n  token    = jsondecode(file(\"secrets.json\"))[each.key]\n}\n")
	add("invalid values", block(tenants, "  name = each.key == \"acme\" ? \"\" : \"bad\\u202e${each.key}\"\n  expires = each.key == \"acme\" ? \"2030-01-01T00:00:00Z\" : \"soon\"\n  revoked = each.key == \"globex\"\n  disabled = each.key == \"initech\" ? true : null\n"))
	add("a long name", block(tenants, "  name = \"${each.key}${join(\"\", [for i in range(300) : \"x\"])}\"\n"))
	add("permissions and metadata per instance", block(tenants, "  name = each.key\n  permissions = each.key == \"acme\" ? [\"a.read\", { name = \"b.${each.key}\", rwd = \"r\" }] : [\"c.read\"]\n  metadata = { team = \"t-${each.key}\", on = each.key == \"acme\" ? \"yes\" : \"no\" }\n"))
	add("token references per instance", "tenant_key \"site\" {\n  for_each = "+tenants+"\n  tenant   = each.key\n  name     = each.key\n  token    = env(each.key == \"acme\" ? \"A\" : upper(\"${substr(each.key, 0, 1)}\") == \"G\" ? \"B\" : \"C\")\n  previous_token = jsondecode(file(\"secrets${each.key == \"acme\" ? \"\" : \"\"}.json\"))[each.key == \"acme\" ? \"globex\" : \"ümlaut\"]\n  previous_until = \"2030-01-01T00:00:00Z\"\n}\n")
	add("a for expression folded", block(tenants, "  name = \"${length([for a in range(1024) : [for b in range(1024) : b]])}-${each.key}\"\n"))
	add("a folded call", "variable \"names\" {\n  default = \"{\\\"acme\\\": \\\"Acme\\\"}\"\n}\n"+block(tenants, "  name = lookup(jsondecode(var.names), each.key, \"?\")\n  description = \"${upper(\"x\")}-${jsondecode(var.names)[each.key]}\"\n"))
	// The functions the layer computes itself (fast.Builtin): strlen,
	// trimprefix, trimsuffix, on text whose characters are more than one
	// byte or one code point, line ends (CR LF is one character), numbers
	// converted, nulls and wrong types (errors).
	texts := `{ a = "e\u0301", b = "👩‍👩‍👧 ok", c = "a\r\nb\n\r", d = "", e = "🇩🇪🇫🇷", f = "x\u0301y", g = "plain", h = "\r\n\r\n" }`
	add("strlen", block(texts, "  name = \"n${strlen(each.value)}\"\n  description = strlen(each.value) > 3 ? \"long ${each.key}\" : \"short ${each.key}\"\n"))
	add("strlen of a number", block(`{ a = 12345, b = -1.5 }`, "  name = \"n${strlen(each.value)}\"\n"))
	add("strlen of null and a list", block(`{ a = null, b = ["x"] }`, "  name = \"n${strlen(each.value)}\"\n"))
	add("strlen of a long text", block(tenants, "  name = \"n${strlen(\"${each.key}${join(\"\", [for i in range(1000) : \"xx\"])}\")}\"\n"))
	printable := `{ a = "e\u0301", b = "👩‍👩‍👧 ok", d = "", e = "🇩🇪🇫🇷", f = "x\u0301y", g = "plain", i = "xe\u0301" }`
	add("trimsuffix and trimprefix", block(printable, "  name = \"${trimsuffix(each.value, \"ok\")}|${trimprefix(each.value, \"x\")}|${trimsuffix(each.value, \"\\u0301\")}|${trimprefix(each.key, each.key)}|${each.key}\"\n  description = trimprefix(each.value, \"e\")\n"))
	add("trims of numbers", block(`{ a = 12345, b = 5 }`, "  name = \"${trimsuffix(each.value, 45)}${trimprefix(each.value, 1)}-${each.key}\"\n"))
	add("trims of null", block(tenants, "  name = \"${trimsuffix(each.key, each.key == \"acme\" ? null : \"e\")}${each.key}\"\n"))
	add("a trim of a wrong type", block(`{ a = "x", b = ["y"] }`, "  name = \"${trimprefix(each.value, \"x\")}${each.key}\"\n"))
	add("a template of many parts", block(tenants, "  name = \"${each.key}-${each.key}-${each.key}-${each.key}-${each.key}\"\n  description = \"${each.key}${each.value}${each.key}${each.value}${each.key}${each.value}${each.key}${each.value}${each.key}\"\n"))
	long := strings.Repeat("é", 20)
	out["templates past the limits"] = speedCase{files: map[string]string{"keys.hcl": block(`{ acme = "`+long+`", globex = "x" }`, "  name = \"${each.value}${each.value}\"\n  description = each.key == \"acme\" ? \"${each.value}${each.value}${each.value}\" : \"short\"\n"), "secrets.json": secrets}, env: env, limits: Limits{MaxValueBytes: 64}}
	out["a conditional with a template past the limits"] = speedCase{files: map[string]string{"keys.hcl": block(`{ acme = "`+long+`", globex = "`+long+`" }`, "  name = each.key == \"acme\" ? \"short\" : \"${each.value}${each.value}\"\n  description = each.key != \"acme\" ? \"short\" : \"${each.key}\"\n"), "secrets.json": secrets}, env: env, limits: Limits{MaxValueBytes: 64}}
	out["JSON syntax"] = speedCase{files: map[string]string{"keys.hcl": "", "more.hcl.json": `{"tenant_key": {"site": {"for_each": "${toset([\"acme\", \"globex\"])}", "tenant": "${each.key}", "name": "${each.key == \"acme\" ? \"A\" : \"${each.key}!\"}", "token": "${env(\"A\")}"}}}`, "secrets.json": secrets}, env: env}
	return out
}

// largeCases are specs large enough to take the speed layer's paths that
// start at a size: instances on every core, a spec file parsed in parts,
// flat JSON read in one pass, jsondecode cached, and errors among them.
func largeCases() map[string]speedCase {
	const n = 1500
	var tenants, secrets, flat strings.Builder
	tenants.WriteString(`{"tenants": {`)
	secrets.WriteString("{")
	for i := range n {
		if i > 0 {
			tenants.WriteString(", ")
			secrets.WriteString(", ")
		}
		t := fmt.Sprintf("t%04d", i)
		fmt.Fprintf(&tenants, "%q: %q", t, "Tenant "+t)
		fmt.Fprintf(&secrets, "%q: %q", t, fmt.Sprintf("wat_%04dQ3xT9mLpV2rZ8kW4nB7yH1cJ5fD6gS0a", i))
	}
	tenants.WriteString("}}")
	secrets.WriteString("}")
	for i := range 4000 {
		fmt.Fprintf(&flat, "tenant_key \"k%d\" {\n  tenant      = \"t%d\"\n  name        = \"Key %d ${var.region}\"\n  revoked     = true\n  permissions = [{ name = \"wb.page\", rwd = \"r\" }, \"cms.read\"]\n}\n", i, i%7, i)
	}
	flat.WriteString("tenant_key \"late\" {\n  tenant  = \"t\"\n  name    = \"Late\"\n  token   = env(\"A\")\n  expires = \"next week\"\n}\n")
	forEach := "variable \"tenants\" {\n  type = map(string)\n}\n" +
		"tenant_key \"website\" {\n  for_each    = var.tenants\n  tenant      = each.key\n  name        = strlen(each.value) > 0 ? each.value : \"Website ${each.key}\"\n  description = \"${each.key}: ${each.value}\"\n  token       = jsondecode(file(\"secrets.json\"))[each.key]\n  permissions = [{ name = \"wb.page\", rwd = \"r\" }, \"cms.read\"]\n  metadata    = { team = \"web\" }\n}\n"
	// A JSON literal over jsondecode's cache threshold, decoded per
	// instance with the layer off: 200 tenants.
	var names strings.Builder
	names.WriteString(`{"tenants": {`)
	for i := range 200 {
		if i > 0 {
			names.WriteString(", ")
		}
		fmt.Fprintf(&names, "%q: %q", fmt.Sprintf("t%04d", i), fmt.Sprintf("Tenant number %d", i))
	}
	names.WriteString("}}")
	env := fakeEnv{"A": tokA}
	// The same tenants written in reverse order, and a second map of
	// them: fast.VarFile keeps each map's members in key order.
	var reversed strings.Builder
	reversed.WriteString(`{"tenants": {`)
	for i := n - 1; i >= 0; i-- {
		if i < n-1 {
			reversed.WriteString(", ")
		}
		fmt.Fprintf(&reversed, "%q: %q", fmt.Sprintf("t%04d", i), fmt.Sprintf("Tenant t%04d", i))
	}
	reversed.WriteString("}, \"others\": " + strings.TrimSuffix(strings.TrimPrefix(tenants.String(), `{"tenants": `), "}") + "}")
	twoMaps := "variable \"others\" {\n  type = map(string)\n}\nlocals {\n  all = var.others\n}\n" + forEach +
		"tenant_key \"other\" {\n  for_each = local.all\n  tenant   = each.key\n  name     = each.value\n  token    = env(\"A\")\n}\n"
	// The object of all the variables is larger than each of them.
	wholeVar := strings.Replace(twoMaps, "for_each = local.all", "for_each = var", 1)
	// Two keys that differ only in their Unicode normalization: HCL
	// reports them as one attribute given twice (cty.MapVal would panic).
	nfc := `{"tenants": {"caf` + "\u00e9" + `": "a", "cafe` + "\u0301" + `": "b"}}`
	cases := map[string]speedCase{
		"a var-file out of order, and a local of another map": {files: map[string]string{"keys.hcl": twoMaps, "tenants.json": reversed.String(), "secrets.json": secrets.String()}, varFiles: []string{"tenants.json"}, env: env},
		"a var-file map past the byte limit":                  {files: map[string]string{"keys.hcl": twoMaps, "tenants.json": reversed.String(), "secrets.json": secrets.String()}, varFiles: []string{"tenants.json"}, env: env, limits: Limits{MaxValueBytes: 30_000}},
		"for_each over all the variables":                     {files: map[string]string{"keys.hcl": wholeVar, "tenants.json": reversed.String(), "secrets.json": secrets.String()}, varFiles: []string{"tenants.json"}, env: env, limits: Limits{MaxElements: 2000}},
		"a var-file map replaced by -var":                     {files: map[string]string{"keys.hcl": twoMaps, "tenants.json": reversed.String(), "secrets.json": secrets.String()}, varFiles: []string{"tenants.json"}, vars: []Var{{Name: "tenants", Value: `{ t0001 = "One" }`}}, env: env},
		"a var-file map with keys that normalize alike":       {files: map[string]string{"keys.hcl": forEach, "tenants.json": nfc, "secrets.json": secrets.String()}, varFiles: []string{"tenants.json"}, env: env},
	}
	// A map read only as a for_each is read as its members alone
	// (forEachOnlyVars); each case here is one where that must give what
	// the map itself gives, or must not happen.
	only := func(name, spec, tenantsJSON string, c speedCase) {
		c.files = map[string]string{"keys.hcl": spec, "tenants.json": tenantsJSON, "secrets.json": secrets.String()}
		c.varFiles = append([]string{"tenants.json"}, c.varFiles...)
		c.env = env
		cases["members only: "+name] = c
	}
	only("a duplicate key", forEach, `{"tenants": {"t0001": "a", "t0002": "b", "t0001": "c"}}`, speedCase{})
	only("a duplicate key out of order", forEach, `{"tenants": {"t0002": "b", "t0001": "a", "t0002": "c"}}`, speedCase{})
	only("elements not in normal form C", forEach, `{"tenants": {"t0001": "cafe`+"\u0301"+`", "t0002": "e`+"\u0301"+`"}}`, speedCase{})
	only("a key not in normal form C", forEach, `{"tenants": {"cafe`+"\u0301"+`": "a"}}`, speedCase{})
	only("past the element limit", forEach, tenants.String(), speedCase{limits: Limits{MaxElements: 1000}})
	only("past the byte limit", forEach, tenants.String(), speedCase{limits: Limits{MaxValueBytes: 30_000}})
	only("the variable read by index too", strings.Replace(forEach, "description = \"${each.key}: ${each.value}\"", "description = var.tenants[each.key]", 1), reversed.String(), speedCase{})
	only("the variable read by a local", forEach+"locals {\n  n = length(var.tenants)\n}\n", tenants.String(), speedCase{})
	only("for_each = var[\"tenants\"]", strings.Replace(forEach, "for_each    = var.tenants", "for_each    = var[\"tenants\"]", 1), reversed.String(), speedCase{})
	only("for_each over a part of it", strings.Replace(forEach, "for_each    = var.tenants", "for_each    = { for k, v in var.tenants : k => v if k != \"t0001\" }", 1), tenants.String(), speedCase{})
	only("var shadowed by a for expression", forEach+"locals {\n  x = [for var in [\"a\"] : var]\n}\n", tenants.String(), speedCase{})
	only("var indexed by a local", forEach+"locals {\n  k = \"tenants\"\n  n = length(var[local.k])\n}\n", tenants.String(), speedCase{})
	only("two blocks over it", forEach+strings.Replace(strings.Replace(forEach, "variable \"tenants\" {\n  type = map(string)\n}\n", "", 1), "\"website\"", "\"mobile\"", 1), tenants.String(), speedCase{})
	only("replaced by a later var-file", forEach, tenants.String(), speedCase{varFiles: []string{"later.json"}})
	cases["members only: replaced by a later var-file"].files["later.json"] = `{"tenants": {"t0001": "One", "t0002": "Two"}}`
	only("replaced by a later HCL var-file", forEach, tenants.String(), speedCase{varFiles: []string{"later.hcl"}})
	cases["members only: replaced by a later HCL var-file"].files["later.hcl"] = `tenants = { t0001 = "One" }`
	only("replacing an HCL var-file", forEach, tenants.String(), speedCase{})
	c := cases["members only: replacing an HCL var-file"]
	c.files["earlier.hcl"] = `tenants = { t0001 = "One" }`
	c.varFiles = []string{"earlier.hcl", "tenants.json"}
	cases["members only: replacing an HCL var-file"] = c
	only("replaced by -var", forEach, tenants.String(), speedCase{vars: []Var{{Name: "tenants", Value: `{ t0001 = "One" }`}}})
	only("of a list variable", strings.Replace(forEach, "type = map(string)", "type = set(string)", 1), `{"tenants": ["t0001", "t0002"]}`, speedCase{})
	only("of an any variable", strings.Replace(forEach, "type = map(string)", "type = any", 1), tenants.String(), speedCase{})
	for name, c := range map[string]speedCase{
		"for_each over a var-file":    {files: map[string]string{"keys.hcl": forEach, "tenants.json": tenants.String(), "secrets.json": secrets.String()}, varFiles: []string{"tenants.json"}, env: env},
		"errors in shared attributes": {files: map[string]string{"keys.hcl": strings.Replace(forEach, "metadata    = { team = \"web\" }", "metadata    = { team = 1 + \"x\" }\n  expires = \"never\"", 1), "tenants.json": tenants.String(), "secrets.json": secrets.String()}, varFiles: []string{"tenants.json"}, env: env},
		"a var-file past the limits":  {files: map[string]string{"keys.hcl": forEach, "tenants.json": tenants.String(), "secrets.json": secrets.String()}, varFiles: []string{"tenants.json"}, env: env, limits: Limits{MaxElements: 1000}},
		"toset and jsondecode":        {files: map[string]string{"keys.hcl": "locals {\n  names = jsondecode(" + fmt.Sprintf("%q", names.String()) + ").tenants\n}\ntenant_key \"w\" {\n  for_each = toset(keys(local.names))\n  tenant   = each.key\n  name     = jsondecode(" + fmt.Sprintf("%q", names.String()) + ").tenants[each.key]\n  token    = jsondecode(file(\"secrets.json\"))[each.key]\n}\n", "secrets.json": secrets.String()}, env: env},
		"a flat spec in parts":        {files: map[string]string{"keys.hcl": "variable \"region\" {\n  default = \"eu\"\n}\n" + flat.String()}, env: env},
		// The benchmark's template shape (make bench), on every core.
		"a template with a call over a var-file": {files: map[string]string{"keys.hcl": strings.Replace(forEach, "description = \"${each.key}: ${each.value}\"", "description = \"${trimsuffix(each.value, each.key)}${each.key}\"", 1), "tenants.json": tenants.String(), "secrets.json": secrets.String()}, varFiles: []string{"tenants.json"}, env: env},
	} {
		cases[name] = c
	}
	return cases
}
