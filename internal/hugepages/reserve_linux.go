package hugepages

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// Reserve marks a range of about want bytes, where the Go heap will grow
// next, for transparent huge pages (see the package comment). godebug is
// the run's GODEBUG. It never fails a run: when it cannot or need not
// reserve, it says why and does nothing.
func Reserve(want int64, godebug string) Result {
	s := readSystem(godebug)
	n, why := s.size(want)
	if n == 0 {
		return Result{Reason: why}
	}
	b := make([]byte, n) // mapped, never touched: it costs no memory
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	huge := uintptr(s.hugeSize)
	from := (start+huge-1)&^(huge-1) - start
	to := (start+uintptr(n))&^(huge-1) - start
	err := syscall.Madvise(b[from:to], 14) // MADV_HUGEPAGE
	b = nil
	// Free the block now, while the heap is small: the collection costs
	// microseconds, and the heap grows into the range from here on.
	runtime.GC()
	if err != nil {
		return Result{Reason: fmt.Sprintf("madvise: %v", err)}
	}
	return Result{Bytes: int64(to - from)}
}

func readSystem(godebug string) system {
	s := system{
		thp:        readSetting("/sys/kernel/mm/transparent_hugepage/enabled"),
		overcommit: readSetting("/proc/sys/vm/overcommit_memory"),
		godebug:    godebug,
	}
	s.hugeSize, _ = strconv.ParseInt(strings.TrimSpace(readSetting("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")), 10, 64)
	s.memTotal = memTotal()
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_AS, &lim) != nil || lim.Cur != ^uint64(0) {
		s.limitedAS = true
	}
	return s
}

// readSetting returns the first line of a small system file, or "".
func readSetting(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) > 4096 {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return line
}

// memTotal returns the RAM in bytes (MemTotal of /proc/meminfo), or 0.
func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
