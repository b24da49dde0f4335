package review

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyprov/keyprov/spec"
)

// maxDetails bounds the details quoted in one risk's reason.
const maxDetails = 5

func joinDetails(details []string) string {
	if len(details) > maxDetails {
		n := len(details) - maxDetails
		details = append(details[:maxDetails:maxDetails], fmt.Sprintf("and %d more", n))
	}
	return strings.Join(details, "; ")
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// addedRisks flags a new key that reaches every tenant or holds a wildcard.
func addedRisks(h *spec.Key) []Risk {
	if h.Revoked {
		return nil
	}
	addr := h.Address.String()
	var out []Risk
	if h.Universal {
		out = append(out, Risk{Severity: Critical, Kind: RiskCrossTenant, Address: addr,
			Reason: "new universal key: its token reaches every tenant"})
	}
	var wild []string
	for _, p := range h.Permissions {
		if isWildcard(p.Name) {
			wild = append(wild, fmt.Sprintf("wildcard %q", p.Name))
		}
	}
	if len(wild) > 0 {
		out = append(out, Risk{Severity: High, Kind: RiskPermissions, Address: addr, Field: "permissions",
			Reason: "new key with broad permissions: " + joinDetails(wild)})
	}
	return out
}

// changedRisks flags the changes of a key declared on both sides (b in
// BASE, h in HEAD). A key revoked in HEAD grants nothing and raises none.
func changedRisks(b, h *spec.Key, moved bool) []Risk {
	if h.Revoked {
		return nil
	}
	addr := h.Address.String()
	var out []Risk
	add := func(sev Severity, kind RiskKind, field, format string, args ...any) {
		out = append(out, Risk{Severity: sev, Kind: kind, Address: addr, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	switch {
	case h.Universal && !b.Universal:
		add(Critical, RiskCrossTenant, "universal", "tenant key turned universal: its token now reaches every tenant, not only %q", b.Address.Tenant)
	case moved && !h.Universal && b.Address.Tenant != h.Address.Tenant:
		add(Critical, RiskCrossTenant, "tenant", "moved from tenant %q to %q: the same token now reaches %q", b.Address.Tenant, h.Address.Tenant, h.Address.Tenant)
	}
	if w := widenings(b.Permissions, h.Permissions); len(w) > 0 {
		add(High, RiskPermissions, "permissions", "permissions widened: %s", joinDetails(w))
	}
	if b.Revoked {
		add(High, RiskUnrevoked, "revoked", "revoked = true removed: the key works again after the next apply")
	}
	switch {
	case b.Expires != nil && h.Expires == nil:
		add(High, RiskExpiry, "expires", "expiry removed: the key no longer expires (it was to expire at %s)", stamp(*b.Expires))
	case b.Expires != nil && h.Expires.After(*b.Expires):
		add(Medium, RiskExpiry, "expires", "expiry pushed later: %s → %s", stamp(*b.Expires), stamp(*h.Expires))
	}
	if b.Previous != nil && h.Previous != nil && h.Previous.Until.After(b.Previous.Until) {
		add(Medium, RiskExpiry, "previous_until", "previous_until pushed later: the previous token stays valid until %s (was %s)",
			stamp(h.Previous.Until), stamp(b.Previous.Until))
	}
	if bs, hs := tokenSources(b.Token), tokenSources(h.Token); b.Token.Set && h.Token.Set && !slices.Equal(bs, hs) {
		add(Medium, RiskTokenSource, "token", "token source changed: %s → %s: the key will be rotated at the next apply (the old token stops working)",
			sourcesText(bs), sourcesText(hs))
	}
	return out
}

func sourcesText(s Sources) string {
	if len(s) == 0 {
		return "(an expression)"
	}
	return strings.Join(s, ", ")
}

// removedRisk flags a live key that HEAD no longer declares.
func removedRisk(b *spec.Key, head spec.Settings) (Risk, bool) {
	if b.Revoked {
		return Risk{}, false
	}
	when := "at the next apply --prune"
	if head.Prune != nil && *head.Prune {
		when = "at the next apply (settings.prune = true)"
	}
	return Risk{Severity: Low, Kind: RiskRemoved, Address: b.Address.String(),
		Reason: "removed from the spec: revoked " + when}, true
}

// settingsRisks flags settings changes that affect every key.
func settingsRisks(base, head *spec.Spec) []Risk {
	b, h := base.Settings, head.Settings
	var out []Risk
	add := func(sev Severity, field, format string, args ...any) {
		out = append(out, Risk{Severity: sev, Kind: RiskSettings, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	keys := len(head.Keys)
	if b.TokenPrefix != h.TokenPrefix {
		add(High, "token_prefix", "token_prefix %q → %q: every token must now start with %q (%s)",
			b.TokenPrefix, h.TokenPrefix, h.TokenPrefix, count(keys, "key"))
	}
	if b.Owner != h.Owner {
		add(High, "owner", "owner %q → %q: keys created under %q are no longer owned by this spec (apply refuses them without --adopt, prune ignores them)",
			b.Owner, h.Owner, b.Owner)
	}
	if b.RootTenant != h.RootTenant {
		universal := 0
		for _, k := range head.Keys {
			if k.Universal {
				universal++
			}
		}
		add(High, "root_tenant", "root_tenant %q → %q: universal keys now live in tenant %q (%s)", b.RootTenant, h.RootTenant, h.RootTenant, count(universal, "key"))
	}
	switch gained := patternsGained(b.AllowedPermissions, h.AllowedPermissions); {
	case len(b.AllowedPermissions) > 0 && len(h.AllowedPermissions) == 0:
		add(Medium, "allowed_permissions", "allowed_permissions removed: any permission name is now allowed")
	case len(gained) > 0:
		add(Medium, "allowed_permissions", "allowed_permissions widened: %s", joinDetails(quoteAll(gained)))
	}
	if h.Prune != nil && *h.Prune && (b.Prune == nil || !*b.Prune) {
		add(Medium, "prune", "prune enabled: every apply revokes the owned keys the spec no longer declares")
	}
	return out
}

func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q added", s)
	}
	return out
}

// patternsGained returns the allowed_permissions patterns of head that no
// pattern of base covers. An empty base allows everything already.
func patternsGained(base, head []string) []string {
	if len(base) == 0 {
		return nil
	}
	var out []string
	for _, p := range head {
		if !slices.ContainsFunc(base, func(q string) bool { return covers(q, p) }) {
			out = append(out, p)
		}
	}
	return out
}

// isWildcard reports whether a permission name or pattern is "*" or ends
// in ".*" or ":*".
func isWildcard(name string) bool {
	return name == "*" || strings.HasSuffix(name, ".*") || strings.HasSuffix(name, ":*")
}

// covers reports whether pattern grants name (itself a name or a pattern).
func covers(pattern, name string) bool {
	switch {
	case pattern == "*" || pattern == name:
		return true
	case isWildcard(pattern):
		return strings.HasPrefix(name, pattern[:len(pattern)-1])
	}
	return false
}
