package token

import (
	"strings"
	"testing"
)

// FuzzTokenCheck applies the token rules, the checksum and the hint to
// arbitrary input. It must never panic, a token Check accepts must really
// follow every rule, and no message may quote the token.
func FuzzTokenCheck(f *testing.F) {
	for _, seed := range []struct{ tok, prefix string }{
		{testToken, "wat_"},
		{"wat_" + body + "Zx81Kd", "wat_"},
		{"acme_" + body, "acme_"},
		{"", ""},
		{"wat_", "wat_"},
		{"wat_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "wat_"},
		{"wat_0123456789abcdefghijklmnopqrstuvwxyz", "wat_"},
		{"wat_zyxwvutsrqponmlkjihgfedcba9876543210", "wat_"},
		{"wat_" + body[:16] + " \t\n\r\v\f\u0085\u00a0" + body[16:], "wat_"},
		{"wat_" + body + "é\xff\x00", "wat_"},
		{"wat_" + strings.Repeat("ab", 20), "wat_"},
		{body, ""},
		{"x", "a-very-long-prefix_"},
	} {
		f.Add(seed.tok, seed.prefix)
	}
	f.Fuzz(func(t *testing.T, tok, prefix string) {
		errs := Check(tok, prefix)
		for _, err := range errs {
			msg := err.Error()
			if !strings.HasPrefix(msg, "token: ") {
				t.Fatalf("message without package name: %q", msg)
			}
			// Messages are built from fixed text, counts and the prefix;
			// a long token can appear in one only as a part of those.
			if len(tok) >= 24 && strings.Contains(msg, tok) && !strings.Contains(prefix, tok) {
				t.Fatalf("message quotes the token: %q", msg)
			}
		}
		if len(errs) == 0 {
			b, ok := strings.CutPrefix(tok, prefix)
			if !ok || len(b) < MinBodyLen {
				t.Fatalf("accepted %q: no prefix or too short", tok)
			}
			distinct := map[byte]bool{}
			for i := 0; i < len(b); i++ {
				if !IsTokenChar(b[i]) {
					t.Fatalf("accepted %q with character %q", tok, b[i])
				}
				distinct[b[i]] = true
				if i >= MaxRun-1 {
					rep, up, down := true, true, true
					for j := i - MaxRun + 1; j < i; j++ {
						rep = rep && b[j+1] == b[j]
						up = up && b[j+1] == b[j]+1
						down = down && b[j+1]+1 == b[j]
					}
					if rep || up || down {
						t.Fatalf("accepted %q with a run ending at %d", tok, i)
					}
				}
			}
			if len(distinct) < MinDistinct {
				t.Fatalf("accepted %q with %d distinct characters", tok, len(distinct))
			}
			if strings.ContainsFunc(prefix, func(r rune) bool { return r == ' ' }) {
				t.Fatalf("accepted a token whose prefix has a space")
			}
		}

		h := Hint(tok, prefix)
		if rest, ok := strings.CutPrefix(h, prefix); ok && strings.HasPrefix(tok, prefix) {
			last, _ := strings.CutPrefix(rest, "…")
			if len(last) > 4 || !strings.HasSuffix(tok, last) {
				t.Fatalf("hint %q of %q shows more than the last four characters", h, tok)
			}
		}
		if HasChecksum(tok, prefix) {
			if len(tok) < len(prefix)+RandomLen+ChecksumLen {
				t.Fatalf("checksum on a short token %q", tok)
			}
		}
		_ = NewSecret(tok).Digest()
	})
}

// FuzzAcceptable holds Check's one-pass answer (acceptable) to its rules
// one by one (check): whatever the token and the prefix, acceptable
// accepts exactly what check accepts.
func FuzzAcceptable(f *testing.F) {
	for _, seed := range []struct{ tok, prefix string }{
		{testToken, "wat_"},
		{"wat_" + body, "wat_"},
		{"wat_aaaaab" + body, "wat_"},
		{"wat_aaaaaa" + body, "wat_"},
		{"wat_abcdeg" + body, "wat_"},
		{"wat_abcdef" + body, "wat_"},
		{"wat_fedcba" + body, "wat_"},
		{"wat_fedcbb" + body, "wat_"},
		{"wat_-./012" + body, "wat_"},
		{"wat_" + strings.Repeat("ab", 20), "wat_"},
		{"wat_" + strings.Repeat("abcdefghi", 5), "wat_"},
		{"wat_" + strings.Repeat("abcdefghij", 5), "wat_"},
		{"w t_" + body, "w t_"},
		{"wat_" + body + "é", "wat_"},
		{"wat_" + strings.Repeat("Zx81Kd", 90), "wat_"},
		{"wat_" + body[:31], "wat_"},
	} {
		f.Add(seed.tok, seed.prefix)
	}
	f.Fuzz(func(t *testing.T, tok, prefix string) {
		fast, slow := acceptable(tok, prefix), check(tok, prefix) == nil
		if fast != slow {
			t.Fatalf("acceptable(%q, %q) = %v, but check says %v", tok, prefix, fast, check(tok, prefix))
		}
	})
}
