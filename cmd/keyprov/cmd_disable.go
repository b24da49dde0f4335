package main

import (
	"context"
	"errors"
	"strings"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/view"
)

var disableCmd = &command{
	name:    "disable",
	args:    "TENANT/SLUG",
	summary: "switch a key off for a while, keeping its tokens",
	help: `Disables a key at once, without editing the spec and without touching its
tokens: none of them verifies until keyprov enable, which restores the same
tokens. A suspended customer, an incident under investigation. A "disabled"
event records who (KEYPROV_ACTOR) and why.

The disable holds across applies: apply leaves the key disabled and lists it
as held (=), which is not a change, not a blocked key, and not a reason for
plan --detailed-exitcode to exit 2 or for --strict to refuse. To retire a
key's tokens for ever, use keyprov revoke.

Example:
  keyprov disable acme/website --reason "suspended: unpaid invoice"

Exit status: 0 disabled (or disabled by an operator already, or revoked);
1 no such key or bad arguments; 3 store unavailable; 4 keyprov's schema
holds objects that are not keyprov's (SECURITY.md); 5 the server rejected
keyprov (authentication, no such database, no CONNECT).`,
	run: runSwitch,
}

var enableCmd = &command{
	name:    "enable",
	args:    "TENANT/SLUG",
	summary: "lift an operator's disable: the key's tokens work again",
	help: `Lifts an operator's disable (keyprov disable) of a key: its tokens, kept
while it was disabled, verify again. An "enabled" event records who and why.

enable lifts only an operator's disable. A key the spec disables
(disabled = true) stays disabled until the spec says otherwise, and a key a
prune disabled (no longer declared) until the spec declares it again; when
such a holder remains, enable says so.

Example:
  keyprov enable acme/website --reason "invoice paid"

Exit status: 0 enabled, or the operator's disable lifted while the spec or
a prune still holds the key, or not disabled at all; 1 no such key or bad
arguments; 3 store unavailable; 4 the key is disabled only by the spec or a
prune, which enable does not lift (nothing is written), or keyprov's schema
holds objects that are not keyprov's (SECURITY.md); 5 the server rejected
keyprov (authentication, no such database, no CONNECT).`,
	run: runSwitch,
}

// runSwitch runs disable and enable.
func runSwitch(ctx context.Context, a *app, c *command, args []string) int {
	disable := c.name == "disable"
	fs := newFlagSet(c)
	dbf := addDBFlags(fs, a.cfg)
	usage := "why the key is enabled, recorded in the event"
	if disable {
		usage = "why the key is disabled, recorded in the event (required)"
	}
	reason := fs.String("reason", "", usage)
	lf := addLogFlags(fs, a.cfg)
	pos, code, ok := fs.parse(a, args)
	if !ok {
		return code
	}
	lf.setup(a)
	fail := func(format string, args ...any) int {
		a.errorf("keyprov "+c.name+": "+format, args...)
		return exitInvalid
	}
	if len(pos) != 1 {
		return fail("want one key address (tenant/slug), got %d arguments", len(pos))
	}
	addr, err := parseAddressArg(pos[0])
	if err != nil {
		return fail("%v", err)
	}
	if disable && strings.TrimSpace(*reason) == "" {
		return fail(`--reason is required, e.g. --reason "suspended: unpaid invoice"`)
	}
	// The reason is stored and shown by history and list: never a token.
	if looksLikeToken(*reason) {
		return fail("--reason looks like it holds a token; it is not recorded, nor repeated here")
	}
	runID := reconcile.NewRunID()
	a.log = a.log.With().Str("run_id", runID).Str("command", c.name).Logger()
	db, err := dbf.open(ctx, a, nil)
	if err != nil {
		return a.storeExit(err, c.name)
	}
	defer db.Close(context.Background())
	if err := db.CheckVersion(ctx); err != nil {
		if errors.Is(err, store.ErrSchemaMissing) {
			return fail("no key %s in the store (no apply has run yet)", addr)
		}
		return a.storeExit(err, c.name)
	}
	var sw *store.Switch
	err = db.Update(ctx, func(tx *store.Tx) error {
		meta := store.EventMeta{RunID: runID, Actor: actor(a)}
		var err error
		if disable {
			sw, err = tx.DisableKey(ctx, addr.Tenant, addr.Slug, *reason, meta)
		} else {
			sw, err = tx.EnableKey(ctx, addr.Tenant, addr.Slug, *reason, meta)
		}
		return err
	})
	if errors.Is(err, store.ErrKeyNotFound) {
		return fail("no key %s in the store", addr)
	}
	if err != nil {
		return a.storeExit(err, c.name)
	}
	a.log.Info().Str("key", addr.String()).Str("reason", *reason).Bool("changed", sw.Changed).
		Strs("disabled_by", sw.After.Holders()).Msg(c.name + " finished")
	if !disable && !sw.Changed {
		if rest := view.HoldersBesidesOperator(sw.After); rest != "" {
			a.errorf("keyprov enable: %s is disabled %s, not by an operator: keyprov enable lifts only an operator's disable. Nothing was changed.", addr, rest)
			return exitRefused
		}
	}
	write := view.WriteEnabled
	if disable {
		write = view.WriteDisabled
	}
	if err := write(a.out, addr.String(), sw); err != nil {
		a.errorf("keyprov %s: %v", c.name, err)
	}
	return exitOK
}
