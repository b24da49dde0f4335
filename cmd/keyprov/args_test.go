package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLooksLikeToken(t *testing.T) {
	tests := map[string]struct {
		arg      string
		prefixes []string
		want     bool
	}{
		"token":             {arg: hostileTokens["TOKEN_A"], want: true},
		"token body":        {arg: hostileTokens["TOKEN_A"][4:], want: true},
		"other prefix":      {arg: "acme_Ub3Yk8Pe1Wz6Qr9Ln4Xs7Hc2Mf5Tv0Gd", want: true},
		"prefix flag":       {arg: "k3y9ub3yk8pe1wz6qr9ln4xs7hc2mf5tv0gdq", prefixes: []string{"k3y9"}, want: true},
		"in an address":     {arg: "acme/" + hostileTokens["TOKEN_B"], want: true},
		"with a line break": {arg: hostileTokens["TOKEN_C"] + "\n", want: true},
		"address":           {arg: "acme/website", want: false},
		"long address":      {arg: "customer-facing-website-production-eu/public-reads-7x9q2", want: false},
		"placeholder":       {arg: "wat_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", want: false},
		"short":             {arg: "wat_Hq7Zp2Lx", want: false},
		"path":              {arg: "specs/keys.hcl", want: false},
		"sentence":          {arg: "Leaked In The Build Log Of Tuesday Morning", want: false},
		"hint":              {arg: "wat_…y0Ja", want: false},
		"empty":             {arg: "", want: false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, looksLikeToken(tt.arg, tt.prefixes...))
		})
	}
}

func TestQuoteArg(t *testing.T) {
	assert.Equal(t, `"acme"`, quoteArg("acme"))
	assert.Equal(t, notRepeated, quoteArg(hostileTokens["TOKEN_D"]))
	_, err := parseAddressArg(hostileTokens["TOKEN_E"])
	assert.EqualError(t, err, tokenAddressMessage)
	_, err = parseAddressArg("acme")
	assert.ErrorContains(t, err, `"acme"`)
	addr, err := parseAddressArg("acme/website")
	assert.NoError(t, err)
	assert.Equal(t, "acme/website", addr.String())
}
