package verify_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/verify"
)

// A permission's JSON names it first, then its attributes sorted, as
// keyprov shows permissions everywhere.
func TestPermissionJSONNameFirst(t *testing.T) {
	ps := []verify.Permission{
		{Name: "*"},
		{Name: "wb.page", Attributes: map[string]any{"rwd": "r", "locales": []any{"de", "en"}, "a": map[string]any{"z": 1.0, "b": true}}},
	}
	b, err := json.Marshal(ps)
	require.NoError(t, err)
	assert.Equal(t, `[{"name":"*"},{"name":"wb.page","a":{"b":true,"z":1},"locales":["de","en"],"rwd":"r"}]`, string(b))

	var back []map[string]any
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, map[string]any{"name": "wb.page", "rwd": "r", "locales": []any{"de", "en"}, "a": map[string]any{"z": 1.0, "b": true}}, back[1])
}
