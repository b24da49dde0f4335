package spec

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// varFileSpec declares one variable of each kind that variable files and
// -var set, and a tenant key per tenant whose description shows them all.
const varFileSpec = `variable "tenants" {
  type    = list(string)
  default = []
}

variable "owner" {
  type    = string
  default = "web"
}

variable "limits" {
  type    = map(number)
  default = {}
}

variable "flags" {
  type    = object({ on = bool, tags = set(string) })
  default = { on = false, tags = [] }
}

variable "anything" {
  default = null
}

tenant_key "site" {
  for_each    = toset(var.tenants)
  tenant      = each.key
  name        = "Site of ${var.owner}"
  token       = env("TOKEN")
  description = jsonencode([var.limits, var.flags, var.anything])
}
`

// fuzzVarOptions are the options of the variable fuzz targets: offline,
// with small limits so that a large input is refused rather than slow.
func fuzzVarOptions() Options {
	return Options{LookupEnv: fakeEnv{}.lookup, Limits: Limits{MaxFileBytes: 1 << 16, MaxKeys: 2000}}
}

// evaluateWithin evaluates srcs with the speed layer on and off, fails t
// unless both give the same (evalBothWays), and panics with every
// goroutine's stack if one evaluation takes longer than fuzzDeadline: a
// slow input is a denial of service.
func evaluateWithin(t testing.TB, srcs []Source, opts Options) (*Spec, hcl.Diagnostics) {
	t.Helper()
	return evalBothWays(t, func() (*Spec, hcl.Diagnostics) {
		timer := time.AfterFunc(fuzzDeadline, func() {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			panic(fmt.Sprintf("evaluation took longer than %s:\n%s", fuzzDeadline, buf[:n]))
		})
		defer timer.Stop()
		return Evaluate(srcs, opts)
	})
}

// diagText renders diagnostics for comparing two evaluations.
func diagText(ds hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		pos := ""
		if d.Subject != nil {
			pos = Pos(*d.Subject)
		}
		fmt.Fprintf(&b, "%s|%s|%s|%s\n", pos, d.Summary, d.Detail, DiagnosticAddress(d))
	}
	return b.String()
}

// checkVarResult applies the invariants of every evaluation: errors and
// a spec never come together, every diagnostic has a summary and a sane
// position, and the keys of a valid spec are valid.
func checkVarResult(t *testing.T, s *Spec, ds hcl.Diagnostics) {
	t.Helper()
	if ds.HasErrors() != (s == nil) {
		t.Fatalf("spec is nil: %v, but errors: %v\n%s", s == nil, ds.HasErrors(), diagText(ds))
	}
	for _, d := range ds {
		if d.Summary == "" {
			t.Fatalf("diagnostic without summary: %#v", d)
		}
		if r := d.Subject; r != nil && (r.Start.Line < 1 || r.Start.Column < 1 || r.End.Byte < r.Start.Byte) {
			t.Fatalf("diagnostic with an invalid range %#v: %s", r, d.Summary)
		}
	}
	if s == nil {
		return
	}
	for _, k := range s.Keys {
		if !ValidIdent(k.Address.Tenant) || !ValidIdent(k.Address.Slug) {
			t.Fatalf("invalid address %q", k.Address)
		}
		if msg := checkText(k.Name, false, maxNameLen); msg != "" {
			t.Fatalf("%s: the name %s", k.Address, msg)
		}
		if msg := checkText(k.Description, true, maxDescriptionLen); msg != "" {
			t.Fatalf("%s: the description %s", k.Address, msg)
		}
	}
}

