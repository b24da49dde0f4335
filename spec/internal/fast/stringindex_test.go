package fast

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestGetAt checks that GetAt answers as Get whatever it is told to try,
// and that a file in the order of the lookups never misses.
func TestGetAt(t *testing.T) {
	const n = 5000
	keys := make([]string, n)
	var b strings.Builder
	b.WriteString("{")
	for i := range keys {
		keys[i] = fmt.Sprintf("t%05d", i)
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q:%q", keys[i], "v"+keys[i])
	}
	b.WriteString("}")
	read := func(t *testing.T) *StringIndex {
		x, ok := ReadStringIndex(b.String())
		if !ok {
			t.Fatal("not read")
		}
		return x
	}
	check := func(t *testing.T, x *StringIndex, key string, i int) {
		t.Helper()
		want, wantOK := x.Get(key)
		got, ok := x.GetAt(key, i)
		if got != want || ok != wantOK {
			t.Fatalf("GetAt(%q, %d) = %q, %v; Get gives %q, %v", key, i, got, ok, want, wantOK)
		}
	}
	t.Run("in order", func(t *testing.T) {
		x := read(t)
		for i, k := range keys {
			check(t, x, k, i)
		}
		if m := x.misses.Load(); m != 0 {
			t.Fatalf("%d misses", m)
		}
	})
	t.Run("shifted", func(t *testing.T) {
		// The instances of a second block, or a file with more entries.
		x := read(t)
		for i, k := range keys[100:] {
			check(t, x, k, i)
		}
		if m := x.misses.Load(); m != 1 {
			t.Fatalf("%d misses, want 1: the offset is learned", m)
		}
	})
	t.Run("random", func(t *testing.T) {
		x := read(t)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range 3 * n {
			check(t, x, keys[r.IntN(n)], i%n)
		}
		if m := x.misses.Load(); m < 1024 || m > 1100 {
			t.Fatalf("%d misses: it should give up after 1024", m)
		}
	})
	t.Run("absent, negative, past the end", func(t *testing.T) {
		x := read(t)
		for _, c := range []struct {
			key string
			i   int
		}{{"nope", 0}, {"t00001", -1}, {"t00001", n + 5}, {"", 3}, {"t04999", 1 << 40}} {
			check(t, x, c.key, c.i)
		}
	})
}
