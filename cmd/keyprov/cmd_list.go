package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/view"
)

var listCmd = &command{
	name:    "list",
	summary: "list the keys in the store, without secrets",
	help: `Lists the keys in the store, sorted by address: name, universal or tenant
key, permissions with their attributes (wb.page(rwd=r)), the hints of the
live tokens (wat_…9fQx: never a token or a digest), expiry, state (active;
revoked; disabled, with who holds it: spec, prune, operator; or expired; a
disabled key keeps its tokens, which verify again once it is enabled), owner,
the time of the last change and the last use that a verifier recorded
(keys.last_used_at, written by the verify package's WithLastUsed).

Revoked keys are hidden unless --all is given. --tenant selects the keys
stored under one tenant (universal keys live in the root tenant and reach
every tenant); --owner the keys of one owner (a spec's settings.owner).
--unused-for 30d lists only the keys that nobody has used for that long:
never used and created before then, or last used before then (by the
database's clock; units d, h, m, s).

Exit status: 0 success; 1 bad arguments; 3 store unavailable; 4 keyprov's
schema holds objects that are not keyprov's (SECURITY.md); 5 the server
rejected keyprov (authentication, no such database, no CONNECT).`,
	run: runList,
}

// listKey is the JSON form of a listed key.
type listKey struct {
	Address       string          `json:"address"`
	Tenant        string          `json:"tenant"`
	Slug          string          `json:"slug"`
	Name          string          `json:"name"`
	Description   string          `json:"description,omitempty"`
	Universal     bool            `json:"universal"`
	Permissions   json.RawMessage `json:"permissions"`
	Metadata      json.RawMessage `json:"metadata"`
	Tokens        []listToken     `json:"tokens"`
	ExpiresAt     *time.Time      `json:"expires_at"`
	State         string          `json:"state"`
	RevokedAt     *time.Time      `json:"revoked_at,omitempty"`
	RevokedReason string          `json:"revoked_reason,omitempty"`
	Disabled      *listDisabled   `json:"disabled,omitempty"`
	Owner         string          `json:"owner"`
	UpdatedAt     time.Time       `json:"updated_at"`
	// LastUsedAt is the last use a verifier recorded, null when none has.
	LastUsedAt *time.Time `json:"last_used_at"`
	perms      []string   // permissions as name(attr=value,…), for the text table
}

// listDisabled is who holds a listed key disabled, and since when.
type listDisabled struct {
	At time.Time `json:"at"`
	// By names the holders: "spec", "prune", "operator".
	By []string `json:"by"`
	// Actor and Reason are the operator's, for an operator's disable.
	Actor  string `json:"actor,omitempty"`
	Reason string `json:"reason,omitempty"`
}

type listToken struct {
	Hint       string     `json:"hint"`
	State      string     `json:"state"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`
}

// Key states shown by list.
const (
	listActive  = "active"
	listExpired = "expired"
	listRevoked = "revoked"
	// listStateDisabled is a disabled key's state: after revoked, before
	// expired, as verify decides.
	listStateDisabled = "disabled"
)

func runList(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	dbf := addDBFlags(fs, a.cfg)
	tenant := fs.String("tenant", "", "only keys of `tenant`")
	owner := fs.String("owner", "", "only keys of `owner`")
	all := fs.Bool("all", false, "include revoked keys")
	var unused unusedFor
	fs.Var(&unused, "unused-for", "only keys nobody has used for this `duration` (30d, 12h)")
	out := addOutputFlag(fs, "text or json", "text", "json")
	lf := addLogFlags(fs, a.cfg)
	pos, code, ok := fs.parse(a, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		a.errorf("keyprov list: unexpected argument %s (use --tenant or --owner to filter)", quoteArg(pos[0]))
		return exitInvalid
	}
	lf.setup(a)

	db, err := dbf.open(ctx, a, nil)
	if err != nil {
		return a.storeExit(err, "list")
	}
	defer db.Close(context.Background())
	var (
		st   *store.State
		uses map[int64]store.Use
	)
	switch err := db.CheckVersion(ctx); {
	case errors.Is(err, store.ErrSchemaMissing):
		st = &store.State{}
	case err != nil:
		return a.storeExit(err, "list")
	default:
		if err := db.View(ctx, func(tx *store.Tx) error {
			var err error
			if st, err = tx.Load(ctx); err != nil {
				return err
			}
			uses, err = tx.Uses(ctx)
			return err
		}); err != nil {
			return a.storeExit(err, "list")
		}
	}

	keys, hidden := selectKeys(st, uses, *tenant, *owner, *all, time.Duration(unused))
	w := bufio.NewWriter(a.out)
	defer w.Flush()
	if out.val == "json" {
		b, err := json.MarshalIndent(struct {
			FormatVersion string    `json:"format_version"`
			Keys          []listKey `json:"keys"`
		}{"1", keys}, "", "  ")
		if err != nil {
			a.errorf("keyprov list: %v", err)
			return exitInvalid
		}
		w.Write(append(view.PrintableJSON(b), '\n'))
	} else {
		writeListText(w, keys, hidden)
	}
	a.log.Debug().Int("keys", len(keys)).Int("hidden", hidden).Msg("list finished")
	return exitOK
}

