package store

import (
	"crypto/sha256"
	"encoding/binary"
	"time"
)

// ContentDigest is the SHA-256 of a key row's content: every column a
// spec sets or an apply changes except the address (universal, name,
// description, permissions, metadata, expires_at, owner, revoked_at,
// revoked_reason). keyprov stores it with the content it writes, in
// keys.content_digest; LoadExpected reads it instead of the content, and a
// key whose stored digest equals the digest of the row the caller expects
// holds that row. Migration 003 computes the same digest in SQL.
//
// The encoding is a version byte, then each field in order: booleans as
// one byte, strings (JSON as its text) as a 4-byte big-endian length and
// the bytes, times as 0 (none) or 1 and PostgreSQL's 8-byte count of
// microseconds since 2000-01-01 UTC.
func ContentDigest(r *KeyRow) [32]byte {
	n := 1 + 1 + 9 + 9 + 5*4 + len(r.Name) + len(r.Description) + len(r.Permissions) + len(r.Metadata) + len(r.Owner) + 4 + len(r.RevokedReason)
	var buf [512]byte
	b := buf[:0]
	if n > len(buf) {
		b = make([]byte, 0, n)
	}
	b = append(b, 1) // version
	if r.Universal {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = appendField(b, r.Name)
	b = appendField(b, r.Description)
	b = appendField(b, r.Permissions)
	b = appendField(b, r.Metadata)
	b = appendTime(b, r.ExpiresAt)
	b = appendField(b, r.Owner)
	b = appendTime(b, r.RevokedAt)
	b = appendField(b, r.RevokedReason)
	return sha256.Sum256(b)
}

// appendField appends a string (or JSON text) with its 4-byte length.
func appendField[T string | []byte](b []byte, s T) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, 0)
	}
	return binary.BigEndian.AppendUint64(append(b, 1), uint64(pgMicros(*t)))
}

// pgMicros is t as PostgreSQL stores a timestamptz: microseconds since
// 2000-01-01 UTC, below a microsecond truncated (as the COPY encoder sends it).
func pgMicros(t time.Time) int64 {
	return t.Unix()*1_000_000 + int64(t.Nanosecond()/1000) - pgEpochUnix*1_000_000
}
