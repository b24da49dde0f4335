// Package names holds the rules for the names keyprov gives meaning to,
// written once for the spec, the review, the store and the verifier: which
// strings are tenants and slugs, and which permission names a permission
// (possibly a wildcard) grants. It imports nothing of keyprov's, so that the
// verify package, which applications link, stays small.
package names

import "strings"

// ValidIdent reports whether s is a valid slug, tenant or owner: lowercase
// letters, digits, '-' and '_', starting with a letter or digit, at most 63
// characters. keyprov.verify_token applies the same rule in SQL
// (TestTenantRuleMatchesSQL in package verify holds the two together).
func ValidIdent(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '-' || c == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

// IsWildcard reports whether a permission name is a wildcard: "*", or a
// name ending in ".*" or ":*".
func IsWildcard(name string) bool {
	return name == "*" || strings.HasSuffix(name, ".*") || strings.HasSuffix(name, ":*")
}

// Covers reports whether permission pattern grants name. This is keyprov's
// one wildcard rule:
//
//   - "*" grants every name;
//   - a pattern ending in ".*" or ":*" grants every name that starts with
//     the pattern less its "*" ("wb.*" grants "wb.page" and "wb.page.edit",
//     not "wb" nor "wbx.page"; "search:*" grants "search:index");
//   - any other pattern grants only the same name, compared exactly.
//
// name may itself be a wildcard: a pattern covers another when it grants
// every name the other grants ("wb.*" covers "wb.page.*"; "wb.page.*" does
// not cover "wb.*"). An empty name is granted by nothing.
func Covers(pattern, name string) bool {
	switch {
	case name == "":
		return false
	case pattern == "*" || pattern == name:
		return true
	case name == "*":
		return false
	case strings.HasSuffix(pattern, ".*") || strings.HasSuffix(pattern, ":*"):
		return strings.HasPrefix(name, pattern[:len(pattern)-1])
	}
	return false
}
