package gitread

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Records of git ls-tree -z -l: a name may hold tabs and newlines; trees
// and submodules have no size.
func TestParseLsTree(t *testing.T) {
	out := "100644 blob 0123456789abcdef0123456789abcdef01234567      12\tkeys.hcl\x00" +
		"040000 tree 89abcdef0123456789abcdef0123456789abcdef       -\tspecs\x00" +
		"160000 commit fedcba9876543210fedcba9876543210fedcba98       -\tvendor/lib\x00" +
		"100644 blob 0123456789abcdef0123456789abcdef01234567       3\todd\tname\nhere.hcl\x00" +
		"garbage\x00"
	assert.Equal(t, []Entry{
		{Type: "blob", Size: 12, Path: "keys.hcl"},
		{Type: "tree", Path: "specs"},
		{Type: "commit", Path: "vendor/lib"},
		{Type: "blob", Size: 3, Path: "odd\tname\nhere.hcl"},
	}, parseLsTree(out))
	assert.Empty(t, parseLsTree(""))
}
