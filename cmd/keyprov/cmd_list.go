package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
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
key, permissions, the hints of the live tokens (wat_…9fQx: never a token or a
digest), expiry, state, owner and the time of the last change.

Revoked keys are hidden unless --all is given. --tenant selects the keys
stored under one tenant (universal keys live in the root tenant and reach
every tenant); --owner the keys of one owner (a spec's settings.owner).

Exit status: 0 success; 1 bad arguments; 3 store unavailable; 4 keyprov's
schema holds objects that are not keyprov's (SECURITY.md).`,
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
	Owner         string          `json:"owner"`
	UpdatedAt     time.Time       `json:"updated_at"`
	perms         []string        // permission names, for the text table
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
)

func runList(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	dbf := addDBFlags(fs, a.cfg)
	tenant := fs.String("tenant", "", "only keys of `tenant`")
	owner := fs.String("owner", "", "only keys of `owner`")
	all := fs.Bool("all", false, "include revoked keys")
	out := addOutputFlag(fs, "text or json", "text", "json")
	lf := addLogFlags(fs, a.cfg)
	pos, code, ok := fs.parse(a, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(a.err, "keyprov list: unexpected argument %s (use --tenant or --owner to filter)\n", quoteArg(pos[0]))
		return exitInvalid
	}
	lf.setup(a)

	db, err := dbf.open(ctx, a, nil)
	if err != nil {
		return a.storeExit(err, "list")
	}
	defer db.Close(context.Background())
	var st *store.State
	switch err := db.CheckVersion(ctx); {
	case errors.Is(err, store.ErrSchemaMissing):
		st = &store.State{}
	case err != nil:
		return a.storeExit(err, "list")
	default:
		if err := db.View(ctx, func(tx *store.Tx) error {
			var err error
			st, err = tx.Load(ctx)
			return err
		}); err != nil {
			return a.storeExit(err, "list")
		}
	}

	keys, hidden := selectKeys(st, *tenant, *owner, *all)
	w := bufio.NewWriter(a.out)
	defer w.Flush()
	if out.val == "json" {
		b, err := json.MarshalIndent(struct {
			FormatVersion string    `json:"format_version"`
			Keys          []listKey `json:"keys"`
		}{"1", keys}, "", "  ")
		if err != nil {
			fmt.Fprintf(a.err, "keyprov list: %v\n", err)
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
// keys left out for want of --all.
func selectKeys(st *store.State, tenant, owner string, all bool) (keys []listKey, hidden int) {
	keys = []listKey{}
	for _, k := range st.Keys {
		if tenant != "" && k.Tenant != tenant || owner != "" && k.Owner != owner {
			continue
		}
		if k.RevokedAt != nil && !all {
			hidden++
			continue
		}
		keys = append(keys, toListKey(k, st.Now))
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
		Universal: k.Universal, Permissions: json.RawMessage(k.Permissions), Metadata: json.RawMessage(k.Metadata),
		Tokens: []listToken{}, ExpiresAt: utcPtr(k.ExpiresAt), State: listActive,
		RevokedAt: utcPtr(k.RevokedAt), RevokedReason: k.RevokedReason, Owner: k.Owner, UpdatedAt: k.UpdatedAt.UTC(),
	}
	switch {
	case k.RevokedAt != nil:
		lk.State = listRevoked
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
	var perms []struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(k.Permissions, &perms)
	for _, p := range perms {
		lk.perms = append(lk.perms, p.Name)
	}
	return lk
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
		fmt.Fprintln(tw, "ADDRESS\tNAME\tKIND\tPERMISSIONS\tTOKENS\tEXPIRES\tSTATE\tOWNER\tUPDATED")
		for _, k := range keys {
			kind := "tenant"
			if k.Universal {
				kind = "universal"
			}
			state := k.State
			if k.RevokedAt != nil {
				state += " " + k.RevokedAt.Format(time.RFC3339)
			}
			// Stored values are escaped (tabs too, which would break the table).
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", view.Printable(k.Address), view.Printable(k.Name), kind,
				view.Printable(permissionSummary(k.perms)), view.Printable(tokenSummary(k.Tokens)), timeText(k.ExpiresAt, "never"),
				view.Printable(state), view.Printable(k.Owner), k.UpdatedAt.Format(time.RFC3339))
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
