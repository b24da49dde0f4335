package reconcile

import (
	"fmt"
	"time"

	"github.com/keyprov/keyprov/spec"
)

// WarnPreviousExpiring is the kind of a warning about a rolling rotation
// whose previous token stops working soon.
const WarnPreviousExpiring = "previous-token-expiring"

// EndField names the attribute that ends a key's or a token's validity.
type EndField string

// The attributes that end a validity.
const (
	Expires       EndField = "expires"
	PreviousUntil EndField = "previous_until"
)

// ExpiryWarning is the warning about an end of validity (the key's
// expires, or its previous_until) at now: past (expired), within warn of
// now (expiring), or none (ok is false). It is pure: plan and validate give
// it their clock.
func ExpiryWarning(addr spec.Address, field EndField, end, now time.Time, warn time.Duration) (w Warning, ok bool) {
	left := end.Sub(now)
	at := end.Format(time.RFC3339)
	w.Address = addr.String()
	switch {
	case left <= 0 && field == PreviousUntil:
		w.Kind, w.Message = WarnPreviousExpired, fmt.Sprintf("previous_until (%s) has passed: the previous token no longer works; remove previous_token and previous_until from the spec", at)
	case left <= 0:
		w.Kind, w.Message = WarnExpired, fmt.Sprintf("expired at %s; it no longer verifies", at)
	case warn <= 0 || left > warn:
		return Warning{}, false
	case field == PreviousUntil:
		w.Kind, w.Message = WarnPreviousExpiring, fmt.Sprintf("the previous token stops working at %s (previous_until), in %s", at, humanDuration(left))
	default:
		w.Kind, w.Message = WarnExpiring, fmt.Sprintf("expires at %s, in %s", at, humanDuration(left))
	}
	return w, true
}

// KeyExpiryWarnings are the warnings about k's expires and previous_until
// (ExpiryWarning), in that order. A revoked key has none.
func KeyExpiryWarnings(k *spec.Key, now time.Time, warn time.Duration) []Warning {
	if k.Revoked {
		return nil
	}
	var out []Warning
	if k.Expires != nil {
		if w, ok := ExpiryWarning(k.Address, Expires, *k.Expires, now, warn); ok {
			out = append(out, w)
		}
	}
	if k.Previous != nil {
		if w, ok := ExpiryWarning(k.Address, PreviousUntil, k.Previous.Until, now, warn); ok {
			out = append(out, w)
		}
	}
	return out
}
