package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// refSecrets are what the token references of FuzzTokenExpression can read:
// each a valid token, so that a value that reaches a key whole passes the
// token rules, and a value computed from one is caught by the comparison
// below rather than by a rule.
var refSecrets = map[string]string{
	"env A":     tokA,
	"file":      tokB,
	"json k":    tokC,
	"trim file": tokD,
}

// refLeaves are the expressions that read a secret, and the fragments that
// are not secrets at all.
var refLeaves = []string{
	`env("A")`,
	`file("t.txt")`,
	`trimspace(file("pad.txt"))`,
	`jsondecode(file("s.json"))["k"]`,
	`jsondecode(file("s.json")).k`,
	`lookup(jsondecode(file("s.json")), "k")`,
	`env(local.name)`,
	`file(var.path)`,
	`"wat_Hq7Zp2Lx9Vb4Nc8Tm1Rw5Ks3Df6Gy0Ja"`,
	`local.name`,
	`jsondecode(file("s.json"))`,
	`file(env("A"))`,
}

// refWrappers build an expression around one (%[1]s) or two (%[2]s)
// others: the functions and operators a hostile spec could compute with.
var refWrappers = []string{
	`"${%[1]s}"`,
	`(%[1]s)`,
	`trimspace(%[1]s)`,
	`upper(%[1]s)`,
	`substr(%[1]s, 0, 36)`,
	`format("%%s", %[1]s)`,
	`join("", [%[1]s])`,
	`try(%[1]s, %[2]s)`,
	`can(%[1]s) ? %[2]s : %[1]s`,
	`coalesce(%[1]s, %[2]s)`,
	`[%[1]s][0]`,
	`{a = %[1]s}.a`,
	`{a = %[1]s}["a"]`,
	`lookup({a = %[1]s}, "a", %[2]s)`,
	`%[1]s == %[2]s ? %[1]s : %[2]s`,
	`replace(%[1]s, "Q", "Q")`,
	`[for c in [%[1]s] : c][0]`,
	`{for c in [%[1]s] : c => c}[%[2]s]`,
	`"${%[1]s}${%[2]s}"`,
	`tostring(%[1]s)`,
	`jsondecode(jsonencode(%[1]s))`,
	`element(split(",", %[1]s), 0)`,
	`"%%{ if %[1]s != "" }${%[2]s}%%{ endif }"`,
}

// genRefExpr turns fuzz bytes into a token expression: a byte below 128
// picks a wrapper, whose arguments the next bytes make, and any other a
// leaf.
func genRefExpr(b []byte, depth int) (string, []byte) {
	if len(b) == 0 {
		return refLeaves[0], b
	}
	c := int(b[0])
	b = b[1:]
	if c >= 128 || depth > 4 {
		return refLeaves[c%128%len(refLeaves)], b
	}
	w := refWrappers[c%len(refWrappers)]
	x, b := genRefExpr(b, depth+1)
	y, b := genRefExpr(b, depth+1)
	return fmt.Sprintf(w, x, y), b
}

// FuzzTokenExpression generates token expressions from a grammar of HCL
// functions and operators around env() and file(), and checks that each is
// either refused, or yields exactly one of the secrets its references read,
// passed through whole. Nothing computed from a secret reaches a key, and
// no diagnostic quotes a secret or a part of one.
func FuzzTokenExpression(f *testing.F) {
	// Every leaf, and every wrapper around every leaf: the seeds run in
	// every `go test`, not only when fuzzing.
	for l := range refLeaves {
		f.Add([]byte{byte(128 + l)})
		for w := range refWrappers {
			f.Add([]byte{byte(w), byte(128 + l), byte(128 + (l+1)%len(refLeaves))})
		}
	}
	dir := f.TempDir()
	for name, text := range map[string]string{
		"t.txt":   tokB + "\n",
		"pad.txt": "  " + tokD + "\n\n",
		"s.json":  `{"k": "` + tokC + `", "n": 1}`,
	} {
		require.NoError(f, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		expr, _ := genRefExpr(b, 0)
		src := "variable \"path\" {\n  default = \"t.txt\"\n}\nlocals {\n  name = \"A\"\n}\n" +
			"universal_key \"a\" {\n  name  = \"a\"\n  token = " + expr + "\n}\n"
		for _, secrets := range []bool{false, true} {
			s, ds := Evaluate([]Source{{Name: "keys.hcl", Dir: dir, Bytes: []byte(src)}}, Options{Secrets: secrets, LookupEnv: fakeEnv{"A": tokA}.lookup})
			for _, d := range ds {
				for _, secret := range refSecrets {
					for _, part := range []string{secret, secret[4:16], secret[16:]} {
						if strings.Contains(d.Summary+d.Detail, part) {
							t.Fatalf("token = %s: a diagnostic quotes a secret: %s: %s", expr, d.Summary, d.Detail)
						}
					}
				}
			}
			if ds.HasErrors() {
				continue
			}
			require.NotNil(t, s)
			require.Len(t, s.Keys, 1)
			tok := s.Keys[0].Token
			if !secrets {
				if tok.Known {
					t.Fatalf("token = %s: known offline", expr)
				}
				continue
			}
			got := tok.Secret.Reveal()
			whole := false
			for _, secret := range refSecrets {
				whole = whole || got == secret
			}
			if !whole {
				t.Fatalf("token = %s: accepted a value that is not one secret read whole (%d characters)", expr, len(got))
			}
		}
	})
}
