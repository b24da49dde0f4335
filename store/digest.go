package store

import (
	"github.com/keyprov/keyprov/internal/keycontent"
)

// ContentDigest is the SHA-256 of a key row's content (keycontent.Digest):
// every field of keycontent.Fields, that is every column a spec sets or
// an apply changes except the address and the disabled state. keyprov
// stores it with the content it writes, in keys.content_digest;
// LoadExpected reads it instead of the content, and a key whose stored
// digest equals the digest of the row the caller expects holds that row.
// Migration 003 computes the same digest in SQL.
func ContentDigest(r *KeyRow) [32]byte { return keycontent.Digest(&r.Content) }
