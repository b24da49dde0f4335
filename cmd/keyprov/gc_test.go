package main

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestAfterEvaluationGCKeepsTheHeldMemory checks that the memory limit set
// for the plan and the writes is never below what the process holds once
// the evaluation's garbage is collected: below it, the collector would run
// cycle after cycle to return pages that the next allocations take again.
func TestAfterEvaluationGCKeepsTheHeldMemory(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	// An evaluation's garbage: 256 MB, more than memoryLimit(bigSpec).
	garbage := make([][]byte, 64)
	for i := range garbage {
		garbage[i] = make([]byte, 4<<20)
		garbage[i][0] = 1
	}
	runtime.KeepAlive(garbage)
	garbage = nil
	assert.Less(t, memoryLimit(bigSpec), int64(256<<20))

	afterEvaluationGC(map[string]string{}, bigSpec)
	limit := debug.SetMemoryLimit(-1)
	assert.GreaterOrEqual(t, limit, int64(256<<20), "the limit keeps the memory the evaluation left")

	// GOMEMLIMIT, when set, wins.
	debug.SetMemoryLimit(1 << 40)
	afterEvaluationGC(map[string]string{"GOMEMLIMIT": "1TiB"}, bigSpec)
	assert.Equal(t, int64(1<<40), debug.SetMemoryLimit(-1))
}
