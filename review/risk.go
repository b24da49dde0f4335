package review

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyprov/keyprov/internal/keycontent"
	"github.com/keyprov/keyprov/internal/names"
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

// Version is one version of a key as the risk rules read it: a key of a
// spec (keyprov diff), a stored key, or the key a plan leaves behind
// (keyprov plan and apply). KeyRisks compares two versions.
type Version struct {
	Address spec.Address
	Content
	// Perms are Content.Permissions decoded, when the caller has them;
	// the rules decode Content.Permissions otherwise.
	Perms   []spec.Permission
	Revoked bool
	// Disabled: the key is switched off, its tokens kept.
	Disabled bool
	// Token is the active token; its ID is empty when there is none or it
	// is not known.
	Token Token
	// Previous is the previous token of a rolling rotation, or nil.
	Previous *Previous
}

// Token identifies a token without its value.
type Token struct {
	// ID tells tokens apart: where a spec reads the token (its sources,
	// offline), or its digest (the store, and a spec evaluated with its
	// secrets). Compared only with IDs of the same kind.
	ID string
	// Label names the token for people: its sources (env("X")) or its hint
	// (wat_…9fQx).
	Label string
}

// Previous is a previous token and its cutoff.
type Previous struct {
	Token Token
	Until time.Time
}

func (v *Version) perms() []spec.Permission {
	if v.Perms != nil {
		return v.Perms
	}
	return permissionsOf(v.Permissions)
}

// PreviousWindow is how long a previous token may stay valid, counted from
// the time of the review or the plan, before keeping it is a risk.
const PreviousWindow = 30 * 24 * time.Hour

// KeyRisks flags what a change of one key lets someone do that they could
// not do before: before is the key as it was (nil for a new key), after as
// it will be, now the time of the review or the plan. A key revoked in
// after grants nothing and raises none: narrowing a key's reach (another
// tenant for a universal key, fewer permissions, an earlier expiry, a
// revocation) is never a risk here. Of a new key, only the address,
// Universal, the permissions and Revoked are read.
//
// The risks are in SortRisks's order.
func KeyRisks(before, after *Version, now time.Time) []Risk {
	var out []Risk
	switch {
	case after.Revoked:
		return nil
	case before == nil:
		out = addedRisks(after)
	default:
		out = changedRisks(before, after, now)
	}
	if len(out) > 1 {
		SortRisks(out)
	}
	return out
}

// addedRisks flags a new key that reaches every tenant or holds a wildcard.
func addedRisks(h *Version) []Risk {
	var out []Risk
	if h.Universal {
		out = append(out, Risk{Severity: Critical, Kind: RiskCrossTenant, Address: h.Address.String(),
			Reason: "new universal key: its token reaches every tenant"})
	}
	// Only a JSON text with a "*" can hold a wildcard: the 100,000 keys of
	// a first apply are not decoded (nor their addresses formatted).
	if bytes.IndexByte(h.Permissions, '*') < 0 {
		return out
	}
	var wild []string
	for _, p := range h.perms() {
		if isWildcard(p.Name) {
			wild = append(wild, fmt.Sprintf("wildcard %q", p.Name))
		}
	}
	if len(wild) > 0 {
		out = append(out, Risk{Severity: High, Kind: RiskPermissions, Address: h.Address.String(), Field: "permissions",
			Reason: "new key with broad permissions: " + joinDetails(wild)})
	}
	return out
}

