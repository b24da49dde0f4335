package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/spec"
)

// TestConfigLimits: the KEYPROV_MAX_* defaults are spec's, and a limit
// below 1 is refused rather than silently replaced by the default.
func TestConfigLimits(t *testing.T) {
	cfg, err := loadConfig(map[string]string{})
	require.NoError(t, err)
	assert.Equal(t, spec.DefaultLimits, spec.Limits{MaxSpecBytes: cfg.MaxSpecBytes, MaxFileBytes: cfg.MaxFileBytes, MaxKeys: cfg.MaxKeys,
		MaxValueBytes: cfg.MaxValueBytes, MaxElements: cfg.MaxElements})

	cfg, err = loadConfig(map[string]string{"KEYPROV_MAX_VALUE_BYTES": "100", "KEYPROV_MAX_ELEMENTS": "10"})
	require.NoError(t, err)
	assert.Equal(t, int64(100), cfg.MaxValueBytes)
	assert.Equal(t, 10, cfg.MaxElements)

	for _, name := range []string{"KEYPROV_MAX_VALUE_BYTES", "KEYPROV_MAX_ELEMENTS"} {
		for _, v := range []string{"0", "-1"} {
			_, err := loadConfig(map[string]string{name: v})
			require.Error(t, err, "%s=%s", name, v)
			assert.Contains(t, err.Error(), name+" must be at least 1, not "+v)
		}
	}
}
