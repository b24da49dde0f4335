package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"os/user"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/view"
)

var planCmd = &command{
	name:    "plan",
	summary: "show what apply would change, changing nothing",
	help: `Evaluates the spec with its secrets, reads the store and prints the plan:
what apply would create (+), update (~), rotate, disable or enable, revoke
(-) or leave blocked (!), and the keys an operator's disable holds (=).
Nothing is written and no lock is taken. Changes that widen access are
flagged with the risk levels of keyprov diff.

When the store's input record shows that nothing changed since an apply
found nothing to do (the same spec, inputs, settings and keyprov, the same
store, time not past a bound), the plan is answered from it in one query,
without evaluating the spec (--full: never). -out FILE also saves the
plan, for keyprov apply FILE and keyprov show FILE.

Exit status: 0 success; with --detailed-exitcode, 0 no changes and 2 changes
pending or keys blocked (the store does not match the spec until they get
new tokens; a key held by an operator's disable is neither); 1 invalid
spec or flags; 3 store unavailable; 4 the apply would be
refused (also: a change at or above --fail-on); 5 the server rejected
keyprov (authentication, no such database, no CONNECT).`,
	run: func(ctx context.Context, a *app, c *command, args []string) int {
		return runReconcile(ctx, a, c, args, true)
	},
}

var applyCmd = &command{
	name:    "apply",
	args:    "[FILE]",
	summary: "make the store match the spec (upsert by tenant and slug), or apply a saved plan",
	help: `Evaluates and validates the spec with its secrets, connects to the store
(waiting for it to come up), migrates keyprov's schema, then in one
transaction holding an advisory lock loads the keys, computes the plan and
writes only what changed. A second apply with the same spec writes nothing.

Safe to run from many replicas at once: they take turns on the lock. A
boot with nothing to do (the store's input record shows that nothing
changed since an apply found nothing to do) is answered in one query,
without the lock and without evaluating the spec (--full: never).

With FILE, applies a plan saved with keyprov plan -out FILE, exactly as it
was computed, without the spec or any secret; refused (exit 4, nothing
written) when the store changed since, is another store, or the plan is
older than --plan-max-age.

Changes that widen access are flagged with the risk levels of keyprov diff;
--fail-on refuses them before anything is written.

Exit status: 0 applied (or nothing to do); 1 invalid spec, tokens or flags
(nothing is written); 3 store unavailable, lock timeout or write failure
(nothing is written); 4 refused for safety, or a change at or above
--fail-on (nothing is written); 5 the server rejected keyprov: wrong
password, no such role or database, no CONNECT privilege, no permission to
create the schema, TLS required but not offered (not retried).`,
	run: func(ctx context.Context, a *app, c *command, args []string) int {
		return runReconcile(ctx, a, c, args, false)
	},
}

// bigSpec is the number of keys from which a run collects the evaluation's
// garbage before it reaches the store.
const bigSpec = 10_000

// memoryLimit is the soft memory limit of a run over n keys: what a plan,
// its rows and its events take, measured with the benchmark, with room.
func memoryLimit(n int) int64 { return 160<<20 + int64(n)*1600 }

// maxPruneFlag parses --max-prune N or N%.
type maxPruneFlag struct{ v reconcile.MaxPrune }

func (m *maxPruneFlag) String() string {
	if !m.v.Set {
		return ""
	}
	return m.v.String()
}

// UnmarshalText reads KEYPROV_MAX_PRUNE.
func (m *maxPruneFlag) UnmarshalText(b []byte) error { return m.Set(string(b)) }

func (m *maxPruneFlag) Set(s string) error {
	pct := strings.HasSuffix(s, "%")
	n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
	if err != nil || n < 0 || (pct && n > 100) {
		return errors.New("want a number of keys (10) or a percentage of the owned keys (25%)")
	}
	m.v = reconcile.MaxPrune{Set: true}
	if pct {
		m.v.Percent = n
		if n == 0 {
			m.v.N = 0
			m.v.Percent = 0
		}
	} else {
		m.v.N = n
	}
	return nil
}