// selectKeys filters and sorts the stored keys; hidden counts the revoked
// keys left out for want of --all. With unusedFor, only the keys that
// nobody has used for that long are kept (see usedWithin).
func selectKeys(st *store.State, uses map[int64]store.Use, tenant, owner string, all bool, unusedFor time.Duration) (keys []listKey, hidden int) {
	keys = []listKey{}
	for _, k := range st.Keys {
		if tenant != "" && k.Tenant != tenant || owner != "" && k.Owner != owner {
			continue
		}
		u, ok := uses[k.ID]
		if unusedFor > 0 && (!ok || usedWithin(u, st.Now.Add(-unusedFor))) {
			continue
		}
		if k.RevokedAt != nil && !all {
			hidden++
			continue
		}
		lk := toListKey(k, st.Now)
		lk.LastUsedAt = u.LastUsedAt
		keys = append(keys, lk)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Tenant != keys[j].Tenant {
			return keys[i].Tenant < keys[j].Tenant
		}
		return keys[i].Slug < keys[j].Slug
	})
	return keys, hidden
}

func toListKey(k *store.Key, now time.Time) listKey {
	lk := listKey{
		Address: k.Tenant + "/" + k.Slug, Tenant: k.Tenant, Slug: k.Slug, Name: k.Name, Description: k.Description,
		Universal: k.Universal, Permissions: view.PermissionsJSON(k.Permissions), Metadata: json.RawMessage(k.Metadata),
		Tokens: []listToken{}, ExpiresAt: utcPtr(k.ExpiresAt), State: listActive,
		RevokedAt: utcPtr(k.RevokedAt), RevokedReason: k.RevokedReason, Owner: k.Owner, UpdatedAt: k.UpdatedAt.UTC(),
	}
	if d := k.Disabled; d.At != nil {
		lk.Disabled = &listDisabled{At: d.At.UTC(), By: d.Holders()}
		if op := d.Operator; op != nil {
			lk.Disabled.Actor, lk.Disabled.Reason = op.Actor, op.Reason
		}
	}
	switch {
	case k.RevokedAt != nil:
		lk.State = listRevoked
	case lk.Disabled != nil:
		lk.State = listStateDisabled
	case k.ExpiresAt != nil && !k.ExpiresAt.After(now):
		lk.State = listExpired
	}
	// Active first, then previous.
	for _, want := range []string{store.StateActive, store.StatePrevious} {
		for _, t := range k.Tokens {
			if t.State == want {
				lk.Tokens = append(lk.Tokens, listToken{Hint: t.Hint, State: t.State, ValidUntil: utcPtr(t.ValidUntil)})
			}
		}
	}
	lk.perms = permissionForms(k.Permissions)
	return lk
}

// usedWithin reports whether a key was used at since or later, or is too
// young to say: created since then and never used.
func usedWithin(u store.Use, since time.Time) bool {
	if u.LastUsedAt != nil {
		return !u.LastUsedAt.Before(since)
	}
	return !u.CreatedAt.Before(since)
}

// permissionForms renders a key's stored permissions (a JSON array of
// objects) for the text table: the name, then its attributes in
// parentheses, sorted by name: wb.page(rwd=r), cms.read, search.*(own=true,
// locales=["de","fr"]). Strings are written bare when they are plain words,
// anything else as JSON.
func permissionForms(doc []byte) []string {
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

// unusedFor is the value of --unused-for: a Go duration, or a whole number
// of days ("30d").
type unusedFor time.Duration

func (u *unusedFor) String() string { return time.Duration(*u).String() }

func (u *unusedFor) Set(s string) error {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*365 {
			return fmt.Errorf("want a duration such as 30d or 12h")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d <= 0 {
			return fmt.Errorf("want a duration such as 30d or 12h")
		}
	}
	*u = unusedFor(d)
	return nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// maxListedPermissions is how many permission names a table row shows.
const maxListedPermissions = 3

func writeListText(w io.Writer, keys []listKey, hidden int) {
	if len(keys) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", view.Printable(k.Address), view.Printable(k.Name), kind,
				view.Printable(permissionSummary(k.perms)), view.Printable(tokenSummary(k.Tokens)), timeText(k.ExpiresAt, "never"),
				view.Printable(state), view.Printable(k.Owner), k.UpdatedAt.Format(time.RFC3339), timeText(k.LastUsedAt, "never"))
		}
		tw.Flush()
	}
	line := "No keys"
	if len(keys) > 0 {
		line = plural(len(keys), "key")
	}
	if hidden > 0 {
		line += fmt.Sprintf("; %s hidden (--all shows them)", plural(hidden, "revoked key"))
	}
	fmt.Fprintln(w, line+".")
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

func tokenSummary(ts []listToken) string {
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
