package hugepages

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReserve checks what Reserve does on this machine. Where the system
// leaves huge pages to the programs that ask, memory allocated after it
// lies in a range marked for huge pages (the "hg" flag of
// /proc/self/smaps); elsewhere it says why it did nothing.
func TestReserve(t *testing.T) {
	godebug := os.Getenv("GODEBUG")
	s := readSystem(godebug)
	n, why := s.size(256 << 20)
	r := Reserve(256<<20, godebug)
	if n == 0 {
		assert.Zero(t, r.Bytes)
		assert.Equal(t, why, r.Reason)
		t.Logf("this machine reserves nothing: %s", why)
		return
	}
	require.Empty(t, r.Reason)
	assert.True(t, n-s.hugeSize <= r.Bytes && r.Bytes <= n, "the range, cut to whole huge pages inside the block: %d of %d", r.Bytes, n)

	b := make([]byte, 64<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	// The block's first huge page may be cut (the range starts at a huge
	// page boundary inside it); its middle is in the range.
	flags := vmFlags(t, uintptr(unsafe.Pointer(&b[len(b)/2])))
	assert.Contains(t, strings.Fields(flags), "hg", "the heap grew into the range marked for huge pages: VmFlags %s", flags)

	assert.Equal(t, Result{Reason: "GODEBUG=disablethp=1"}, Reserve(256<<20, "disablethp=1"))
}

// vmFlags returns the VmFlags of the mapping of /proc/self/smaps that
// holds addr.
func vmFlags(t *testing.T, addr uintptr) string {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if lo, hi, ok := mappingRange(line); ok {
			in = lo <= addr && addr < hi
			continue
		}
		if rest, ok := strings.CutPrefix(line, "VmFlags:"); ok && in {
			return strings.TrimSpace(rest)
		}
	}
	require.NoError(t, sc.Err())
	t.Fatalf("no mapping holds %#x", addr)
	return ""
}

// mappingRange parses the range of a mapping's first line in smaps
// ("7f0c1a000000-7f0c1a400000 rw-p …").
func mappingRange(line string) (lo, hi uintptr, ok bool) {
	r, _, found := strings.Cut(line, " ")
	a, b, dash := strings.Cut(r, "-")
	if !found || !dash {
		return 0, 0, false
	}
	x, err1 := strconv.ParseUint(a, 16, 64)
	y, err2 := strconv.ParseUint(b, 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return uintptr(x), uintptr(y), true
}