func runReconcile(ctx context.Context, a *app, c *command, args []string, dry bool) int {
	fs := newFlagSet(c)
	sf := addSpecFlags(fs, a.cfg)
	dbf := addDBFlags(fs, a.cfg)
	out := addOutputFlag(fs, "text, json or markdown", "text", "json", "markdown")
	adopt := fs.Bool("adopt", false, "take over keys with the same tenant and slug that another owner holds (recorded as adopted)")
	prune := &pruneFlag{mode: a.cfg.Prune}
	fs.Var(prune, "prune", "disable the keys owned by this spec that it no longer declares, keeping their tokens; --prune=revoke revokes them (KEYPROV_PRUNE, or settings { prune = true } or { prune = \"revoke\" })")
	maxPrune := a.cfg.MaxPrune
	fs.Var(&maxPrune, "max-prune", "refuse a prune of more keys than `N` or N% of the owned keys (KEYPROV_MAX_PRUNE; default: 10% of the live keys, at least 1)")
	strict := fs.Bool("strict", a.cfg.Strict, "refuse the whole apply (exit 4) when a key is blocked by a revoked token (KEYPROV_STRICT)")
	failOn := addFailOnFlag(fs, a.cfg.FailOn, "refuse the whole apply (exit 4, nothing written) when a change carries a risk at or above `level`, ranked as keyprov diff ranks it: risk (any), low, medium, high, critical, or none (KEYPROV_FAIL_ON)")
	allowNewPrevious := fs.Bool("allow-new-previous", a.cfg.AllowNewPrevious, "keep valid a previous_token that the store never held for its key, to migrate a token from another system; shown in the plan and recorded in the key's event (KEYPROV_ALLOW_NEW_PREVIOUS)")
	warnExpiry := fs.Duration("warn-expiry", a.cfg.WarnExpiry, "warn about keys that expire within this `duration` (KEYPROV_WARN_EXPIRY)")
	fullRead := fs.Bool("full-read", a.cfg.FullRead, "read every stored key's content, not only that of keys whose content digest differs from the spec's (slower at scale; also finds a change made by a database writer who forged the digest) (KEYPROV_FULL_READ)")
	full := fs.Bool("full", a.cfg.Full, "take the full path: evaluate the spec and read the store even when the store's input record shows that nothing changed since the last apply (KEYPROV_FULL)")
	maxLines := fs.Int("max-lines", 200, "text output: summarise per tenant and action beyond this many lines (0: no limit); JSON always lists everything")
	var detailed *bool
	if dry {
		detailed = fs.Bool("detailed-exitcode", false, "exit 2 when there are changes or blocked keys, 0 when there are none")
	}
	var saved savedFlags
	saved.add(fs, dry)
	lf := addLogFlags(fs, a.cfg)
	if v, spaced := pruneValueSpaced(args); spaced {
		a.errorf("keyprov %s: --prune takes its mode after '=': write --prune=%s (with a space, %s would be read as an argument)", c.name, v, quoteArg(v))
		return exitInvalid
	}
	pos, code, ok := fs.parse(a, args)
	if !ok {
		return code
	}
	if !dry && len(pos) == 1 {
		return a.applySaved(ctx, c, fs, pos[0], dbf, out.val, *maxLines, saved.maxAge, lf)
	}
	if len(pos) > 0 {
		a.errorf("keyprov %s: unexpected argument %s (use -f to name the spec)", c.name, quoteArg(pos[0]))
		return exitInvalid
	}
	lf.setup(a)
	start := time.Now()
	runID := reconcile.NewRunID()
	log := a.log.With().Str("run_id", runID).Str("command", c.name).Logger()
	a.log = log
	rc := a.newRecipe(fs, sf)
	if !*full && !*fullRead && saved.out == "" {
		if code, ok := a.fastPath(ctx, c, rc, dbf, dry, out.val, *maxLines, runID, start); ok {
			return code
		}
	}

	prog := newProgress(a.err, isTerminal(a.err) && !a.jsonLog, log)
	defer prog.End()
	prog.Start("evaluating the spec", nil)
	ls, err := a.loadSpecContext(ctx, sf, true)
	prog.End()
	if err != nil {
		log.Error().Err(err).Msg(c.name + " interrupted by a signal while evaluating the spec: nothing was written")
		a.humanf("keyprov: %s interrupted while evaluating the spec: nothing was written", c.name)
		return exitStore
	}
	a.printDiagnostics(ls)
	if ls.diags.HasErrors() {
		errs, warns := view.Count(ls.diags)
		a.humanf("The spec is invalid: %s, %s. Nothing was written.", view.Plural(errs, "error"), view.Plural(warns, "warning"))
		log.Error().Int("errors", errs).Int("warnings", warns).Msg("spec invalid: nothing was written")
		return exitInvalid
	}
	s := ls.spec
	evalTime := time.Since(start)
	if len(s.Keys) >= bigSpec {
		// Evaluation leaves its garbage behind (cty values for every
		// instance); collect it now rather than let it ride on top of the
		// plan and the writes, where it would set the peak memory.
		runtime.GC()
		// And keep the heap near what the plan and the writes need, unless
		// GOMEMLIMIT says otherwise: a soft limit (past it the collector
		// works harder, it never fails an allocation).
		if _, set := a.environ["GOMEMLIMIT"]; !set {
			debug.SetMemoryLimit(memoryLimit(len(s.Keys)))
		}
	}
	log.Debug().Int("keys", len(s.Keys)).Strs("files", s.Files).Dur("eval_ms", evalTime).Msg("spec evaluated")

	pv, err := view.NewPlanView(out.val, isTerminal(a.out) && !a.cfg.NoColor, *maxLines)
	if err != nil {
		a.errorf("keyprov: %v", err)
		return exitInvalid
	}
	var attempts atomic.Int64
	prog.Start("waiting for the database", func() string { return view.Plural(int(attempts.Load()), "attempt") })
	db, err := dbf.open(ctx, a, func(attempt int, _ time.Duration) { attempts.Store(int64(attempt)) })
	prog.End()
	if err != nil {
		return a.storeExit(withCause(ctx, err), c.name)
	}
	defer db.Close(context.Background())

	pruneOn, pruneRevokes := prune.resolve(fs.given("prune"), s.Settings)
	opts := reconcile.RunOptions{
		Options: reconcile.Options{Adopt: *adopt, Prune: pruneOn, PruneRevoke: pruneRevokes,
			MaxPrune: maxPrune.v, WarnExpiry: *warnExpiry, Strict: *strict, AllowNewPrevious: *allowNewPrevious,
			FailOn: failOnSeverity(failOn.val)},
		DryRun:   dry,
		FullRead: *fullRead,
		Meta:     reconcile.Meta{RunID: runID, Actor: actor(a)},
	}
	opts.Record = rc.record(s)
	phase := "applying"
	if dry {
		phase = "planning"
	}
	prog.Start(phase, func() string { return view.Plural(len(s.Keys), "key") })
	res, err := reconcile.Run(ctx, db, s, opts)
	prog.End()
	refused := errors.Is(err, reconcile.ErrRefused)
	if err != nil && !refused {
		if res != nil && res.Migrated > 0 {
			// The migration commits on its own, before the apply's
			// transaction: say so, since what follows says nothing was written.
			log.Info().Int("migrations", res.Migrated).Msg("the schema was migrated and committed before the failure")
			a.humanf("keyprov: the schema was migrated (%s, committed) before the failure", view.Plural(res.Migrated, "migration"))
		}
		return a.storeExit(withCause(ctx, err), c.name)
	}
	report := &view.Report{Plan: res.Plan, Command: c.name, Applied: res.Applied, RunID: runID}
	if !dry && res.Applied {
		report.Stats = &res.Stats
	}
	if err := pv.Render(a.out, report); err != nil {
		a.errorf("keyprov: writing the plan: %v", err)
	}
	logFindings(log, c.name, res.Plan)
	if err := a.writeSavedPlan(saved.out, res, rc, s, runID, refused); err != nil {
		a.errorf("keyprov plan: writing %s: %v", saved.out, err)
		return exitInvalid
	}
	logSummary(log, c.name, res, refused, evalTime, start, false)
	switch {
	case refused:
		return exitRefused
	case dry && detailed != nil && *detailed && (res.Plan.HasChanges() || res.Plan.Summary().Blocked > 0):
		return exitChanges
	}
	return exitOK
}

