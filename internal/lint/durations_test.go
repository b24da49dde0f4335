package lint

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDurationFields: every duration field that keyprov logs says its unit
// (retry_in_ms, not retry_in), so that a log collector reading 3623.47
// knows what it reads.
func TestDurationFields(t *testing.T) {
	findings, err := CheckDurationFields(moduleRoot(t))
	require.NoError(t, err)
	for _, f := range findings {
		t.Error(f)
	}
}

// The check finds what it is meant to find.
func TestDurationFieldsFinds(t *testing.T) {
	findings, err := CheckDurationFields(filepath.Join("testdata", "durations"))
	require.NoError(t, err)
	var msgs []string
	for _, f := range findings {
		msgs = append(msgs, f.Message)
	}
	assert.ElementsMatch(t, []string{
		`duration field "retry_in" does not say its unit: name it retry_in_ms`,
		"a duration field's name must be a constant ending in _ms",
		"zerolog.DurationFieldUnit is left as it is: duration fields are milliseconds (_ms)",
	}, msgs)
}
