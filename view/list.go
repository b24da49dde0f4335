package view

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyprov/keyprov/store"
)

// ListJSONVersion is the format_version of keyprov list -o json.
const ListJSONVersion = "1"

// ListKey is a stored key as keyprov list shows it. The command fills it
// from the store; the renderers escape every stored value and show the
// permissions name first.
type ListKey struct {
	Address     string `json:"address"`
	Tenant      string `json:"tenant"`
	Slug        string `json:"slug"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Universal   bool   `json:"universal"`
	// Permissions are as stored (jsonb's order): a JSON array of objects.
	Permissions   json.RawMessage `json:"permissions"`
	Metadata      json.RawMessage `json:"metadata"`
	Tokens        []ListToken     `json:"tokens"`
	ExpiresAt     *time.Time      `json:"expires_at"`
	State         string          `json:"state"`
	RevokedAt     *time.Time      `json:"revoked_at,omitempty"`
	RevokedReason string          `json:"revoked_reason,omitempty"`
	Disabled      *ListDisabled   `json:"disabled,omitempty"`
	Owner         string          `json:"owner"`
	UpdatedAt     time.Time       `json:"updated_at"`
	// LastUsedAt is the last use a verifier recorded, nil when none has.
	LastUsedAt *time.Time `json:"last_used_at"`
}

// ListDisabled is who holds a listed key disabled, and since when.
type ListDisabled struct {
	At time.Time `json:"at"`
	// By names the holders: "spec", "prune", "operator".
	By []string `json:"by"`
	// Actor and Reason are the operator's, for an operator's disable.
	Actor  string `json:"actor,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// ListToken is one live token of a listed key, by its hint: a token is
// never listed, nor its digest.
type ListToken struct {
	Hint       string     `json:"hint"`
	State      string     `json:"state"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`
}

// WriteListJSON writes the document of keyprov list -o json: every key,
// permissions name first, stored text escaped (PrintableJSON).
func WriteListJSON(w io.Writer, keys []ListKey) error {
	shown := make([]ListKey, len(keys))
	for i, k := range keys {
		k.Permissions = PermissionsJSON(k.Permissions)
		shown[i] = k
	}
	b, err := json.MarshalIndent(struct {
		FormatVersion string    `json:"format_version"`
		Keys          []ListKey `json:"keys"`
	}{ListJSONVersion, shown}, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(PrintableJSON(b), '\n'))
	return err
}

// maxListedPermissions is how many permissions a table row shows.
const maxListedPermissions = 3

// WriteListText writes the table of keyprov list and its closing line;
// hidden is the number of revoked keys left out (for want of --all).
func WriteListText(w io.Writer, keys []ListKey, hidden int) error {
	bw := bufio.NewWriter(w)
	if len(keys) > 0 {
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ADDRESS\tNAME\tKIND\tPERMISSIONS\tTOKENS\tEXPIRES\tSTATE\tOWNER\tUPDATED\tLAST USED")
		for _, k := range keys {
			kind := "tenant"
			if k.Universal {
				kind = "universal"
			}
			state := k.State
			if k.RevokedAt != nil {
				state += " " + k.RevokedAt.Format(time.RFC3339)
			} else if k.Disabled != nil {
				state += " (" + strings.Join(k.Disabled.By, ", ") + ")"
			}
			// Stored values are escaped (tabs too, which would break the table).
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", Printable(k.Address), Printable(k.Name), kind,
				Printable(permissionSummary(PermissionForms(k.Permissions))), Printable(tokenSummary(k.Tokens)), TimeText(k.ExpiresAt, "never"),
				Printable(state), Printable(k.Owner), k.UpdatedAt.Format(time.RFC3339), TimeText(k.LastUsedAt, "never"))
		}
		tw.Flush()
	}
	line := "No keys"
	if len(keys) > 0 {
		line = Plural(len(keys), "key")
	}
	if hidden > 0 {
		line += fmt.Sprintf("; %s hidden (--all shows them)", Plural(hidden, "revoked key"))
	}
	fmt.Fprintln(bw, line+".")
	return bw.Flush()
}

// PermissionForms renders stored permissions (a JSON array of objects)
// for a table: the name, then its attributes in parentheses, sorted by
// name: wb.page(rwd=r), cms.read, search.*(own=true, locales=["de","fr"]).
// Strings are written bare when they are plain words, anything else as
// JSON. The forms are not escaped: Printable them.
func PermissionForms(doc []byte) []string {
	var perms []map[string]json.RawMessage
	_ = json.Unmarshal(doc, &perms)
	out := make([]string, 0, len(perms))
	for _, p := range perms {
		var name string
		_ = json.Unmarshal(p["name"], &name)
		attrs := make([]string, 0, len(p))
		for k, v := range p {
			if k != "name" {
				attrs = append(attrs, k+"="+attributeText(v))
			}
		}
		if len(attrs) > 0 {
			sort.Strings(attrs)
			name += "(" + strings.Join(attrs, ",") + ")"
		}
		out = append(out, name)
	}
	return out
}

// attributeText is an attribute's value: a plain word bare (r, rw, true,
// 10), anything else as compact JSON.
func attributeText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		if s != "" && strings.IndexFunc(s, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' || r == '*' || r == ':')
		}) < 0 {
			return s
		}
		return string(v)
	}
	var buf bytes.Buffer
	if json.Compact(&buf, v) != nil {
		return string(v)
	}
	return buf.String()
}

func permissionSummary(names []string) string {
	switch {
	case len(names) == 0:
		return "-"
	case len(names) > maxListedPermissions:
		return strings.Join(names[:maxListedPermissions], ",") + fmt.Sprintf(" +%d", len(names)-maxListedPermissions)
	}
	return strings.Join(names, ",")
}

func tokenSummary(ts []ListToken) string {
	if len(ts) == 0 {
		return "-"
	}
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.Hint
		if t.State == store.StatePrevious && t.ValidUntil != nil {
			parts[i] += " (previous until " + t.ValidUntil.Format(time.RFC3339) + ")"
		}
	}
	return strings.Join(parts, ", ")
}

// TimeText is t in UTC as RFC 3339, or none when t is nil.
func TimeText(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}

// Plural is "1 key", "2 keys": n and word, with an s unless n is 1.
func Plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
