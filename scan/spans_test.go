package scan_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keyprov/keyprov/scan"
)

func TestScanSpans(t *testing.T) {
	text := "a=" + tok1 + " b=" + tokOther + " wat_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx x" + tok2
	got := scan.Spans([]byte(text), nil)
	assert.Equal(t, []scan.Span{{Start: 2, End: 2 + len(tok1), Prefix: "wat_"}}, got,
		"the default prefix; a placeholder and a token inside a word are not tokens")
	got = scan.Spans([]byte(text), []string{"wat_", "key_"})
	if assert.Len(t, got, 2) {
		assert.Equal(t, tokOther, text[got[1].Start:got[1].End])
		assert.Equal(t, "key_", got[1].Prefix)
	}
	assert.Empty(t, scan.Spans(nil, nil))
}
