package spec

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tokens with a keyprov checksum, as keyprov token new makes them.
const (
	tokSumA = "wat_bnBTgVoD2rUL1NhRqSTgqH7AYE1KJgUx1uOX95"
	tokSumB = "wat_VtlT2tSmDRn8agLwfJ5w7rtilvXTJJ5t33GZ36"
)

// settings { token_checksum = true } requires a checksum on every key's
// token, but not on its previous_token: a rotation away from tokens
// without checksums works. Each token says whether it carries one.
func TestTokenChecksumSetting(t *testing.T) {
	env := fakeEnv{"SUM_A": tokSumA, "SUM_B": tokSumB, "PLAIN_A": tokA, "PLAIN_B": tokB}
	key := func(tok, prev string) string {
		s := "settings {\n  token_checksum = true\n}\nuniversal_key \"a\" {\n  name  = \"a\"\n  token = env(\"" + tok + "\")\n"
		if prev != "" {
			s += "  previous_token = env(\"" + prev + "\")\n  previous_until = \"2099-01-01T00:00:00Z\"\n"
		}
		return s + "}\n"
	}

	s, diags := load(t, key("SUM_A", "PLAIN_A"), Options{Secrets: true, LookupEnv: env.lookup})
	require.False(t, diags.HasErrors(), dumpDiags(diagsOf(diags)))
	assert.True(t, s.Settings.TokenChecksum)
	assert.True(t, s.Keys[0].Token.Checksum)
	assert.False(t, s.Keys[0].Previous.Token.Checksum, "a previous_token without a checksum is accepted")

	_, diags = load(t, key("PLAIN_B", "SUM_B"), Options{Secrets: true, LookupEnv: env.lookup})
	requireDiags(t, diags, diag{Pos: "keys.hcl:6:11", Summary: "Invalid token", Detail: `The token read from env("PLAIN_B") carries no keyprov checksum, which settings.token_checksum requires`, Address: "root/a"})

	// Offline, tokens are not read: nothing to check.
	_, diags = load(t, key("PLAIN_B", ""), Options{})
	assert.False(t, diags.HasErrors(), dumpDiags(diagsOf(diags)))

	// Without the setting, a token without a checksum is fine, and says so.
	s, diags = load(t, "universal_key \"a\" {\n  name  = \"a\"\n  token = env(\"PLAIN_A\")\n}\n", Options{Secrets: true, LookupEnv: env.lookup})
	require.False(t, diags.HasErrors(), dumpDiags(diagsOf(diags)))
	assert.False(t, s.Settings.TokenChecksum)
	assert.False(t, s.Keys[0].Token.Checksum)

	_, diags = load(t, "settings {\n  token_checksum = \"yes\"\n}\n", Options{})
	assert.True(t, diags.HasErrors(), "token_checksum is a bool")
}
