package token

import (
	"crypto/rand"
	"errors"
	"fmt"
	"hash/crc32"
	"math/bits"
	"strings"
	"unicode/utf8"
)

// DefaultPrefix is the token prefix used when the spec does not set one.
const DefaultPrefix = "wat_"

// MinBodyLen is the minimum number of characters after the prefix.
const MinBodyLen = 32

// MaxLen bounds a whole token, so that a verifier never hashes whatever
// megabytes a client sends, and the rules below stay cheap.
const MaxLen = 512

// Errors returned by Check. Their messages never contain the token.
var (
	ErrPrefix     = errors.New("token: missing prefix")
	ErrTooShort   = errors.New("token: too short")
	ErrTooLong    = errors.New("token: too long")
	ErrWhitespace = errors.New("token: contains whitespace")
	ErrCharset    = errors.New("token: invalid character")
	ErrLowEntropy = errors.New("token: low entropy")
)

// Low-entropy rule. A token body (the part after the prefix) is rejected when
//   - it has fewer than MinDistinct distinct characters, or
//   - it contains a run of MaxRun or more characters that repeat ("aaaaaa")
//     or step by one in either direction ("012345", "fedcba").
//
// A random base62 body of 32 characters has about 25 distinct characters and
// the chance that it contains such a run is below one in ten million, so the
// rule rejects only hand-made tokens.
const (
	MinDistinct = 10
	MaxRun      = 6
)

// IsTokenChar reports whether c may appear in a token body.
func IsTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// Check applies the token rules to tok and returns every rule it breaks, each
// wrapping one of the sentinel errors above. A nil result means the token is
// acceptable.
func Check(tok, prefix string) []error {
	if acceptable(tok, prefix) {
		return nil
	}
	return check(tok, prefix)
}

// tokenChars marks the bytes IsTokenChar accepts, for acceptable's loop.
var tokenChars = func() (t [256]bool) {
	for c := range t {
		t[c] = IsTokenChar(byte(c))
	}
	return t
}()

// acceptable reports, in one pass over the token, that it is of the usual
// shape and breaks no rule: the prefix (without whitespace), then
// MinBodyLen or more token characters, at most MaxLen bytes in all, with
// MinDistinct distinct ones and no run. For anything else it reports
// false, and check says which rules are broken. Every apply checks every
// token of its spec: a million tokens took half a second of check's
// passes.
func acceptable(tok, prefix string) bool {
	body, ok := strings.CutPrefix(tok, prefix)
	if !ok || len(tok) > MaxLen || len(body) < MinBodyLen || strings.IndexFunc(prefix, isSpace) >= 0 {
		return false
	}
	prev := body[0]
	if !tokenChars[prev] {
		return false
	}
	var seen [2]uint64 // token characters are ASCII
	seen[prev>>6&1] = 1 << (prev & 63)
	rep, up, down := 1, 1, 1
	for i := 1; i < len(body); i++ {
		c := body[i]
		if !tokenChars[c] {
			return false
		}
		seen[c>>6&1] |= 1 << (c & 63)
		switch c - prev {
		case 0:
			rep, up, down = rep+1, 1, 1
		case 1:
			rep, up, down = 1, up+1, 1
		case 255: // c = prev - 1
			rep, up, down = 1, 1, down+1
		default:
			rep, up, down = 1, 1, 1
		}
		if rep >= MaxRun || up >= MaxRun || down >= MaxRun {
			return false
		}
		prev = c
	}
	return bits.OnesCount64(seen[0])+bits.OnesCount64(seen[1]) >= MinDistinct
}

// check applies every rule, one at a time, and explains each broken one.
func check(tok, prefix string) []error {
	if len(tok) > MaxLen {
		return []error{fmt.Errorf("%w: %d bytes, at most %d are allowed", ErrTooLong, len(tok), MaxLen)}
	}
	var errs []error
	if strings.IndexFunc(tok, isSpace) >= 0 {
		errs = append(errs, fmt.Errorf("%w: tokens must not contain spaces, tabs or line breaks", ErrWhitespace))
	}
	body, ok := strings.CutPrefix(tok, prefix)
	if !ok {
		errs = append(errs, fmt.Errorf("%w: tokens must start with %q", ErrPrefix, prefix))
		return errs
	}
	if n := len(body); n < MinBodyLen {
		errs = append(errs, fmt.Errorf("%w: %d characters after the prefix, at least %d are required", ErrTooShort, n, MinBodyLen))
	}
	// Characters are runes; a byte that is not valid UTF-8 counts as one.
	// Whitespace is reported by its own rule above, not counted again.
	bad := 0
	for _, r := range body {
		if !(r < utf8.RuneSelf && IsTokenChar(byte(r))) && !isSpace(r) {
			bad++
		}
	}
	if bad > 0 {
		errs = append(errs, fmt.Errorf("%w: %s outside [A-Za-z0-9_-] after the prefix", ErrCharset, count(bad, "character")))
	}
	if len(body) >= MinBodyLen {
		if why := lowEntropy(body); why != "" {
			errs = append(errs, fmt.Errorf("%w: %s", ErrLowEntropy, why))
		}
	}
	return errs
}

