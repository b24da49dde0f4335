package verify

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/store"
)

// The retired_reason values Verify tells apart are the ones keyprov writes.
func TestReasonsMatchReconcile(t *testing.T) {
	assert.Equal(t, reconcile.ReasonCutoff, reasonCutoff)
	assert.Equal(t, reconcile.ReasonRevoked, reasonRevoked)
	assert.Equal(t, store.RetiredRevoked, reasonRevoked)
}
