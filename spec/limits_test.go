package spec

import (
	"strings"
	"testing"
)

// TestMaxKeysOfBlocks checks the key limit when keys are declared one
// block each: the error points at the first block past the limit.
func TestMaxKeysOfBlocks(t *testing.T) {
	var b strings.Builder
	for _, slug := range []string{"a", "b", "c", "d"} {
		b.WriteString("universal_key \"" + slug + "\" {\n  name  = \"K\"\n  token = env(\"T_" + slug + "\")\n}\n")
	}
	_, ds := load(t, b.String(), Options{Limits: Limits{MaxKeys: 2}})
	requireDiags(t, ds, diag{Pos: "keys.hcl:9:1", Summary: "Too many keys",
		Detail: "The spec declares 4 keys; the limit is 2 (KEYPROV_MAX_KEYS), and this block is the first past it."})
}