// logFindings logs an event naming the key for each blocked key and each
// warning (warn) and refusal (error) of a plan, so that a log collector
// sees them even at KEYPROV_LOG_LEVEL=warn. Their texts may quote what the
// store holds: they are made printable, as the plan's are.
func logFindings(log zerolog.Logger, command string, p *reconcile.Plan) {
	for i := range p.Changes {
		c := &p.Changes[i]
		if c.Action == reconcile.Blocked {
			log.Warn().Str("key", view.Printable(c.Address.String())).Str("reason", view.Printable(c.Reason)).
				Msg("key blocked: " + view.Printable(c.Reason))
		}
	}
	for _, w := range p.Warnings {
		ev := log.Warn().Str("kind", w.Kind)
		if w.Address != "" {
			ev = ev.Str("key", view.Printable(w.Address))
		}
		ev.Msg(view.Printable(w.Message))
	}
	verb := "apply refused: "
	if command == "plan" {
		verb = "the apply would be refused: "
	}
	for _, r := range p.Refusals {
		ev := log.Error().Str("reason", view.Printable(r.Message))
		if r.Address != "" {
			ev = ev.Str("key", view.Printable(r.Address))
		}
		ev.Msg(verb + view.Printable(r.Message))
	}
}

// logSummary logs the one summary line of a plan or an apply: the
// counts, the phases' durations, and whether the run was answered from
// the store's input record (fast, with no evaluation and no phase).
func logSummary(log zerolog.Logger, name string, res *reconcile.Result, refused bool, evalTime time.Duration, start time.Time, fast bool) {
	sum := res.Plan.Summary()
	ev := log.Info()
	if refused {
		ev = log.Error()
	}
	ev.Int("created", sum.Created).Int("updated", sum.Updated).Int("rotated", sum.Rotated).
		Int("revoked", sum.Revoked).Int("moved", sum.Moved).Int("adopted", sum.Adopted).
		Int("blocked", sum.Blocked).Int("unchanged", sum.Unchanged).Int("warnings", len(res.Plan.Warnings)).
		Int64("rows_written", res.Stats.Rows()).Int64("indexes_rebuilt", res.Stats.IndexesRebuilt).Int("content_read", res.ContentRead).Int("migrations", res.Migrated).
		Dur("eval_ms", evalTime).Dur("migrate_ms", res.Timings.Migrate).Dur("lock_ms", res.Timings.Lock).
		Dur("load_ms", res.Timings.Load).Dur("diff_ms", res.Timings.Diff).Dur("write_ms", res.Timings.Write).
		Dur("duration_ms", time.Since(start)).Bool("applied", res.Applied).Bool("refused", refused).
		Bool("fast_path", fast).Bool("input_recorded", res.Recorded).
		Msg(name + " finished")
}

// addFailOnFlag adds --fail-on LEVEL: none, risk (any), low, medium, high
// or critical (see failOnSeverity), def by default.
func addFailOnFlag(fs *flagSet, def, usage string) *oneOf {
	o := &oneOf{def, failOnLevels}
	fs.Var(o, "fail-on", usage)
	return o
}

// given reports whether the named flag was given on the command line.
func (fs *flagSet) given(name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}

// actor names who applies, for the audit trail: KEYPROV_ACTOR, else user@host.
func actor(a *app) string {
	if a.cfg.Actor != "" {
		return a.cfg.Actor
	}
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name + "@" + host
}
