package main

import (
	"context"
	"errors"

	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/view"
)

var historyCmd = &command{
	name:    "history",
	args:    "[TENANT/SLUG]",
	summary: "list the recorded changes of a key or of the whole store",
	help: `Lists the events keyprov recorded, newest first: when, which run, which key,
what changed (old → new values; tokens by their hints only), the owner, who
ran it and why. With TENANT/SLUG, only that key's events, including those
recorded under an older address before a rename.

Events are streamed: memory does not grow with their number.

Exit status: 0 success; 1 bad arguments; 3 store unavailable; 4 keyprov's
schema holds objects that are not keyprov's (SECURITY.md); 5 the server
rejected keyprov (authentication, no such database, no CONNECT).`,
	run: runHistory,
}

func runHistory(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	dbf := addDBFlags(fs, a.cfg)
	out := addOutputFlag(fs, "text or json", "text", "json")
	limit := fs.Int("limit", 0, "show at most `N` events (0: all)")
	lf := addLogFlags(fs, a.cfg)
	pos, code, ok := fs.parse(a, args)
	if !ok {
		return code
	}
	lf.setup(a)
	var filter store.HistoryFilter
	filter.Limit = *limit
	switch len(pos) {
	case 0:
	case 1:
		addr, err := parseAddressArg(pos[0])
		if err != nil {
			a.errorf("keyprov history: %v", err)
			return exitInvalid
		}
		filter.Tenant, filter.Slug = addr.Tenant, addr.Slug
	default:
		a.errorf("keyprov history: want at most one key address (tenant/slug)")
		return exitInvalid
	}
	db, err := dbf.open(ctx, a, nil)
	if err != nil {
		return a.storeExit(err, "history")
	}
	defer db.Close(context.Background())
	if err := db.CheckVersion(ctx); err != nil {
		if !errors.Is(err, store.ErrSchemaMissing) {
			return a.storeExit(err, "history")
		}
		if err := view.WriteNoHistory(a.out, out.val); err != nil {
			a.errorf("keyprov history: %v", err)
			return exitInvalid
		}
		return exitOK
	}
	hv, err := view.NewHistoryView(a.out, out.val)
	if err != nil {
		a.errorf("keyprov: %v", err)
		return exitInvalid
	}
	err = db.History(ctx, filter, hv.Event)
	if err := hv.End(err == nil); err != nil {
		a.errorf("keyprov history: %v", err)
		return exitInvalid
	}
	if err != nil {
		return a.storeExit(err, "history")
	}
	return exitOK
}