// changedRisks flags the changes of a key that exists on both sides and
// stays live. Its address differs only when a moved block renames it.
func changedRisks(b, h *Version, now time.Time) []Risk {
	addr := h.Address.String()
	var out []Risk
	add := func(sev Severity, kind RiskKind, field, format string, args ...any) {
		out = append(out, Risk{Severity: sev, Kind: kind, Address: addr, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	switch {
	case h.Universal && !b.Universal:
		add(Critical, RiskCrossTenant, "universal", "tenant key turned universal: its token now reaches every tenant, not only %q", b.Address.Tenant)
	case !b.Universal && !h.Universal && b.Address.Tenant != h.Address.Tenant:
		// A universal key that becomes a tenant's key reaches less: not here.
		add(Critical, RiskCrossTenant, "tenant", "moved from tenant %q to %q: the same token now reaches %q", b.Address.Tenant, h.Address.Tenant, h.Address.Tenant)
	}
	if !keycontent.SameJSON(b.Permissions, h.Permissions) {
		if w := widenings(b.perms(), h.perms()); len(w) > 0 {
			add(High, RiskPermissions, "permissions", "permissions widened: %s", joinDetails(w))
		}
	}
	if b.Revoked {
		add(High, RiskUnrevoked, "revoked", "revoked = true removed: the key works again when applied")
	}
	switch {
	case b.Disabled && !h.Disabled && !b.Revoked:
		add(High, RiskEnabled, "disabled", "enabled: the key's tokens, kept while it was disabled, work again when applied")
	case !b.Disabled && h.Disabled:
		add(Low, RiskDisabled, "disabled", "disabled: the key's tokens stop working when applied, and are kept (enabling it restores them)")
	}
	switch {
	case b.ExpiresAt != nil && h.ExpiresAt == nil:
		add(High, RiskExpiry, "expires", "expiry removed: the key no longer expires (it was to expire at %s)", stamp(*b.ExpiresAt))
	case b.ExpiresAt != nil && h.ExpiresAt.After(*b.ExpiresAt):
		add(Medium, RiskExpiry, "expires", "expiry pushed later: %s → %s", stamp(*b.ExpiresAt), stamp(*h.ExpiresAt))
	}
	out = append(out, previousRisks(b, h, now)...)
	if b.Token.ID != "" && h.Token.ID != "" && b.Token.ID != h.Token.ID {
		old := "the old token stops working"
		if p := h.Previous; p != nil && p.Token.ID == b.Token.ID && p.Until.After(now) {
			old = "the old token stays valid until " + stamp(p.Until) + " as previous_token"
		}
		add(Medium, RiskTokenSource, "token", "token changed: %s → %s: the key is rotated when applied (%s)", b.Token.Label, h.Token.Label, old)
	}
	return out
}

// previousRisks flags a previous token that becomes valid, or stays valid
// longer. A previous token whose cutoff has passed grants nothing.
func previousRisks(b, h *Version, now time.Time) []Risk {
	hp, bp := h.Previous, b.Previous
	if hp == nil || !hp.Until.After(now) {
		return nil
	}
	risk := func(sev Severity, kind RiskKind, field, format string, args ...any) []Risk {
		return []Risk{{Severity: sev, Kind: kind, Address: h.Address.String(), Field: field, Reason: fmt.Sprintf(format, args...)}}
	}
	long := ""
	if left := hp.Until.Sub(now); left > PreviousWindow {
		long = fmt.Sprintf("%d days from now (more than %d)", int(left.Hours()/24), int(PreviousWindow.Hours()/24))
	}
	samePrev := bp != nil && bp.Token.ID == hp.Token.ID
	switch {
	case hp.Token.ID != b.Token.ID && !samePrev:
		// Not the token the key had: a second token that was never this
		// key's works for it.
		how := "without a token change"
		switch {
		case b.Token.ID == "":
			how = "to a key that had no token"
		case h.Token.ID != b.Token.ID:
			how = "that is not the key's former token (" + b.Token.Label + ")"
		}
		reason := fmt.Sprintf("previous_token %s added %s: a second token works for this key until %s", hp.Token.Label, how, stamp(hp.Until))
		if long != "" {
			reason += ", " + long
		}
		return risk(High, RiskPreviousToken, "previous_token", "%s", reason)
	case samePrev && hp.Until.After(bp.Until):
		reason := fmt.Sprintf("previous_until pushed later: %s → %s", stamp(bp.Until), stamp(hp.Until))
		if long != "" {
			reason += ": the previous token stays valid " + long
		}
		return risk(Medium, RiskExpiry, "previous_until", "%s", reason)
	case !samePrev && long != "":
		// A rolling rotation: the former token stays valid for a long time.
		return risk(Medium, RiskExpiry, "previous_until", "previous_until far away: the former token %s stays valid until %s, %s",
			hp.Token.Label, stamp(hp.Until), long)
	}
	return nil
}

func sourcesText(s Sources) string {
	if len(s) == 0 {
		return "(an expression)"
	}
	return strings.Join(s, ", ")
}

// RemovedRisk flags a live key that is no longer declared; outcome says
// what becomes of it (e.g. "disabled at the next apply --prune"). Whether
// it is disabled or revoked, it takes access away: the risk is low.
func RemovedRisk(a spec.Address, outcome string) Risk {
	return Risk{Severity: Low, Kind: RiskRemoved, Address: a.String(), Reason: "removed from the spec: " + outcome}
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
	switch {
	case h.PruneRevoke && !b.PruneRevoke:
		// Removing a key from the spec becomes irreversible.
		add(High, "prune", "prune switched to revoking: every apply revokes the owned keys the spec no longer declares, and a revocation cannot be undone")
	case h.Prune != nil && *h.Prune && (b.Prune == nil || !*b.Prune):
		add(Low, "prune", "prune enabled: every apply disables the owned keys the spec no longer declares, their tokens kept (declaring a key again enables it)")
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
func isWildcard(name string) bool { return names.IsWildcard(name) }

// covers reports whether pattern grants name (itself a name or a pattern),
// by keyprov's one wildcard rule (names.Covers), which verify's Key.Can
// and the spec's permission catalog apply too.
func covers(pattern, name string) bool { return names.Covers(pattern, name) }
