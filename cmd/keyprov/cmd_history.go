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

// historyOptions are history's flags and arguments.
type historyOptions struct {
	db     *dbFlags
	log    *logFlags
	output *oneOf
	// limit bounds the events shown (0: all).
	limit int
	args  []string
	// filter is what check makes of limit and the key address argument.
	filter store.HistoryFilter
}

func newHistoryOptions(fs *flagSet, cfg Config) *historyOptions {
	o := &historyOptions{db: addDBFlags(fs, cfg)}
	o.output = addOutputFlag(fs, "text or json", "text", "json")
	fs.IntVar(&o.limit, "limit", 0, "show at most `N` events (0: all)")
	o.log = addLogFlags(fs, cfg)
	return o
}

func (o *historyOptions) check() error {
	o.filter = store.HistoryFilter{Limit: o.limit}
	switch len(o.args) {
	case 0:
	case 1:
		addr, err := parseAddressArg(o.args[0])
		if err != nil {
			return err
		}
		o.filter.Tenant, o.filter.Slug = addr.Tenant, addr.Slug
	default:
		return errors.New("want at most one key address (tenant/slug)")
	}
	return nil
}

func runHistory(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	o := newHistoryOptions(fs, a.cfg)
	if code, ok := a.parseOptions(c, fs, args, &o.args, o, o.log); !ok {
		return code
	}
	dbf, filter := o.db, o.filter
	db, err := dbf.open(ctx, a, nil)
	if err != nil {
		return a.storeExit(err, "history")
	}
	defer db.Close(context.Background())
	if err := db.CheckVersion(ctx); err != nil {
		if !errors.Is(err, store.ErrSchemaMissing) {
			return a.storeExit(err, "history")
		}
		if err := view.WriteNoHistory(a.out, o.output.val); err != nil {
			a.errorf("keyprov history: %v", err)
			return exitInvalid
		}
		return exitOK
	}
	hv, err := view.NewHistoryView(a.out, o.output.val)
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
