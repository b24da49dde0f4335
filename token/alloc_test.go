package token

import (
	"hash/crc32"
	"testing"
)

func TestDigestAndChecksumAllocateNothing(t *testing.T) {
	tok := "wat_xFRR0hBJwIAazszu1ZETVKGNTNUoUyoH0zeZtY"
	if n := testing.AllocsPerRun(100, func() { _ = DigestOf(tok); _ = HasChecksum(tok, "wat_") }); n != 0 {
		t.Fatalf("%v allocations per token, want 0", n)
	}
}

func TestCRC32IEEE(t *testing.T) {
	for _, s := range []string{"", "a", "wat_xFRR0hBJwIAazszu1ZETVKGNTNUoUyoH0zeZtY", "\x00\xff\x80 ü€ 日本"} {
		if got, want := crc32IEEE(s), crc32.ChecksumIEEE([]byte(s)); got != want {
			t.Errorf("crc32IEEE(%q) = %08x, want %08x", s, got, want)
		}
	}
}
