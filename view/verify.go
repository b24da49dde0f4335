package view

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/keyprov/keyprov/verify"
)

// VerifyJSONVersion is the format_version of keyprov verify -o json.
const VerifyJSONVersion = "1"

// VerifyResult is keyprov verify's answer: whether the token verifies,
// why not, and the key it belongs to. The token itself is not part of
// it: only the key's hint of it (verify.Key.TokenHint).
type VerifyResult struct {
	FormatVersion string `json:"format_version"`
	Valid         bool   `json:"valid"`
	// Reason is the code of the failure (verify.Code), Address the key's
	// and Message the error's text, for an invalid token.
	Reason  string `json:"reason,omitempty"`
	Address string `json:"address,omitempty"`
	Message string `json:"message,omitempty"`
	// Tenant is --tenant: the tenant the key had to reach.
	Tenant string      `json:"tenant,omitempty"`
	Key    *verify.Key `json:"key,omitempty"`
	// Err is the failure, nil for a valid token.
	Err *verify.Error `json:"-"`
}

// NewVerifyResult is the answer for a verification that found key (nil
// when the token belongs to none) and failed with err (nil: valid; a
// *verify.Error says why); tenant is the tenant the key had to reach, if
// any.
func NewVerifyResult(key *verify.Key, err error, tenant string) VerifyResult {
	res := VerifyResult{FormatVersion: VerifyJSONVersion, Valid: err == nil, Key: key, Tenant: tenant}
	if verr := (*verify.Error)(nil); errors.As(err, &verr) {
		res.Err = verr
		res.Reason, res.Address, res.Message = verify.Code(verr), verr.Address, verr.Error()
	}
	return res
}

// WriteVerifyJSON writes the answer as a JSON document, stored text
// escaped (PrintableJSON).
func WriteVerifyJSON(w io.Writer, res VerifyResult) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(PrintableJSON(b), '\n'))
	return err
}

// WriteVerifyText writes the answer for people. Everything but keyprov's
// own words comes from the store and is escaped (Printable).
func WriteVerifyText(w io.Writer, res VerifyResult) error {
	if verr := res.Err; !res.Valid && verr != nil {
		msg := verr.Detail
		switch {
		case verr.Address != "" && msg != "":
			msg = verr.Address + ": " + msg
		case verr.Address != "":
			msg = verr.Address
		case res.Reason == verify.CodeUnknown:
			msg = "no key in the store has this token"
		}
		fmt.Fprintf(w, "Invalid (%s): %s\n", res.Reason, Printable(msg))
	}
	k := res.Key
	if k == nil {
		return nil
	}
	kind := "tenant key"
	if k.Universal {
		kind = "universal key"
	}
	p := Printable
	if res.Valid {
		fmt.Fprintf(w, "Valid: %s (%s), %s token %s\n", p(k.Address), kind, p(string(k.Token)), p(k.TokenHint))
	} else {
		fmt.Fprintf(w, "The token belongs to %s (%s), %s token %s\n", p(k.Address), kind, p(string(k.Token)), p(k.TokenHint))
	}
	var err error
	row := func(name, val string) {
		if _, werr := fmt.Fprintf(w, "  %-12s %s\n", name+":", p(val)); err == nil {
			err = werr
		}
	}
	row("name", k.Name)
	row("tenant", k.Tenant)
	row("permissions", verifyPermissionsText(k.Permissions))
	row("metadata", metadataText(k.Metadata))
	row("expires", TimeText(k.ExpiresAt, "never"))
	if k.ValidUntil != nil {
		row("valid until", TimeText(k.ValidUntil, ""))
	}
	if res.Valid && res.Tenant != "" {
		row("scope", "reaches tenant "+res.Tenant)
	}
	return err
}

// verifyPermissionsText is a verified key's permissions on one line:
// name, then its attributes as JSON.
func verifyPermissionsText(ps []verify.Permission) string {
	if len(ps) == 0 {
		return "none"
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Name
		if len(p.Attributes) > 0 {
			b, _ := json.Marshal(p.Attributes)
			parts[i] += " " + string(b)
		}
	}
	return strings.Join(parts, ", ")
}

// metadataText is a key's metadata on one line, sorted by name:
// team="web", tier="gold".
func metadataText(m map[string]string) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, m[k])
	}
	return strings.Join(parts, ", ")
}