// FuzzVarFile feeds arbitrary variable files, in HCL or in JSON, to a spec
// that declares variables of every kind. Reading them must never panic or
// hang, must give the same result twice, and a valid result must hold only
// valid keys.
func FuzzVarFile(f *testing.F) {
	for _, seed := range []struct {
		src    string
		isJSON bool
	}{
		{`tenants = ["acme", "globex"]` + "\n" + `owner = "platform"`, false},
		{`limits = { acme = 10, globex = 1e3 }` + "\n" + `flags = { on = true, tags = ["a", "b", "a"] }`, false},
		{`anything = { nested = [1, "two", { three = null }] }`, false},
		{`tenants = [for t in ["a", "b"] : upper(t)]`, false},
		{`owner = "${"a"}${"b"}"` + "\n" + `tenants = ["x"]` + "\n" + `tenants = ["y"]`, false},
		{`nope = 1`, false},
		{`tenants = env("X")`, false},
		{"owner = <<EOT\nheredoc\nEOT\n", false},
		{`{"tenants": ["acme", "globex"], "owner": "platform"}`, true},
		{`{"limits": {"acme": 1.5}, "flags": {"on": true, "tags": []}, "anything": [[[["deep"]]]]}`, true},
		{`{"tenants": ["${upper(\"acme\")}"], "owner": "${var.owner}"}`, true},
		{`{"owner": "caf\u00e9 \ud83d\ude00", "tenants": []}`, true},
		{`{"owner": "\ud800"}`, true},
		{"{\"owner\": \"a\xffb\"}", true},
		{`[{"owner": "a"}, {"owner": "b"}]`, true},
		{`{"tenants": ["a",]}`, true},
		{`{"tenants": ` + strings.Repeat("[", 1100) + strings.Repeat("]", 1100) + `}`, true},
		{`tenants = ` + strings.Repeat("[", 1100) + strings.Repeat("]", 1100), false},
	} {
		f.Add([]byte(seed.src), seed.isJSON)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src []byte, isJSON bool) {
		path := filepath.Join(dir, "vars.hcl")
		if isJSON {
			path = filepath.Join(dir, "vars.json")
		}
		if err := os.WriteFile(path, src, 0o644); err != nil {
			t.Fatal(err)
		}
		opts := fuzzVarOptions()
		opts.VarFiles = []string{path}
		srcs := []Source{{Name: "keys.hcl", Dir: dir, Bytes: []byte(varFileSpec)}}
		s, ds := evaluateWithin(t, srcs, opts)
		checkVarResult(t, s, ds)
		s2, ds2 := evaluateWithin(t, srcs, opts)
		if (s == nil) != (s2 == nil) || diagText(ds) != diagText(ds2) {
			t.Fatalf("two evaluations differ:\n%s\n---\n%s", diagText(ds), diagText(ds2))
		}
	})
}

// varTypes are the types FuzzVarValue declares its variable with.
var varTypes = []string{"", "string", "number", "bool", "list(string)", "map(string)", "object({ a = string, b = optional(number) })", "set(number)", "any", "tuple([string, bool])"}

// FuzzVarValue gives a variable of each type a value from -var and the same
// value from KEYPROV_VAR_<name>. Both must agree; neither may panic or hang;
// a string is taken exactly as written
// (in Unicode normal form C, as cty keeps every string).
func FuzzVarValue(f *testing.F) {
	for _, seed := range []struct {
		raw string
		ty  uint8
	}{
		{"platform", 1},
		{`Robert'); DROP TABLE keyprov.keys; --`, 1},
		{"${upper(\"x\")}", 1},
		{"42", 2},
		{"1e400", 2},
		{"-0x10", 2},
		{"true", 3},
		{"maybe", 3},
		{`["acme", "globex"]`, 4},
		{`["acme", env("X")]`, 4},
		{`[for i in range(3) : "t${i}"]`, 4},
		{`{ acme = "a", "globex" = "b" }`, 5},
		{`{ a = "x" }`, 6},
		{`{ b = 1 }`, 6},
		{`[1, 2, 2, 3]`, 7},
		{`[`, 8},
		{`["a", true]`, 9},
		{strings.Repeat("[", 1100) + strings.Repeat("]", 1100), 4},
		{strings.Repeat("-", 2000) + "1", 2},
		{"a\x00b\xff", 0},
	} {
		f.Add(seed.raw, seed.ty)
	}
	f.Fuzz(func(t *testing.T, raw string, ty uint8) {
		typ := varTypes[int(ty)%len(varTypes)]
		decl := "variable \"v\" {\n}\n"
		if typ != "" {
			decl = "variable \"v\" {\n  type = " + typ + "\n}\n"
		}
		src := decl + `universal_key "a" {
  name        = "A"
  token       = env("TOKEN")
  description = jsonencode(var.v)
}
`
		srcs := []Source{{Name: "keys.hcl", Dir: ".", Bytes: []byte(src)}}
		viaFlag := fuzzVarOptions()
		viaFlag.Vars = []Var{{Name: "v", Value: raw}}
		s1, ds1 := evaluateWithin(t, srcs, viaFlag)
		checkVarResult(t, s1, ds1)
		viaEnv := fuzzVarOptions()
		viaEnv.LookupEnv = fakeEnv{EnvVarPrefix + "v": raw}.lookup
		s2, ds2 := evaluateWithin(t, srcs, viaEnv)
		checkVarResult(t, s2, ds2)

		// The two differ only in the name of where the value came from.
		norm := strings.ReplaceAll(diagText(ds2), EnvVarPrefix+"v", "-var v")
		if (s1 == nil) != (s2 == nil) || diagText(ds1) != norm {
			t.Fatalf("-var and %sv disagree:\n%s\n---\n%s", EnvVarPrefix, diagText(ds1), diagText(ds2))
		}
		if s1 == nil {
			return
		}
		if typ == "" || typ == "string" {
			var got string
			if err := json.Unmarshal([]byte(s1.Keys[0].Description), &got); err != nil {
				t.Fatalf("description %q: %v", s1.Keys[0].Description, err)
			}
			// As written, up to cty's normalisation of strings (NFC).
			if want := cty.StringVal(raw).AsString(); got != want {
				t.Fatalf("the string variable is %q, want it as written: %q", got, want)
			}
		}
	})
}

