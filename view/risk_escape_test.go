package view

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keyprov/keyprov/review"
)

// A risk's reason quotes values that may come from the store (a name
// written by another tool): its control characters and escape sequences
// are printed escaped, like every value read from the store.
func TestRiskListEscapesStoredText(t *testing.T) {
	risks := []review.Risk{{Severity: review.High, Address: "acme/site", Reason: "name changed to \"\x1b[2J\x1b[31mok\r\u202e\""}}
	var b strings.Builder
	writeRiskList(&b, styles(false), risks, 0, "")
	assert.NotContains(t, b.String(), "\x1b")
	assert.NotContains(t, b.String(), "\r")
	assert.NotContains(t, b.String(), "\u202e")
	assert.Contains(t, b.String(), "acme/site")
}