// count returns "1 character" or "n characters".
func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func isSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\v', '\f', 0x85, 0xA0:
		return true
	}
	return false
}

func lowEntropy(body string) string {
	var seen [256]bool
	distinct := 0
	for i := 0; i < len(body); i++ {
		if !seen[body[i]] {
			seen[body[i]] = true
			distinct++
		}
	}
	if distinct < MinDistinct {
		return fmt.Sprintf("only %s, at least %d are required", count(distinct, "distinct character"), MinDistinct)
	}
	rep, up, down := 1, 1, 1
	for i := 1; i < len(body); i++ {
		d := int(body[i]) - int(body[i-1])
		rep, up, down = step(rep, d == 0), step(up, d == 1), step(down, d == -1)
		if rep >= MaxRun {
			return fmt.Sprintf("a run of %d or more repeated characters", MaxRun)
		}
		if up >= MaxRun || down >= MaxRun {
			return fmt.Sprintf("a run of %d or more sequential characters", MaxRun)
		}
	}
	return ""
}

func step(n int, cont bool) int {
	if cont {
		return n + 1
	}
	return 1
}

// Base62 is the alphabet of generated tokens.
const Base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// RandomLen is the number of random base62 characters in a generated token;
// ChecksumLen characters of checksum follow them.
const (
	RandomLen   = 32
	ChecksumLen = 6
)

// Generate returns a new token: prefix, RandomLen characters from a
// cryptographic random source in base62, then the checksum.
func Generate(prefix string) (Secret, error) {
	buf := make([]byte, 0, len(prefix)+RandomLen+ChecksumLen)
	buf = append(buf, prefix...)
	var rnd [64]byte
	for len(buf) < len(prefix)+RandomLen {
		if _, err := rand.Read(rnd[:]); err != nil {
			return Secret{}, fmt.Errorf("token: reading random bytes: %w", err)
		}
		for _, b := range rnd {
			// Rejection sampling keeps the distribution uniform: 248 = 4*62.
			if b < 248 && len(buf) < len(prefix)+RandomLen {
				buf = append(buf, Base62[b%62])
			}
		}
	}
	buf = append(buf, checksum(string(buf))...)
	tok := string(buf)
	if errs := Check(tok, prefix); len(errs) > 0 {
		// A uniformly random body breaks the entropy rule with negligible
		// probability; draw again rather than hand out a weak token.
		return Generate(prefix)
	}
	return NewSecret(tok), nil
}

// checksum is the CRC-32 (IEEE) of s in base62, left-padded to ChecksumLen.
func checksum(s string) string {
	c := checksumOf(s)
	return string(c[:])
}

// crc32IEEE is crc32.ChecksumIEEE(s), table by table on the string:
// the library's function takes a []byte that escapes, so a conversion
// would allocate a copy of every token.
func crc32IEEE(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ (crc >> 8)
	}
	return ^crc
}

// checksumOf is checksum without allocating: it runs for every token of
// a spec (HasChecksum), a million at a time.
func checksumOf(s string) [ChecksumLen]byte {
	n := crc32IEEE(s)
	var out [ChecksumLen]byte
	for i := ChecksumLen - 1; i >= 0; i-- {
		out[i] = Base62[n%62]
		n /= 62
	}
	return out
}

// HasChecksum reports whether tok ends in a valid keyprov checksum: the last
// ChecksumLen characters are the base62 CRC-32 of everything before them.
// Tokens made by other systems have none and are still accepted; a scanner
// uses the checksum to tell real tokens from look-alikes.
func HasChecksum(tok, prefix string) bool {
	body, ok := strings.CutPrefix(tok, prefix)
	if !ok || len(body) < RandomLen+ChecksumLen {
		return false
	}
	cut := len(tok) - ChecksumLen
	c := checksumOf(tok[:cut])
	return string(c[:]) == tok[cut:]
}

// ChecksumState describes HasChecksum for people: "checksum valid" or "no checksum".
func ChecksumState(tok, prefix string) string {
	if HasChecksum(tok, prefix) {
		return "checksum valid"
	}
	return "no checksum"
}
