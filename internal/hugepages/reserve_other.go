//go:build !linux

package hugepages

// Reserve does nothing here: transparent huge pages are Linux's.
func Reserve(want int64, godebug string) Result {
	return Result{Reason: "transparent huge pages are Linux's"}
}
