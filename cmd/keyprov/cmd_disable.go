package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/spec"
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

// switchOptions are the flags and arguments of disable and enable.
type switchOptions struct {
	db  *dbFlags
	log *logFlags
	// disable: keyprov disable, whose --reason is required; else enable.
	disable bool
	reason  string
	args    []string
	// addr is the key's address, once checked.
	addr spec.Address
}

func newSwitchOptions(fs *flagSet, cfg Config, disable bool) *switchOptions {
	o := &switchOptions{db: addDBFlags(fs, cfg), disable: disable}
	usage := "why the key is enabled, recorded in the event"
	if disable {
		usage = "why the key is disabled, recorded in the event (required)"
	}
	fs.StringVar(&o.reason, "reason", "", usage)
	o.log = addLogFlags(fs, cfg)
	return o
}

func (o *switchOptions) check() error {
	if len(o.args) != 1 {
		return fmt.Errorf("want one key address (tenant/slug), got %d arguments", len(o.args))
	}
	addr, err := parseAddressArg(o.args[0])
	if err != nil {
		return err
	}
	o.addr = addr
	if o.disable && strings.TrimSpace(o.reason) == "" {
		return errors.New(`--reason is required, e.g. --reason "suspended: unpaid invoice"`)
	}
	// The reason is stored and shown by history and list: never a token.
	if looksLikeToken(o.reason) {
		return errors.New("--reason looks like it holds a token; it is not recorded, nor repeated here")
	}
	return nil
}

// runSwitch runs disable and enable.
func runSwitch(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	o := newSwitchOptions(fs, a.cfg, c.name == "disable")
	if code, ok := a.parseOptions(c, fs, args, &o.args, o, o.log); !ok {
		return code
	}
	disable, addr := o.disable, o.addr
	fail := func(format string, args ...any) int {
		a.errorf("keyprov "+c.name+": "+format, args...)
		return exitInvalid
	}
	runID := reconcile.NewRunID()
	a.log = a.log.With().Str("run_id", runID).Str("command", c.name).Logger()
	db, err := o.db.open(ctx, a, nil)
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
			sw, err = tx.DisableKey(ctx, addr.Tenant, addr.Slug, o.reason, meta)
		} else {
			sw, err = tx.EnableKey(ctx, addr.Tenant, addr.Slug, o.reason, meta)
		}
		return err
	})
	if errors.Is(err, store.ErrKeyNotFound) {
		return fail("no key %s in the store", addr)
	}
	if err != nil {
		return a.storeExit(err, c.name)
	}
	a.log.Info().Str("key", addr.String()).Str("reason", o.reason).Bool("changed", sw.Changed).
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
