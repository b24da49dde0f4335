package token

import "testing"

// BenchmarkDigest measures hashing one token, what apply does per key.
func BenchmarkDigest(b *testing.B) {
	s, err := Generate("wat_")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Digest()
	}
}

// BenchmarkCheck measures the token rules on a valid token.
func BenchmarkCheck(b *testing.B) {
	s, err := Generate("wat_")
	if err != nil {
		b.Fatal(err)
	}
	tok := s.Reveal()
	b.ReportAllocs()
	for b.Loop() {
		if errs := Check(tok, "wat_"); errs != nil {
			b.Fatal(errs)
		}
	}
}
