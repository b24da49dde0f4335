// Package review compares two evaluated versions of a key spec the way a
// reviewer reads a pull request: which keys are added, removed, moved or
// changed (field by field), and which of those changes widen access (risk
// flags, most severe first).
//
// Compare is a pure function of two *spec.Spec values: no I/O, no secrets,
// no database. Tokens are never compared by value, only by where they are
// read from (spec.Token.Sources), so both specs are normally evaluated with
// spec.Options.Secrets false.
package review

import (
	"fmt"
	"slices"
	"sort"

	"github.com/keyprov/keyprov/internal/keycontent"
	"github.com/keyprov/keyprov/spec"
)

// Kind is what happened to one key between the two specs.
type Kind string

// Kinds of key changes.
const (
	Added   Kind = "added"
	Removed Kind = "removed"
	// Moved is a rename declared by a moved block in HEAD; the key may
	// also have changed fields.
	Moved   Kind = "moved"
	Changed Kind = "changed"
)

// Review is the result of Compare.
type Review struct {
	// Settings lists the changed settings, in a fixed order.
	Settings []FieldChange
	// Changes has one entry per added, removed, moved or changed key,
	// sorted by address (HEAD's address; BASE's for a removed key).
	Changes []Change
	// Risks are the changes that widen access or affect many keys, most
	// severe first.
	Risks []Risk
	// Unchanged counts the keys that are the same in both specs.
	Unchanged int
}

// Change is one key that differs between BASE and HEAD.
type Change struct {
	Address spec.Address
	Kind    Kind
	// Universal is true for a universal key (in HEAD; in BASE for a removed key).
	Universal bool
	// MovedFrom is the key's address in BASE when Kind is Moved.
	MovedFrom *spec.Address
	// Fields are the changed attributes in a fixed order (see Compare). For
	// an added key they are the attributes it sets, with Before nil; a
	// removed key lists only its name, with After nil.
	Fields []FieldChange
}

// FieldChange is one changed attribute, of a key between two specs (see
// Compare) or of a key between the store and a spec (reconcile's plan):
// keycontent.FieldChange. Before and After are display values, nil when
// absent: for the content fields, keycontent.Field.Value's (bool, string
// — "" when unset —, json.RawMessage, time.Time); besides, bool (revoked,
// disabled, prune; prune is "revoke" for prune = "revoke"), string
// (settings), time.Time (previous_until), Sources (token,
// previous_token) or []string (allowed_permissions).
type FieldChange = keycontent.FieldChange

// Sources is where a token is read from, e.g. [`env("FRONTEND_KEY")`]:
// names of variables and files, never values.
type Sources []string

// Summary counts a review's changes.
type Summary struct {
	Added, Removed, Moved, Changed, Unchanged int
	// Settings is the number of changed settings.
	Settings int
	// Risks counts the risk flags per severity.
	Risks map[Severity]int
}

// Summary counts the changes and risks.
func (r *Review) Summary() Summary {
	s := Summary{Unchanged: r.Unchanged, Settings: len(r.Settings), Risks: map[Severity]int{}}
	for _, c := range r.Changes {
		switch c.Kind {
		case Added:
			s.Added++
		case Removed:
			s.Removed++
		case Moved:
			s.Moved++
		case Changed:
			s.Changed++
		}
	}
	for _, rk := range r.Risks {
		s.Risks[rk.Severity]++
	}
	return s
}

// HasChanges reports whether the two specs differ in any key or setting.
func (r *Review) HasChanges() bool { return len(r.Changes) > 0 || len(r.Settings) > 0 }

// MaxSeverity returns the severity of the most severe risk, or 0 when
// there is none.
func (r *Review) MaxSeverity() Severity { return MaxSeverity(r.Risks) }

// Severity ranks risks. The zero value means no risk.
type Severity int

// Severities, from the least to the most severe.
const (
	Low Severity = iota + 1
	Medium
	High
	Critical
)

var severityNames = map[Severity]string{Low: "low", Medium: "medium", High: "high", Critical: "critical"}

// String returns "low", "medium", "high" or "critical".
func (s Severity) String() string {
	if n, ok := severityNames[s]; ok {
		return n
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ParseSeverity parses "low", "medium", "high" or "critical".
func ParseSeverity(name string) (Severity, error) {
	for s, n := range severityNames {
		if n == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("review: unknown severity %q: want low, medium, high or critical", name)
}

// RiskKind names a kind of risky change.
type RiskKind string

// Risk kinds.
const (
	// RiskCrossTenant: a new universal key, a tenant key turned universal,
	// or a tenant key moved to another tenant.
	RiskCrossTenant RiskKind = "cross-tenant"
	// RiskPermissions: a wildcard or permission name gained, an access
	// level widened, a constraint (own = true, a scope) dropped.
	RiskPermissions RiskKind = "permissions-widened"
	// RiskPreviousToken: a previous_token that was not the key's token
	// (added without a token change, or not the former token).
	RiskPreviousToken RiskKind = "previous-token-added"
	// RiskUnrevoked: revoked = true removed.
	RiskUnrevoked RiskKind = "unrevoked"
	// RiskEnabled: a disabled key enabled again (disabled = true removed,
	// or a key disabled by a prune declared again): its kept tokens work
	// again.
	RiskEnabled RiskKind = "key-enabled"
	// RiskExpiry: expires removed or pushed later; previous_until pushed
	// later, or more than PreviousWindow away.
	RiskExpiry RiskKind = "expiry-extended"
	// RiskTokenSource: the token changes, so the key is rotated: a spec
	// reads it from another variable or file (diff), or the plan sets a new
	// token (plan, apply).
	RiskTokenSource RiskKind = "token-source-changed"
	// RiskRemoved: a live key removed from the spec.
	RiskRemoved RiskKind = "key-removed"
	// RiskDisabled: a key disabled (disabled = true): its tokens stop
	// working, and are kept.
	RiskDisabled RiskKind = "key-disabled"
	// RiskSettings: a settings change that affects many keys (diff only:
	// the store keeps no settings).
	RiskSettings RiskKind = "settings"
)

// riskKinds lists every kind, in the order in which risks of the same
// severity are shown.
var riskKinds = []RiskKind{
	RiskCrossTenant, RiskPermissions, RiskPreviousToken, RiskUnrevoked, RiskEnabled,
	RiskExpiry, RiskTokenSource, RiskRemoved, RiskDisabled, RiskSettings,
}

// RiskKinds returns every risk kind, in the order in which risks of the
// same severity are shown.
func RiskKinds() []RiskKind { return slices.Clone(riskKinds) }

// SortRisks orders risks most severe first, then by kind (see RiskKinds),
// address and field.
func SortRisks(rs []Risk) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		switch {
		case a.Severity != b.Severity:
			return a.Severity > b.Severity
		case a.Kind != b.Kind:
			return slices.Index(riskKinds, a.Kind) < slices.Index(riskKinds, b.Kind)
		case a.Address != b.Address:
			return a.Address < b.Address
		}
		return a.Field < b.Field
	})
}

// MaxSeverity returns the severity of the most severe of rs, or 0 when
// there is none.
func MaxSeverity(rs []Risk) Severity {
	var m Severity
	for _, rk := range rs {
		m = max(m, rk.Severity)
	}
	return m
}

// Risk is one flagged change.
type Risk struct {
	Severity Severity
	Kind     RiskKind
	// Address is the key's address ("tenant/slug"); empty for a setting.
	Address string
	// Field is the attribute or setting concerned, e.g. "permissions" or
	// "owner"; empty for a key added or removed as a whole.
	Field string
	// Reason says in a few words what changed and why it matters.
	Reason string
}
