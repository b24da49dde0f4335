package hugepages

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSize(t *testing.T) {
	const mb = 1 << 20
	ok := system{thp: "always [madvise] never", overcommit: "0", memTotal: 24 << 30, hugeSize: 2 * mb}
	with := func(f func(*system)) system { s := ok; f(&s); return s }
	for _, c := range []struct {
		name string
		s    system
		want int64
		n    int64
		why  string
	}{
		{"madvise", ok, 900 * mb, 900 * mb, ""},
		{"rounded down to huge pages", ok, 901 * mb, 900 * mb, ""},
		{"at most a quarter of the RAM", with(func(s *system) { s.memTotal = 2 << 30 }), 900 * mb, 512 * mb, ""},
		{"heuristic overcommit", with(func(s *system) { s.overcommit = "1\n" }), 900 * mb, 900 * mb, ""},
		{"a small run", ok, 63 * mb, 0, "a small run"},
		{"a quarter of a small RAM", with(func(s *system) { s.memTotal = 128 * mb }), 900 * mb, 0, "a small run"},
		{"64 KiB base pages, 512 MiB huge pages", with(func(s *system) { s.hugeSize = 512 * mb }), 900 * mb, 0, "a small run"},
		{"always", with(func(s *system) { s.thp = "[always] madvise never" }), 900 * mb, 0, "the system backs every program with huge pages (always)"},
		{"never", with(func(s *system) { s.thp = "always madvise [never]" }), 900 * mb, 0, "transparent huge pages are off (never)"},
		{"no THP", with(func(s *system) { s.thp = "" }), 900 * mb, 0, "no transparent huge pages on this system"},
		{"strict overcommit", with(func(s *system) { s.overcommit = "2\n" }), 900 * mb, 0, "strict overcommit accounting (vm.overcommit_memory=2)"},
		{"ulimit -v", with(func(s *system) { s.limitedAS = true }), 900 * mb, 0, "an address space limit (ulimit -v)"},
		{"GODEBUG=disablethp=1", with(func(s *system) { s.godebug = "gctrace=0,disablethp=1" }), 900 * mb, 0, "GODEBUG=disablethp=1"},
		{"GODEBUG=disablethp=1 then 0", with(func(s *system) { s.godebug = "disablethp=1,disablethp=0" }), 900 * mb, 900 * mb, ""},
		{"unknown huge page size", with(func(s *system) { s.hugeSize = 0 }), 900 * mb, 0, "the huge page size or the RAM is unknown"},
		{"unknown RAM", with(func(s *system) { s.memTotal = 0 }), 900 * mb, 0, "the huge page size or the RAM is unknown"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, why := c.s.size(c.want)
			assert.Equal(t, c.n, n)
			assert.Equal(t, c.why, why)
		})
	}
}

func TestSelected(t *testing.T) {
	assert.Equal(t, "madvise", selected("always [madvise] never"))
	assert.Equal(t, "always", selected("[always] madvise never"))
	assert.Equal(t, "", selected("always madvise never"))
	assert.Equal(t, "", selected("always [madvise"))
	assert.Equal(t, "", selected(""))
}
