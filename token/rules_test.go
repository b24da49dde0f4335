package token

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const body = "Q3xT9mLpV2rZ8kW4nB7yH1cJ5fD6gS0a" // 32 characters

func TestCheck(t *testing.T) {
	tests := map[string]struct {
		tok, prefix string
		want        []error // sentinels, in order
		msgs        []string
	}{
		"valid":                {tok: "wat_" + body, prefix: "wat_"},
		"valid, long":          {tok: "wat_" + body + body[:20] + "-_" + body, prefix: "wat_"},
		"custom prefix":        {tok: "acme_" + body, prefix: "acme_"},
		"empty prefix":         {tok: body, prefix: ""},
		"missing prefix":       {tok: "key_" + body, prefix: "wat_", want: []error{ErrPrefix}, msgs: []string{`token: missing prefix: tokens must start with "wat_"`}},
		"prefix in the middle": {tok: "x" + "wat_" + body, prefix: "wat_", want: []error{ErrPrefix}},
		"empty":                {tok: "", prefix: "wat_", want: []error{ErrPrefix}},
		"prefix only":          {tok: "wat_", prefix: "wat_", want: []error{ErrTooShort}, msgs: []string{"token: too short: 0 characters after the prefix, at least 32 are required"}},
		"31 characters":        {tok: "wat_" + body[:31], prefix: "wat_", want: []error{ErrTooShort}},
		"32 characters":        {tok: "wat_" + body, prefix: "wat_"},
		"512 bytes":            {tok: "wat_" + strings.Repeat(body, 16)[:508], prefix: "wat_"},
		"513 bytes":            {tok: "wat_" + strings.Repeat(body, 17)[:509], prefix: "wat_", want: []error{ErrTooLong}, msgs: []string{"token: too long: 513 bytes, at most 512 are allowed"}},
		"space":                {tok: "wat_" + body[:16] + " " + body[16:], prefix: "wat_", want: []error{ErrWhitespace}, msgs: []string{"token: contains whitespace: tokens must not contain spaces, tabs or line breaks"}},
		"trailing newline":     {tok: "wat_" + body + "\n", prefix: "wat_", want: []error{ErrWhitespace}},
		"carriage return":      {tok: "wat_" + body + "\r", prefix: "wat_", want: []error{ErrWhitespace}},
		"vertical tab":         {tok: "wat_" + body + "\v", prefix: "wat_", want: []error{ErrWhitespace}},
		"leading space":        {tok: " wat_" + body, prefix: "wat_", want: []error{ErrWhitespace, ErrPrefix}},
		"short with a space":   {tok: "wat_ab c", prefix: "wat_", want: []error{ErrWhitespace, ErrTooShort}},
		"invalid characters":   {tok: "wat_" + body[:30] + "+/", prefix: "wat_", want: []error{ErrCharset}, msgs: []string{"token: invalid character: 2 characters outside [A-Za-z0-9_-] after the prefix"}},
		"dot":                  {tok: "wat_" + body[:31] + ".", prefix: "wat_", want: []error{ErrCharset}},
		"non-ASCII":            {tok: "wat_" + body[:31] + "é", prefix: "wat_", want: []error{ErrCharset}},
		"NUL":                  {tok: "wat_" + body + "\x00", prefix: "wat_", want: []error{ErrCharset}},
		"invalid UTF-8":        {tok: "wat_" + body + "\xff", prefix: "wat_", want: []error{ErrCharset}, msgs: []string{"token: invalid character: 1 character outside [A-Za-z0-9_-] after the prefix"}},
		// A stray byte 0x85 is not U+0085 (NEL, whitespace): it was let
		// through by both rules (found by FuzzTokenCheck).
		"stray byte 0x85":        {tok: "wat_" + body + "\x85", prefix: "wat_", want: []error{ErrCharset}},
		"stray byte 0xa0":        {tok: "wat_" + body + "\xa0", prefix: "wat_", want: []error{ErrCharset}},
		"NEL":                    {tok: "wat_" + body + "\u0085", prefix: "wat_", want: []error{ErrWhitespace}},
		"no-break space":         {tok: "wat_" + body + "\u00a0", prefix: "wat_", want: []error{ErrWhitespace}},
		"two-byte character":     {tok: "wat_" + body + "ß", prefix: "wat_", want: []error{ErrCharset}, msgs: []string{"token: invalid character: 1 character outside [A-Za-z0-9_-] after the prefix"}},
		"short and bad chars":    {tok: "wat_a!b", prefix: "wat_", want: []error{ErrTooShort, ErrCharset}},
		"6 repeated":             {tok: "wat_" + body[:10] + "zzzzzz" + body[16:], prefix: "wat_", want: []error{ErrLowEntropy}, msgs: []string{"token: low entropy: a run of 6 or more repeated characters"}},
		"5 repeated":             {tok: "wat_" + body[:10] + "zzzzz" + body[15:], prefix: "wat_"},
		"6 repeated at the end":  {tok: "wat_" + body[:26] + "------", prefix: "wat_", want: []error{ErrLowEntropy}},
		"6 ascending digits":     {tok: "wat_" + body[:10] + "456789" + body[16:], prefix: "wat_", want: []error{ErrLowEntropy}, msgs: []string{"token: low entropy: a run of 6 or more sequential characters"}},
		"6 ascending letters":    {tok: "wat_" + body[:10] + "KLMNOP" + body[16:], prefix: "wat_", want: []error{ErrLowEntropy}},
		"6 descending":           {tok: "wat_" + body[:10] + "zyxwvu" + body[16:], prefix: "wat_", want: []error{ErrLowEntropy}},
		"5 ascending":            {tok: "wat_" + body[:10] + "45678" + body[15:], prefix: "wat_"},
		"9 across a digit break": {tok: "wat_" + body[:10] + "789ABC" + body[16:], prefix: "wat_"},
		"one character":          {tok: "wat_" + strings.Repeat("a", 32), prefix: "wat_", want: []error{ErrLowEntropy}, msgs: []string{"token: low entropy: only 1 distinct character, at least 10 are required"}},
		"9 distinct":             {tok: "wat_" + strings.Repeat("q1w2e3r4t", 4), prefix: "wat_", want: []error{ErrLowEntropy}, msgs: []string{"token: low entropy: only 9 distinct characters, at least 10 are required"}},
		"10 distinct":            {tok: "wat_" + strings.Repeat("q1w2e3r4t5", 4), prefix: "wat_"},
		"prefix not counted":     {tok: "aaaaaaaaaa_" + body, prefix: "aaaaaaaaaa_"},
		"short low entropy":      {tok: "wat_aaaaaaaaaa", prefix: "wat_", want: []error{ErrTooShort}},
		"every rule":             {tok: "wat_ aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", prefix: "wat_", want: []error{ErrWhitespace, ErrCharset, ErrLowEntropy}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			errs := Check(tc.tok, tc.prefix)
			require.Len(t, errs, len(tc.want), "%v", errs)
			for i, err := range errs {
				assert.ErrorIs(t, err, tc.want[i])
				for _, other := range []error{ErrPrefix, ErrTooShort, ErrWhitespace, ErrCharset, ErrLowEntropy} {
					if other != tc.want[i] {
						assert.False(t, errors.Is(err, other), "%v is also %v", err, other)
					}
				}
				if len(tc.tok) > 8 {
					assert.NotContains(t, err.Error(), strings.TrimSpace(tc.tok)[4:], "the message quotes the token")
				}
				assert.True(t, strings.HasPrefix(err.Error(), "token: "), err.Error())
			}
			for i, m := range tc.msgs {
				assert.EqualError(t, errs[i], m)
			}
		})
	}
}

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for _, prefix := range []string{"wat_", "acme_", "", "x"} {
		for range 2000 {
			s, err := Generate(prefix)
			require.NoError(t, err)
			tok := s.Reveal()
			require.True(t, strings.HasPrefix(tok, prefix), tok)
			require.Len(t, tok, len(prefix)+RandomLen+ChecksumLen)
			for i := len(prefix); i < len(tok); i++ {
				require.True(t, strings.IndexByte(Base62, tok[i]) >= 0, "%q is not base62", tok[i])
			}
			require.Empty(t, Check(tok, prefix), "a generated token passes the rules")
			require.True(t, HasChecksum(tok, prefix))
			require.Equal(t, "checksum valid", ChecksumState(tok, prefix))
			require.False(t, seen[tok], "token drawn twice")
			seen[tok] = true
		}
	}

	// The random part is uniform over base62: with 2000 tokens of 32
	// characters, each of the 62 characters appears about 1032 times.
	counts := map[byte]int{}
	n := 0
	for tok := range seen {
		if strings.HasPrefix(tok, "wat_") {
			for i := 4; i < 4+RandomLen; i++ {
				counts[tok[i]]++
				n++
			}
		}
	}
	assert.Len(t, counts, 62)
	for c, k := range counts {
		assert.InDelta(t, n/62, k, float64(n/62)/4, "character %q", c)
	}
}

