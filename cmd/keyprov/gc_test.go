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

// TestAfterEvaluationGCPercent checks the collector's pace for the load
// and the plan of a large spec: GOGC=200, unless GOGC is set; a small
// spec's runs keep the runtime's own.
func TestAfterEvaluationGCPercent(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	afterEvaluationGC(map[string]string{}, bigSpec-1)
	assert.Equal(t, 100, debug.SetGCPercent(100), "a small spec")
	afterEvaluationGC(map[string]string{}, bigSpec)
	assert.Equal(t, 200, debug.SetGCPercent(100), "a large spec")
	afterEvaluationGC(map[string]string{"GOGC": "100"}, bigSpec)
	assert.Equal(t, 100, debug.SetGCPercent(100), "GOGC wins")
}
