package inputs_test

import (
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/inputs"
)

// The digest changes with each of its parts, and not with the order of
// the settings.
func TestDigest(t *testing.T) {
	spec := sha256.Sum256([]byte("spec"))
	d := inputs.Of("build", []string{"a=1", "b=2"}, spec)
	assert.Equal(t, d, inputs.Of("build", []string{"b=2", "a=1"}, spec), "settings in another order")
	for name, other := range map[string]inputs.Digest{
		"another build":         inputs.Of("build2", []string{"a=1", "b=2"}, spec),
		"a setting's value":     inputs.Of("build", []string{"a=1", "b=3"}, spec),
		"a setting more":        inputs.Of("build", []string{"a=1", "b=2", "c="}, spec),
		"settings run together": inputs.Of("build", []string{"a=1b=2"}, spec),
		"another spec":          inputs.Of("build", []string{"a=1", "b=2"}, sha256.Sum256([]byte("spec2"))),
	} {
		assert.NotEqual(t, d, other, name)
	}
	assert.Len(t, d.Hex(), 64)
}

// A build is told apart by its version string and, in a test binary
// (built without VCS information), by its executable's digest.
func TestBuild(t *testing.T) {
	a, err := inputs.Build("1.0.0")
	require.NoError(t, err)
	b, err := inputs.Build("1.0.1")
	require.NoError(t, err)
	assert.NotEqual(t, a, b, "the version string counts")
	again, err := inputs.Build("1.0.0")
	require.NoError(t, err)
	assert.Equal(t, a, again)
	assert.True(t, strings.Contains(a, "\nexecutable=") || strings.Contains(a, "setting vcs.modified=false"),
		"a build is told by its executable unless it is a clean VCS checkout:\n%s", a)
}
