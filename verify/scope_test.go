package verify_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keyprov/keyprov/verify"
)

// Allows refuses a tenant name the spec would refuse, for a universal key
// too, and never repeats it.
func TestAllowsRefusesInvalidTenants(t *testing.T) {
	universal := &verify.Key{Address: "root/frontend", Tenant: "root", Slug: "frontend", Universal: true}
	tenant := &verify.Key{Address: "acme/website", Tenant: "acme", Slug: "website"}
	for _, bad := range []string{"", "Acme", "ACME", "acme ", " acme", "acme/eu", "-acme", "_acme", "acmé", "acme\n", strings.Repeat("a", 64), "wat_hxv3CP6YzO9wEqO4nv6tQOW9smVeqHZS"} {
		for _, k := range []*verify.Key{universal, tenant} {
			err := k.Allows(bad)
			assert.ErrorIs(t, err, verify.ErrScopeDenied, "%s in %q", k.Address, bad)
			assert.Equal(t, verify.CodeScopeDenied, verify.Code(err))
			if len(bad) > 8 {
				assert.NotContains(t, err.Error(), bad, "the invalid name is not repeated")
			}
		}
	}
	for _, good := range []string{"acme", "a", "acme-eu", "acme_eu", "0acme", strings.Repeat("a", 63)} {
		assert.NoError(t, universal.Allows(good), good)
	}
	assert.NoError(t, tenant.Allows("acme"))
}

func TestCan(t *testing.T) {
	k := &verify.Key{Permissions: []verify.Permission{
		{Name: "cms.read"},
		{Name: "search:*"},
		{Name: "wb.*", Attributes: map[string]any{"rwd": "r"}},
		{Name: "wb.page", Attributes: map[string]any{"rwd": "rw"}},
	}}
	tests := map[string]bool{
		"cms.read":      true,
		"cms.write":     false,
		"cms":           false,
		"CMS.read":      false,
		"search:index":  true,
		"search":        false,
		"searching":     false,
		"wb.page":       true,
		"wb.file":       true,
		"wb.page.edit":  true,
		"wb":            false,
		"wbx.page":      false,
		"":              false,
		"*":             false,
		"anything.else": false,
	}
	for name, want := range tests {
		assert.Equal(t, want, k.Can(name), "Can(%q)", name)
	}

	star := &verify.Key{Permissions: []verify.Permission{{Name: "*"}}}
	assert.True(t, star.Can("wb.page"))
	assert.True(t, star.Can("*"))
	assert.False(t, star.Can(""))
	assert.False(t, (&verify.Key{}).Can("wb.page"), "a key without permissions grants nothing")

	// Grants: the exact permission first, then wildcards, longest first.
	assert.Equal(t, []verify.Permission{
		{Name: "wb.page", Attributes: map[string]any{"rwd": "rw"}},
		{Name: "wb.*", Attributes: map[string]any{"rwd": "r"}},
	}, k.Grants("wb.page"))
	assert.Equal(t, []verify.Permission{{Name: "wb.*", Attributes: map[string]any{"rwd": "r"}}}, k.Grants("wb.file"))
	assert.Nil(t, k.Grants("cms.write"))
	both := &verify.Key{Permissions: []verify.Permission{{Name: "*"}, {Name: "wb.*"}, {Name: "wb.page.*"}}}
	got := both.Grants("wb.page.edit")
	assert.Equal(t, []string{"wb.page.*", "wb.*", "*"}, []string{got[0].Name, got[1].Name, got[2].Name})
}