func TestHasChecksum(t *testing.T) {
	s, err := Generate("wat_")
	require.NoError(t, err)
	tok := s.Reveal()
	assert.True(t, HasChecksum(tok, "wat_"))

	// Changing any single character breaks the checksum.
	for i := 4; i < len(tok); i++ {
		b := []byte(tok)
		b[i] = Base62[(strings.IndexByte(Base62, b[i])+1)%62]
		assert.False(t, HasChecksum(string(b), "wat_"), "position %d changed", i)
	}
	// Swapping two adjacent different characters breaks it too.
	for i := 4; i+1 < len(tok); i++ {
		if tok[i] != tok[i+1] {
			b := []byte(tok)
			b[i], b[i+1] = b[i+1], b[i]
			assert.False(t, HasChecksum(string(b), "wat_"), "positions %d and %d swapped", i, i+1)
		}
	}

	for name, tc := range map[string]struct{ tok, prefix string }{
		"made by another system": {"wat_" + body, "wat_"},
		"longer, no checksum":    {"wat_" + body + body, "wat_"},
		"other prefix":           {tok, "acme_"},
		"prefix removed":         {tok[4:], "wat_"},
		"too short":              {"wat_" + tok[len(tok)-20:], "wat_"},
		"empty":                  {"", "wat_"},
		"checksum only":          {"wat_" + tok[len(tok)-ChecksumLen:], "wat_"},
	} {
		assert.False(t, HasChecksum(tc.tok, tc.prefix), name)
		assert.Equal(t, "no checksum", ChecksumState(tc.tok, tc.prefix), name)
	}

	// The checksum is the base62 CRC-32 of everything before it, padded.
	assert.Equal(t, "wat_"+body+checksum("wat_"+body), "wat_"+body+checksum("wat_"+body))
	assert.True(t, HasChecksum("wat_"+body+checksum("wat_"+body), "wat_"))
	assert.Len(t, checksum(""), ChecksumLen)
	assert.Equal(t, "000000", checksum(""), "CRC-32 of nothing is 0")
}

func TestIsTokenChar(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := strings.IndexByte(Base62+"_-", byte(c)) >= 0
		assert.Equal(t, want, IsTokenChar(byte(c)), "%q", c)
	}
}
