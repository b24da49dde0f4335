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

var revokeCmd = &command{
	name:    "revoke",
	args:    "TENANT/SLUG",
	summary: "revoke a key and its tokens at once (emergency)",
	help: `Revokes a key at once, without editing the spec: the key is marked revoked,
its tokens are retired, and a "revoked" event records the reason. The row
stays for audit. A revoked token can never become active again: until the
spec sets a new token for this key, apply leaves it revoked and reports it
as blocked (exit 0; exit 4 with --strict).

Example:
  keyprov revoke acme/website --reason "leaked in build log"

Exit status: 0 revoked (or already revoked); 1 no such key or bad
arguments; 3 store unavailable; 4 keyprov's schema holds objects that are
not keyprov's (SECURITY.md); 5 the server rejected keyprov (authentication,
no such database, no CONNECT).`,
	run: runRevoke,
}

// revokeOptions are revoke's flags and arguments.
type revokeOptions struct {
	db     *dbFlags
	log    *logFlags
	reason string
	args   []string
	// addr is the key's address, once checked.
	addr spec.Address
}

func newRevokeOptions(fs *flagSet, cfg Config) *revokeOptions {
	o := &revokeOptions{db: addDBFlags(fs, cfg)}
	fs.StringVar(&o.reason, "reason", "", "why the key is revoked, recorded in the event (required)")
	o.log = addLogFlags(fs, cfg)
	return o
}

func (o *revokeOptions) check() error {
	if len(o.args) != 1 {
		return fmt.Errorf("want one key address (tenant/slug), got %d arguments", len(o.args))
	}
	addr, err := parseAddressArg(o.args[0])
	if err != nil {
		return err
	}
	o.addr = addr
	if strings.TrimSpace(o.reason) == "" {
		return errors.New(`--reason is required, e.g. --reason "leaked in build log"`)
	}
	// The reason is stored and shown by history and list: never a token.
	if looksLikeToken(o.reason) {
		return errors.New("--reason looks like it holds a token; it is not recorded, nor repeated here. Describe the leak instead, e.g. --reason \"leaked in build log\"")
	}
	return nil
}

func runRevoke(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	o := newRevokeOptions(fs, a.cfg)
	if code, ok := a.parseOptions(c, fs, args, &o.args, o, o.log); !ok {
		return code
	}
	addr := o.addr
	runID := reconcile.NewRunID()
	a.log = a.log.With().Str("run_id", runID).Str("command", c.name).Logger()
	db, err := o.db.open(ctx, a, nil)
	if err != nil {
		return a.storeExit(err, "revoke")
	}
	defer db.Close(context.Background())
	if err := db.CheckVersion(ctx); err != nil {
		if errors.Is(err, store.ErrSchemaMissing) {
			a.errorf("keyprov revoke: no key %s in the store (no apply has run yet)", addr)
			return exitInvalid
		}
		return a.storeExit(err, "revoke")
	}
	var r *store.Revocation
	err = db.Update(ctx, func(tx *store.Tx) error {
		var err error
		r, err = tx.RevokeKey(ctx, addr.Tenant, addr.Slug, o.reason, store.EventMeta{RunID: runID, Actor: actor(a)})
		return err
	})
	if errors.Is(err, store.ErrKeyNotFound) {
		a.errorf("keyprov revoke: no key %s in the store", addr)
		return exitInvalid
	}
	if err != nil {
		return a.storeExit(err, "revoke")
	}
	if err := view.WriteRevoked(a.out, addr.String(), r); err != nil {
		a.errorf("keyprov revoke: %v", err)
	}
	a.log.Info().Str("key", addr.String()).Str("reason", o.reason).Bool("already_revoked", r.AlreadyRevoked).
		Int("tokens_retired", len(r.Retired)).Msg("revoke finished")
	return exitOK
}
