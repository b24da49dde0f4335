package spec

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/keyprov/keyprov/token"
)

// fuzzEnv is the fixed fake environment of FuzzSpec: the test tokens, an
// empty variable, a weak token and a variable for KEYPROV_VAR_tenants.
var fuzzEnv = fakeEnv{
	"A":                   tokA,
	"B":                   tokB,
	"C":                   tokC,
	"EMPTY":               "",
	"WEAK":                "wat_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	"SPACE":               "wat_Q3xT9mLpV2rZ8kW4 nB7yH1cJ5fD6gS0a",
	"KEYPROV_VAR_tenants": `["acme", "globex"]`,
	"KEYPROV_VAR_owner":   "platform",
}

// fuzzDeadline bounds one evaluation: a spec that takes longer is a bug
// (a denial of service at boot), reported with every goroutine's stack.
const fuzzDeadline = 20 * time.Second

// FuzzSpec feeds arbitrary spec text (native syntax, or JSON syntax when
// isJSON is set) through parse, evaluate and validate, offline and with
// secrets read from fuzzEnv and spec/testdata/fuzzfs, with the speed layer
// on and off (evaluateWithin). It must never panic, every error must carry
// a summary, no diagnostic may quote a token of the environment, and the
// speed layer must change nothing.
func FuzzSpec(f *testing.F) {
	f.Add([]byte(`universal_key "frontend" {
  name  = "Front end"
  token = env("A")
}`), false)
	f.Fuzz(func(t *testing.T, src []byte, isJSON bool) {
		name := "keys.hcl"
		if isJSON {
			name = "keys.hcl.json"
		}
		dir, err := filepath.Abs("testdata/fuzzfs")
		if err != nil {
			t.Fatal(err)
		}
		srcs := []Source{{Name: name, Dir: dir, Bytes: src}}
		for _, secrets := range []bool{false, true} {
			opts := Options{
				Secrets:   secrets,
				LookupEnv: fuzzEnv.lookup,
				Vars:      []Var{{Name: "region", Value: "eu"}},
				Limits:    Limits{MaxFileBytes: 1 << 16, MaxKeys: 2000},
			}
			s, diags := evaluateWithin(t, srcs, opts)
			checkFuzzResult(t, s, diags, src)
		}
	})
}

func checkFuzzResult(t *testing.T, s *Spec, diags hcl.Diagnostics, src []byte) {
	t.Helper()
	if diags.HasErrors() != (s == nil) {
		t.Fatalf("spec is nil: %v, but errors: %v", s == nil, diags.HasErrors())
	}
	for _, d := range diags {
		if d.Summary == "" {
			t.Fatalf("diagnostic without summary: %#v", d)
		}
		text := d.Summary + " " + d.Detail + " " + DiagnosticAddress(d)
		for name, v := range fuzzEnv {
			if strings.HasPrefix(v, "wat_") && strings.Contains(text, v[4:]) && !strings.Contains(string(src), v[4:]) {
				t.Fatalf("diagnostic quotes the value of %s: %s", name, text)
			}
		}
	}
	if s == nil {
		return
	}
	for i, k := range s.Keys {
		if i > 0 && s.Keys[i-1].Address.Compare(k.Address) >= 0 {
			t.Fatalf("keys not sorted or not unique: %s, %s", s.Keys[i-1].Address, k.Address)
		}
		if !ValidIdent(k.Address.Tenant) || !ValidIdent(k.Address.Slug) {
			t.Fatalf("invalid address %q", k.Address)
		}
		if k.Token.Known && len(token.Check(k.Token.Secret.Reveal(), s.Settings.TokenPrefix)) > 0 {
			t.Fatalf("%s: token breaks a rule but the spec is valid", k.Address)
		}
		if s.Key(k.Address) != k {
			t.Fatalf("Key(%s) does not find the key", k.Address)
		}
	}
}
