// Package hugepages asks Linux to back the Go heap with transparent huge
// pages for a run that will hold much memory, on systems that give huge
// pages only to the programs that ask (THP "madvise", the default of
// Debian and many other distributions).
//
// Why: every 4 KiB page a process touches for the first time is a page
// fault, and on a virtual machine a fault is dear. On the 2-core machine
// of BENCHMARKS.md it costs 11 µs: a no-op apply of 1,000,000 keys touches
// 870 MB, 215,000 faults and about 2.4 s of its 6.5 s. Backed by 2 MiB
// pages, the same memory takes about 500 faults.
//
// How: the Go runtime gives no way to ask. It maps its heap as the heap
// grows, with the system's default flags (GODEBUG=disablethp=1 only turns
// huge pages off). Reserve allocates one large block, which the runtime
// maps and does not touch; marks its pages MADV_HUGEPAGE; and frees it.
// The runtime reuses the lowest free addresses first, so the heap then
// grows into that range, and each 2 MiB of it faults in at once. Only
// the page size changes: if a runtime placed its heap elsewhere, the
// advice would be lost, nothing else.
package hugepages

import "strings"

// Result says what Reserve did: the bytes of the range it marked, or 0
// and why it did nothing.
type Result struct {
	Bytes  int64
	Reason string
}

// MinBytes is the smallest range worth reserving: below it, a run's
// faults cost milliseconds.
const MinBytes = 64 << 20

// system is what decides whether and how much to reserve.
type system struct {
	thp        string // /sys/kernel/mm/transparent_hugepage/enabled
	overcommit string // /proc/sys/vm/overcommit_memory
	memTotal   int64  // bytes of RAM
	hugeSize   int64  // bytes of a huge page
	limitedAS  bool   // RLIMIT_AS is set
	godebug    string // GODEBUG
}

// size returns how many bytes to reserve for a run that wants want bytes
// of heap: at most a quarter of the RAM, in whole huge pages. It returns
// 0 and why when reserving would do nothing or could fail: a large block
// that the system refuses to map stops a Go program.
func (s system) size(want int64) (int64, string) {
	switch mode := selected(s.thp); {
	case containsSetting(s.godebug, "disablethp=1"):
		return 0, "GODEBUG=disablethp=1"
	case mode == "":
		return 0, "no transparent huge pages on this system"
	case mode == "always":
		return 0, "the system backs every program with huge pages (always)"
	case mode != "madvise":
		return 0, "transparent huge pages are off (" + mode + ")"
	case strings.TrimSpace(s.overcommit) == "2":
		return 0, "strict overcommit accounting (vm.overcommit_memory=2)"
	case s.limitedAS:
		return 0, "an address space limit (ulimit -v)"
	case s.hugeSize <= 0 || s.memTotal <= 0:
		return 0, "the huge page size or the RAM is unknown"
	}
	n := min(want, s.memTotal/4)
	n -= n % s.hugeSize
	if n < MinBytes || n < 2*s.hugeSize {
		return 0, "a small run"
	}
	return n, ""
}

// selected returns the setting in brackets, as the kernel shows the one
// in force: "always [madvise] never" gives "madvise".
func selected(s string) string {
	_, after, ok := strings.Cut(s, "[")
	if !ok {
		return ""
	}
	v, _, ok := strings.Cut(after, "]")
	if !ok {
		return ""
	}
	return v
}

// containsSetting reports whether the comma-separated GODEBUG list sets
// setting (name=value); a later one of the same name wins, as in the
// runtime.
func containsSetting(list, setting string) bool {
	name, _, _ := strings.Cut(setting, "=")
	found := false
	for _, item := range strings.Split(list, ",") {
		if n, _, _ := strings.Cut(strings.TrimSpace(item), "="); n == name {
			found = strings.TrimSpace(item) == setting
		}
	}
	return found
}
