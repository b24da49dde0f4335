package view

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keyprov/keyprov/store"
)

// The answers of keyprov revoke, disable and enable. addr is the address
// the operator gave, already checked (tenant/slug); every value read back
// from the store is escaped.

// WriteRevoked writes keyprov revoke's answer.
func WriteRevoked(w io.Writer, addr string, r *store.Revocation) error {
	bw := bufio.NewWriter(w)
	when := r.RevokedAt.Format(time.RFC3339)
	if r.AlreadyRevoked {
		fmt.Fprintf(bw, "%s was already revoked at %s.", addr, when)
	} else {
		fmt.Fprintf(bw, "Revoked %s at %s.", addr, when)
	}
	if len(r.Retired) > 0 {
		fmt.Fprintf(bw, " Retired %s: %s.", Plural(len(r.Retired), "token"), Printable(strings.Join(r.Retired, ", ")))
	}
	fmt.Fprintln(bw, "\nThe token can never be used again: set a new token in the spec's secret before the key can be restored.")
	return bw.Flush()
}

// WriteDisabled writes keyprov disable's answer.
func WriteDisabled(w io.Writer, addr string, sw *store.Switch) error {
	bw := bufio.NewWriter(w)
	switch {
	case sw.RevokedAt != nil:
		fmt.Fprintf(bw, "%s is revoked (at %s): its tokens can never be used again. Nothing to disable.\n", addr, stamp(*sw.RevokedAt))
	case !sw.Changed:
		op := sw.Before.Operator
		fmt.Fprintf(bw, "%s was already disabled by %s at %s: %s.\n", addr, Printable(op.Actor), stamp(op.At), Printable(op.Reason))
	default:
		fmt.Fprintf(bw, "Disabled %s at %s. Its tokens are kept: keyprov enable %s restores them; no apply does.\n", addr, stamp(sw.After.Operator.At), addr)
		if others := HoldersBesidesOperator(sw.Before); others != "" {
			fmt.Fprintf(bw, "It was disabled already %s; it stays disabled until both are lifted.\n", others)
		}
	}
	return bw.Flush()
}

// WriteEnabled writes keyprov enable's answer, unless nothing was changed
// while the spec or a prune holds the key: that is a refusal, which the
// command reports.
func WriteEnabled(w io.Writer, addr string, sw *store.Switch) error {
	bw := bufio.NewWriter(w)
	rest := HoldersBesidesOperator(sw.After)
	switch {
	case sw.Changed && rest == "":
		fmt.Fprintf(bw, "Enabled %s: its tokens work again.\n", addr)
		if sw.RevokedAt != nil {
			fmt.Fprintf(bw, "It is revoked, though (at %s): its tokens can never be used again.\n", stamp(*sw.RevokedAt))
		}
	case sw.Changed:
		fmt.Fprintf(bw, "Lifted the operator's disable of %s; it stays disabled %s.\n", addr, rest)
	case rest == "":
		fmt.Fprintf(bw, "%s is not disabled.\n", addr)
	}
	return bw.Flush()
}

// HoldersBesidesOperator names the holders of d other than an operator,
// and what lifts each: "" when there are none.
func HoldersBesidesOperator(d store.Disabled) string {
	var by []string
	if d.Spec {
		by = append(by, "by the spec (disabled = true: remove it from the spec)")
	}
	if d.Prune {
		by = append(by, "by a prune (the spec no longer declares it: declare it again)")
	}
	return strings.Join(by, " and ")
}

// stamp is a moment of the store, in UTC, as RFC 3339.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
