// Package token holds API-key tokens safely: a Secret type that never prints
// its value, the digest keyprov stores instead of the token, the display hint,
// the token rules and the generator.
package token

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"

	"github.com/rs/zerolog"
)

// Redacted is what every formatting of a Secret prints.
const Redacted = "(sensitive)"

// Secret is a token value. Printing it in any way (fmt verbs, %#v, JSON,
// text marshalling, zerolog's Interface, Any, Stringer and Object) yields
// Redacted; the value is reached only through Reveal. The value sits behind
// a pointer so that even reflection-based printing of a struct that embeds
// a Secret in an unexported field shows an address, never the token.
type Secret struct {
	p *string
}

// NewSecret wraps v.
func NewSecret(v string) Secret { return Secret{p: &v} }

// Reveal returns the token. Call it only to hash or to compare the value.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsZero reports whether s holds no value.
func (s Secret) IsZero() bool { return s.p == nil || *s.p == "" }

// String implements fmt.Stringer.
func (s Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer.
func (s Secret) GoString() string { return "token.Secret(" + Redacted + ")" }

// Format implements fmt.Formatter so that every verb (%v, %+v, %s, %q, %x, %d…) is redacted.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	_, _ = f.Write([]byte(Redacted))
}

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// MarshalZerologObject implements zerolog.LogObjectMarshaler, so that
// log.Object("token", s) writes {"token":{"value":"(sensitive)"}}.
func (s Secret) MarshalZerologObject(e *zerolog.Event) { e.Str("value", Redacted) }

// Digest is the SHA-256 digest of a token, the only form in which keyprov
// stores or compares tokens.
func (s Secret) Digest() Digest { return DigestOf(s.Reveal()) }

// Equal compares two secrets in constant time.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.Reveal()), []byte(o.Reveal())) == 1
}

// Hint is the display form of a token: the prefix, an ellipsis and the last
// four characters (e.g. "wat_…9fQx"). prefix is the configured token prefix;
// when the token does not carry it, only the last four characters are shown.
func (s Secret) Hint(prefix string) string { return Hint(s.Reveal(), prefix) }

// Hint returns the display hint of tok; see Secret.Hint.
func Hint(tok, prefix string) string {
	last := tok
	if len(tok) >= len(prefix) && tok[:len(prefix)] == prefix {
		last = tok[len(prefix):]
	} else {
		prefix = ""
	}
	if len(last) > 4 {
		last = last[len(last)-4:]
	} else {
		last = ""
	}
	return prefix + "…" + last
}

// Scheme names the hashing scheme of a stored digest, so that other schemes
// (HMAC-SHA256 with a server-side pepper) can be added without ambiguity.
const Scheme = "sha256"

// Digest is a SHA-256 digest of a token.
type Digest [sha256.Size]byte

// DigestOf hashes tok.
func DigestOf(tok string) Digest {
	// Copied to the stack: a conversion of a token longer than 32 bytes
	// would allocate, once per key of a spec.
	var buf [128]byte
	return sha256.Sum256(append(buf[:0], tok...))
}

// Hex returns the lowercase hexadecimal form, as stored procedures and other
// languages compute it (encode(sha256(token), 'hex')).
func (d Digest) Hex() string { return hex.EncodeToString(d[:]) }

// IsZero reports whether d is the zero digest (no token).
func (d Digest) IsZero() bool { return d == Digest{} }
