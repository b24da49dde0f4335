package names_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keyprov/keyprov/internal/names"
)

func TestCovers(t *testing.T) {
	tests := map[string]struct {
		pattern, name string
		want          bool
	}{
		"star grants a name":               {"*", "wb.page", true},
		"star grants a wildcard":           {"*", "wb.*", true},
		"star grants star":                 {"*", "*", true},
		"exact name":                       {"wb.page", "wb.page", true},
		"another name":                     {"wb.page", "wb.file", false},
		"names are case-sensitive":         {"wb.page", "WB.page", false},
		"a name is no prefix":              {"wb", "wb.page", false},
		"dot wildcard, child":              {"wb.*", "wb.page", true},
		"dot wildcard, grandchild":         {"wb.*", "wb.page.edit", true},
		"dot wildcard, its own root":       {"wb.*", "wb", false},
		"dot wildcard, a longer word":      {"wb.*", "wbx.page", false},
		"dot wildcard, another separator":  {"wb.*", "wb:page", false},
		"colon wildcard, child":            {"search:*", "search:index", true},
		"colon wildcard, other":            {"search:*", "searching", false},
		"dot wildcard covers a narrower":   {"wb.*", "wb.page.*", true},
		"a narrower does not cover":        {"wb.page.*", "wb.*", false},
		"wildcard does not cover star":     {"wb.*", "*", false},
		"a wildcard is itself":             {"wb.*", "wb.*", true},
		"star inside a name is a letter":   {"wb*", "wbx", false},
		"empty name":                       {"*", "", false},
		"empty pattern":                    {"", "wb.page", false},
		"name with star is not a wildcard": {"wb.pa*", "wb.page", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, names.Covers(tc.pattern, tc.name))
		})
	}
}

func TestIsWildcard(t *testing.T) {
	for _, w := range []string{"*", "wb.*", "search:*", "a.b.*"} {
		assert.True(t, names.IsWildcard(w), w)
	}
	for _, n := range []string{"", "wb", "wb.page", "wb*", "wb.pa*ge"} {
		assert.False(t, names.IsWildcard(n), n)
	}
}

func TestValidIdent(t *testing.T) {
	for _, s := range []string{"acme", "a", "0", "acme-2", "acme_eu", "a-", strings.Repeat("a", 63)} {
		assert.True(t, names.ValidIdent(s), s)
	}
	for _, s := range []string{"", "Acme", "-acme", "_acme", "ac me", "acme.eu", "acmé", strings.Repeat("a", 64), "acme\n"} {
		assert.False(t, names.ValidIdent(s), s)
	}
}
