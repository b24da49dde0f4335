package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
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

// Key states shown by list.
const (
	listActive  = "active"
	listExpired = "expired"
	listRevoked = "revoked"
	// listStateDisabled is a disabled key's state: after revoked, before
	// expired, as verify decides.
	listStateDisabled = "disabled"
)

// listOptions are list's flags and arguments.
type listOptions struct {
	db     *dbFlags
	log    *logFlags
	output *oneOf
	// tenant and owner select the keys of one tenant, one owner; all
	// includes the revoked keys; unusedFor keeps only the keys nobody has
	// used for that long.
	tenant, owner string
	all           bool
	unusedFor     unusedFor
	args          []string
}

func newListOptions(fs *flagSet, cfg Config) *listOptions {
	o := &listOptions{db: addDBFlags(fs, cfg)}
	fs.StringVar(&o.tenant, "tenant", "", "only keys of `tenant`")
	fs.StringVar(&o.owner, "owner", "", "only keys of `owner`")
	fs.BoolVar(&o.all, "all", false, "include revoked keys")
	fs.Var(&o.unusedFor, "unused-for", "only keys nobody has used for this `duration` (30d, 12h)")
	o.output = addOutputFlag(fs, "text or json", "text", "json")
	o.log = addLogFlags(fs, cfg)
	return o
}

func (o *listOptions) check() error {
	if len(o.args) > 0 {
		return fmt.Errorf("unexpected argument %s (use --tenant or --owner to filter)", quoteArg(o.args[0]))
	}
	return nil
}

func runList(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	o := newListOptions(fs, a.cfg)
	if code, ok := a.parseOptions(c, fs, args, &o.args, o, o.log); !ok {
		return code
	}
	dbf := o.db

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

	keys, hidden := selectKeys(st, uses, o.tenant, o.owner, o.all, time.Duration(o.unusedFor))
	if o.output.val == "json" {
		err = view.WriteListJSON(a.out, keys)
	} else {
		err = view.WriteListText(a.out, keys, hidden)
	}
	if err != nil {
		a.errorf("keyprov list: %v", err)
		return exitInvalid
	}
	a.log.Debug().Int("keys", len(keys)).Int("hidden", hidden).Msg("list finished")
	return exitOK
}

// selectKeys filters and sorts the stored keys; hidden counts the revoked
// keys left out for want of --all. With unusedFor, only the keys that
// nobody has used for that long are kept (see usedWithin).
func selectKeys(st *store.State, uses map[int64]store.Use, tenant, owner string, all bool, unusedFor time.Duration) (keys []view.ListKey, hidden int) {
	keys = []view.ListKey{}
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

func toListKey(k *store.Key, now time.Time) view.ListKey {
	lk := view.ListKey{
		Address: k.Tenant + "/" + k.Slug, Tenant: k.Tenant, Slug: k.Slug, Name: k.Name, Description: k.Description,
		Universal: k.Universal, Permissions: json.RawMessage(k.Permissions), Metadata: json.RawMessage(k.Metadata),
		Tokens: []view.ListToken{}, ExpiresAt: utcPtr(k.ExpiresAt), State: listActive,
		RevokedAt: utcPtr(k.RevokedAt), RevokedReason: k.RevokedReason, Owner: k.Owner, UpdatedAt: k.UpdatedAt.UTC(),
	}
	if d := k.Disabled; d.At != nil {
		lk.Disabled = &view.ListDisabled{At: d.At.UTC(), By: d.Holders()}
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
				lk.Tokens = append(lk.Tokens, view.ListToken{Hint: t.Hint, State: t.State, ValidUntil: utcPtr(t.ValidUntil)})
			}
		}
	}
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