// FuzzJSONDecode feeds arbitrary text to the JSON reader behind jsondecode,
// which reads secrets files (jsondecode(file("secrets.json"))). It must not
// panic, must accept only valid JSON, and what it accepts must survive a
// round trip through cty's JSON encoding.
func FuzzJSONDecode(f *testing.F) {
	for _, seed := range []string{
		`{"acme": "wat_Q3xT9mLpV2rZ8kW4nB7yH1cJ5fD6gS0a"}`,
		`{"a": 1, "b": [true, null, 1.5e300], "c": {"d": "e"}}`,
		`[1, "two", [3]]`,
		`"just a string"`,
		`12345678901234567890123456789`,
		`{"a": 1, "a": 2}`,
		`{"\ud83d\ude00": "\u0000", "": ""}`,
		`{"x": "\ud800"}`,
		"{\"x\": \"\xff\"}",
		`[1, 2,]`,
		`{"a": NaN}`,
		strings.Repeat("[", 1001) + strings.Repeat("]", 1001),
		strings.Repeat(`{"a":`, 999) + "1" + strings.Repeat("}", 999),
		`{"k0": "v", "k1": "v", "k2": "v", "k3": "v", "k4": "v", "k5": "v", "k6": "v", "k7": "v", "k8": "v", "k9": "v", "k10": "v", "k11": "v", "k12": "v", "k13": "v", "k14": "v", "k15": "v", "k16": "v", "k17": "v", "k18": "v", "k19": "v", "k20": "v", "k21": "v", "k22": "v", "k23": "v", "k24": "v", "k25": "v", "k26": "v", "k27": "v", "k28": "v", "k29": "v", "k30": "v", "k31": "v", "k32": "v"}`,
		`  {"a": [] }  `,
		`{"a": 1} {"b": 2}`,
		``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := decodeJSON(s)
		// The speed layer decodes the same.
		withSpeedLayer(t, false)
		slow, slowErr := decodeJSON(s)
		if fmt.Sprint(err) != fmt.Sprint(slowErr) || (err == nil && !slow.RawEquals(v)) {
			t.Fatalf("the speed layer changes jsondecode: %#v, %v; without it %#v, %v", v, err, slow, slowErr)
		}
		if err != nil {
			return
		}
		if !json.Valid([]byte(s)) {
			t.Fatalf("accepted invalid JSON %q as %#v", s, v)
		}
		if typeTooDeep(v.Type(), MaxNesting) {
			t.Fatalf("accepted a value nested more than %d levels", MaxNesting)
		}
		b, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			t.Fatalf("cannot encode what was decoded: %v", err)
		}
		back, err := ctyjson.Unmarshal(b, v.Type())
		if err != nil {
			t.Fatalf("cannot decode %s again: %v", b, err)
		}
		if !back.RawEquals(v) && !(v.IsKnown() && back.Equals(v) == cty.True) {
			t.Fatalf("round trip changed %#v into %#v", v, back)
		}
	})
}
