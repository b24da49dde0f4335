package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"reflect"
	"runtime/debug"
	"time"

	"github.com/keyprov/keyprov/inputs"
	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/view"
)

// A boot with nothing to do (README, "A boot with nothing to do"): plan and
// apply first read the store's input records, in one query without a lock,
// and answer "no changes" from a record whose inputs read again give the
// same digest, at the same change counter, before its time bound, without
// evaluating the spec. Anything else takes the full path, which records
// for the next run when its plan settles the store.

// Flags and settings that do not change a plan, left out of the input
// digest: how the store is reached, how the result is shown and logged,
// and which path is taken (a run with --full-read records what a run
// without it can use). Every other flag and KEYPROV_* setting counts, the
// ones added later included.
var (
	neutralFlags = map[string]bool{
		"output": true, "o": true, "max-lines": true, "detailed-exitcode": true, "log-level": true, "log-format": true,
		"database-url": true, "wait": true, "connect-timeout": true, "lock-timeout": true, "query-mode": true,
		"full": true, "full-read": true, "out": true, "plan-max-age": true,
	}
	neutralSettings = map[string]bool{
		"KEYPROV_DATABASE_URL": true, "KEYPROV_DATABASE_URL_FILE": true, "DATABASE_URL": true, "KEYPROV_WAIT": true,
		"KEYPROV_CONNECT_TIMEOUT": true, "KEYPROV_LOCK_TIMEOUT": true, "KEYPROV_QUERY_MODE": true,
		"KEYPROV_LOG_LEVEL": true, "KEYPROV_LOG_FORMAT": true, "NO_COLOR": true, "KEYPROV_ACTOR": true,
		"KEYPROV_CPU_PROFILE": true, "KEYPROV_HEAP_PROFILE": true, "KEYPROV_FULL": true, "KEYPROV_FULL_READ": true,
	}
)

// planSettings are the flags and settings that may change a plan, as
// "name=value".
func planSettings(fs *flagSet, cfg Config) []string {
	var out []string
	fs.VisitAll(func(f *flag.Flag) {
		if !neutralFlags[f.Name] {
			out = append(out, "-"+f.Name+"="+f.Value.String())
		}
	})
	v := reflect.ValueOf(cfg)
	for i := range v.NumField() {
		name := v.Type().Field(i).Tag.Get("env")
		if name != "" && !neutralSettings[name] {
			out = append(out, fmt.Sprintf("%s=%v", name, v.Field(i).Interface()))
		}
	}
	return out
}

// recipe is what a run's input digest is made of, besides what evaluating
// the spec reads.
type recipe struct {
	build    string
	settings []string
	// opts read the spec's inputs again as evaluation reads them.
	opts spec.Options
}

// newRecipe returns the run's recipe, or nil when the run cannot have an
// input digest (its build cannot be identified, its -var flags are
// malformed: the full path reports those).
func (a *app) newRecipe(fs *flagSet, sf *specFlags) *recipe {
	opts, err := sf.options(a, true)
	if err != nil {
		return nil
	}
	build, err := inputs.Build(version)
	if err != nil {
		a.log.Debug().Err(err).Msg("no input digest: the full path every time")
		return nil
	}
	return &recipe{build: build, settings: planSettings(fs, a.cfg), opts: opts}
}

// digest is the input digest of a run whose evaluation read what has the
// digest specDigest.
func (r *recipe) digest(specDigest [32]byte) inputs.Digest {
	return inputs.Of(r.build, r.settings, specDigest)
}

// record is what an apply of s records when its plan settles the store.
func (r *recipe) record(s *spec.Spec) *reconcile.Record {
	if r == nil {
		return nil
	}
	names, err := json.Marshal(s.Inputs.List)
	if err != nil {
		return nil
	}
	d := r.digest(s.Inputs.Digest)
	return &reconcile.Record{Digest: d[:], Names: names, Keyprov: keyprovVersion()}
}

// keyprovVersion is the version keyprov says it is, for the records.
func keyprovVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// probeTimeout bounds the fast path's one connection attempt: a store
// that is not there at once is waited for after the spec is evaluated,
// as before (an invalid spec is then reported at once).
const probeTimeout = 2 * time.Second

// matchRecord returns the input record that answers for the run: one at
// the store's counter, before its time bound, whose inputs read again
// give its digest; or nil, with why not.
func (r *recipe) matchRecord(b *store.Boot) (*store.InputRecord, string) {
	if !b.Ready {
		return nil, "the store's schema is not ready"
	}
	why := "no input record"
	for i := range b.Records {
		rec := &b.Records[i]
		switch {
		case rec.Counter != b.Counter:
			why = "the store changed since the last apply"
			continue
		case rec.ValidUntil != nil && !b.Now.Before(*rec.ValidUntil):
			why = "time changed the outcome since the last apply (an expiry's warning window, a previous_until)"
			continue
		}
		var list []spec.Input
		if err := json.Unmarshal(rec.Names, &list); err != nil {
			why = "an input record that cannot be read"
			continue
		}
		d, err := spec.ReadInputs(list, r.opts)
		if err != nil {
			why = err.Error()
			continue
		}
		if dg := r.digest(d); bytes.Equal(dg[:], rec.Digest) {
			return rec, ""
		}
		why = "the inputs changed since the last apply"
	}
	return nil, why
}

// fastPath answers the run from the store's input record when it can:
// ok reports whether it did, with the exit code. Otherwise the full path
// runs, on the connection made here if there is one (dbf keeps it).
func (a *app) fastPath(ctx context.Context, c *command, rc *recipe, o *reconcileOptions, run runInfo) (code int, ok bool) {
	dbf := o.db
	if rc == nil {
		return 0, false
	}
	u, err := dbf.databaseURL(a.cfg)
	if err != nil {
		return 0, false
	}
	if _, err := store.ParseURL(u); err != nil {
		return 0, false
	}
	// One attempt, no wait: a store not reachable at once is the full
	// path's to wait for, after the spec was checked.
	db, err := store.Open(ctx, store.Config{URL: u, Schema: dbf.schema, QueryMode: dbf.queryMode.val,
		ConnectTimeout: min(dbf.connectTimeout, probeTimeout), LockTimeout: dbf.lockTimeout, Log: a.log})
	if err != nil {
		a.log.Debug().Err(err).Msg("the full path: the store was not reachable at once")
		return 0, false
	}
	b, err := db.ReadBoot(ctx)
	var rec *store.InputRecord
	why := ""
	if err != nil {
		why = err.Error()
	} else {
		rec, why = rc.matchRecord(b)
	}
	if rec == nil {
		a.log.Debug().Str("reason", why).Msg("the full path")
		dbf.probed = db
		return 0, false
	}
	defer db.Close(context.Background())
	p, err := reconcile.SettledPlan(rec.Plan, b.Now)
	if err != nil {
		a.log.Debug().Err(err).Msg("the full path")
		return 0, false
	}
	pv, err := o.planView(a)
	if err != nil {
		a.errorf("keyprov: %v", err)
		return exitInvalid, true
	}
	res := &reconcile.Result{Plan: p, Applied: !o.dry, Record: rec, Recorded: !o.dry}
	report := &view.Report{Plan: p, Command: c.name, Applied: res.Applied, RunID: run.id}
	if res.Applied {
		report.Stats = &res.Stats
	}
	if err := pv.Render(a.out, report); err != nil {
		a.errorf("keyprov: writing the plan: %v", err)
	}
	logSummary(a.log, c.name, res, false, 0, run.start, true)
	return exitOK, true
}
