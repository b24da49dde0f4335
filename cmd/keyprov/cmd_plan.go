package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
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
	run: runReconcile,
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
	run: runReconcile,
}

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

// reconcileOptions are the flags and arguments of plan and apply.
type reconcileOptions struct {
	// dry: keyprov plan, which writes nothing; else keyprov apply.
	dry    bool
	spec   *specFlags
	db     *dbFlags
	log    *logFlags
	output *oneOf
	failOn *oneOf
	prune  pruneFlag
	// maxPrune is --max-prune, KEYPROV_MAX_PRUNE by default.
	maxPrune                        maxPruneFlag
	adopt, strict, allowNewPrevious bool
	fullRead, full                  bool
	warnExpiry                      time.Duration
	maxLines                        int
	detailed                        bool // plan only
	saved                           savedFlags
	args                            []string
	// savedPlan is apply FILE's file, once checked.
	savedPlan string
	// given reports whether the named flag was given on the command line.
	given func(name string) bool
}

func newReconcileOptions(fs *flagSet, cfg Config, c *command) *reconcileOptions {
	o := &reconcileOptions{dry: c.name == "plan", prune: pruneFlag{mode: cfg.Prune}, maxPrune: cfg.MaxPrune, given: fs.given}
	o.spec = addSpecFlags(fs, cfg)
	o.db = addDBFlags(fs, cfg)
	o.output = addOutputFlag(fs, "text, json or markdown", "text", "json", "markdown")
	fs.BoolVar(&o.adopt, "adopt", false, "take over keys with the same tenant and slug that another owner holds (recorded as adopted)")
	fs.Var(&o.prune, "prune", "disable the keys owned by this spec that it no longer declares, keeping their tokens; --prune=revoke revokes them (KEYPROV_PRUNE, or settings { prune = true } or { prune = \"revoke\" })")
	fs.Var(&o.maxPrune, "max-prune", "refuse a prune of more keys than `N` or N% of the owned keys (KEYPROV_MAX_PRUNE; default: 10% of the live keys, at least 1)")
	fs.BoolVar(&o.strict, "strict", cfg.Strict, "refuse the whole apply (exit 4) when a key is blocked by a revoked token (KEYPROV_STRICT)")
	o.failOn = addFailOnFlag(fs, cfg.FailOn, "refuse the whole apply (exit 4, nothing written) when a change carries a risk at or above `level`, ranked as keyprov diff ranks it: risk (any), low, medium, high, critical, or none (KEYPROV_FAIL_ON)")
	fs.BoolVar(&o.allowNewPrevious, "allow-new-previous", cfg.AllowNewPrevious, "keep valid a previous_token that the store never held for its key, to migrate a token from another system; shown in the plan and recorded in the key's event (KEYPROV_ALLOW_NEW_PREVIOUS)")
	fs.DurationVar(&o.warnExpiry, "warn-expiry", cfg.WarnExpiry, "warn about keys that expire within this `duration` (KEYPROV_WARN_EXPIRY)")
	fs.BoolVar(&o.fullRead, "full-read", cfg.FullRead, "read every stored key's content, not only that of keys whose content digest differs from the spec's (slower at scale; also finds a change made by a database writer who forged the digest) (KEYPROV_FULL_READ)")
	fs.BoolVar(&o.full, "full", cfg.Full, "take the full path: evaluate the spec and read the store even when the store's input record shows that nothing changed since the last apply (KEYPROV_FULL)")
	fs.IntVar(&o.maxLines, "max-lines", 200, "text output: summarise per tenant and action beyond this many lines (0: no limit); JSON always lists everything")
	if o.dry {
		fs.BoolVar(&o.detailed, "detailed-exitcode", false, "exit 2 when there are changes or blocked keys, 0 when there are none")
		fs.StringVar(&o.saved.out, "out", "", "also write the plan to `file` (mode 0600), for keyprov apply FILE and keyprov show FILE: keys' content and tokens' digests and hints, never a token; refused plans are not written")
	} else {
		fs.DurationVar(&o.saved.maxAge, "plan-max-age", defaultPlanMaxAge, "apply FILE: refuse (exit 4) a saved plan computed longer ago than this `duration`")
	}
	o.log = addLogFlags(fs, cfg)
	return o
}

// check takes apply's one argument for a saved plan, which is applied
// as it was computed: the flags that name a spec and its variables do not
// apply to it. plan takes no argument.
func (o *reconcileOptions) check() error {
	if !o.dry && len(o.args) == 1 {
		for _, name := range []string{"file", "f", "var", "var-file"} {
			if o.given(name) {
				return fmt.Errorf("%s is a saved plan, applied as it was computed: -%s does not apply to it", quoteArg(o.args[0]), name)
			}
		}
		o.savedPlan = o.args[0]
		return nil
	}
	if len(o.args) > 0 {
		return fmt.Errorf("unexpected argument %s (use -f to name the spec)", quoteArg(o.args[0]))
	}
	return nil
}

// runOptions are the options of reconcile.Run for the spec s.
func (o *reconcileOptions) runOptions(a *app, s *spec.Spec, runID string) reconcile.RunOptions {
	pruneOn, pruneRevokes := o.prune.resolve(o.given("prune"), s.Settings)
	return reconcile.RunOptions{
		Options: reconcile.Options{Adopt: o.adopt, Prune: pruneOn, PruneRevoke: pruneRevokes,
			MaxPrune: o.maxPrune.v, WarnExpiry: o.warnExpiry, Strict: o.strict, AllowNewPrevious: o.allowNewPrevious,
			FailOn: failOnSeverity(o.failOn.val)},
		DryRun:   o.dry,
		FullRead: o.fullRead,
		Meta:     reconcile.Meta{RunID: runID, Actor: actor(a)},
	}
}

// planView is the view of the plan in the format asked for.
func (o *reconcileOptions) planView(a *app) (view.PlanView, error) {
	return view.NewPlanView(o.output.val, isTerminal(a.out) && !a.cfg.NoColor, o.maxLines)
}

// runReconcile runs plan and apply: evaluate the spec, open the store,
// reconcile (in one locked transaction), render. A boot with nothing to
// do is answered from the store's input record first (fastPath); apply
// FILE applies a saved plan (applySaved).
func runReconcile(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	o := newReconcileOptions(fs, a.cfg, c)
	if v, spaced := pruneValueSpaced(args); spaced {
		a.errorf("keyprov %s: --prune takes its mode after '=': write --prune=%s (with a space, %s would be read as an argument)", c.name, v, quoteArg(v))
		return exitInvalid
	}
	if code, ok := a.parseOptions(c, fs, args, &o.args, o, o.log); !ok {
		return code
	}
	if o.savedPlan != "" {
		return a.applySaved(ctx, c, o)
	}
	run := a.startRun(c)
	rc := a.newRecipe(fs, o.spec)
	if !o.full && !o.fullRead && o.saved.out == "" {
		if code, ok := a.fastPath(ctx, c, rc, o, run); ok {
			return code
		}
	}
	prog := newProgress(a.err, isTerminal(a.err) && !a.jsonLog, a.log)
	defer prog.End()
	s, code, ok := a.evaluateForRun(ctx, c, prog, o.spec)
	if !ok {
		return code
	}
	evalTime := time.Since(run.start)
	afterEvaluationGC(a.environ, len(s.Keys))
	a.log.Debug().Int("keys", len(s.Keys)).Strs("files", s.Files).Dur("eval_ms", evalTime).Msg("spec evaluated")

	pv, err := o.planView(a)
	if err != nil {
		a.errorf("keyprov: %v", err)
		return exitInvalid
	}
	db, err := a.openWithProgress(ctx, prog, o.db)
	if err != nil {
		return a.storeExit(withCause(ctx, err), c.name)
	}
	defer db.Close(context.Background())

	opts := o.runOptions(a, s, run.id)
	opts.Record = rc.record(s)
	res, err := a.reconcileWithProgress(ctx, prog, db, s, opts)
	refused := errors.Is(err, reconcile.ErrRefused)
	if err != nil && !refused {
		return a.runFailed(ctx, c, res, err)
	}
	return a.finishRun(c, o, pv, run, res, refused, func() error { return a.writeSavedPlan(o.saved.out, res, rc, s, run.id, refused) }, evalTime)
}

// finishRun renders the result of a run, logs its findings, saves the
// plan (plan -out) and logs the summary line; it returns the exit code.
func (a *app) finishRun(c *command, o *reconcileOptions, pv view.PlanView, run runInfo, res *reconcile.Result, refused bool, save func() error, evalTime time.Duration) int {
	report := &view.Report{Plan: res.Plan, Command: c.name, Applied: res.Applied, RunID: run.id}
	if !o.dry && res.Applied {
		report.Stats = &res.Stats
	}
	if err := pv.Render(a.out, report); err != nil {
		a.errorf("keyprov: writing the plan: %v", err)
	}
	logFindings(a.log, c.name, res.Plan)
	if err := save(); err != nil {
		a.errorf("keyprov plan: writing %s: %v", o.saved.out, err)
		return exitInvalid
	}
	logSummary(a.log, c.name, res, refused, evalTime, run.start, false)
	switch {
	case refused:
		return exitRefused
	case o.detailed && (res.Plan.HasChanges() || res.Plan.Summary().Blocked > 0):
		return exitChanges
	}
	return exitOK
}

// runInfo identifies a run of plan or apply in its logs.
type runInfo struct {
	id    string
	start time.Time
}

// startRun starts a run of c: a new run id, which every log line of the
// run carries from now on.
func (a *app) startRun(c *command) runInfo {
	r := runInfo{id: reconcile.NewRunID(), start: time.Now()}
	a.log = a.log.With().Str("run_id", r.id).Str("command", c.name).Logger()
	return r
}

// evaluateForRun evaluates the spec with its secrets and reports its
// diagnostics. ok=false gives the exit code: 1 for an invalid spec, 3
// when a signal interrupted the evaluation.
func (a *app) evaluateForRun(ctx context.Context, c *command, prog *progress, sf *specFlags) (s *spec.Spec, code int, ok bool) {
	prog.Start("evaluating the spec", nil)
	ls, err := a.loadSpecContext(ctx, sf, true)
	prog.End()
	if err != nil {
		a.log.Error().Err(err).Msg(c.name + " interrupted by a signal while evaluating the spec: nothing was written")
		a.humanf("keyprov: %s interrupted while evaluating the spec: nothing was written", c.name)
		return nil, exitStore, false
	}
	a.printDiagnostics(ls)
	if ls.diags.HasErrors() {
		errs, warns := view.Count(ls.diags)
		a.humanf("The spec is invalid: %s, %s. Nothing was written.", view.Plural(errs, "error"), view.Plural(warns, "warning"))
		a.log.Error().Int("errors", errs).Int("warnings", warns).Msg("spec invalid: nothing was written")
		return nil, exitInvalid, false
	}
	return ls.spec, 0, true
}

// openWithProgress opens the store, waiting for it, with the attempts
// shown as progress.
func (a *app) openWithProgress(ctx context.Context, prog *progress, dbf *dbFlags) (*store.DB, error) {
	var attempts atomic.Int64
	prog.Start("waiting for the database", func() string { return view.Plural(int(attempts.Load()), "attempt") })
	defer prog.End()
	return dbf.open(ctx, a, func(attempt int, _ time.Duration) { attempts.Store(int64(attempt)) })
}

// reconcileWithProgress runs reconcile.Run, shown as progress.
func (a *app) reconcileWithProgress(ctx context.Context, prog *progress, db *store.DB, s *spec.Spec, opts reconcile.RunOptions) (*reconcile.Result, error) {
	phase := "applying"
	if opts.DryRun {
		phase = "planning"
	}
	prog.Start(phase, func() string { return view.Plural(len(s.Keys), "key") })
	defer prog.End()
	return reconcile.Run(ctx, db, s, opts)
}

// runFailed reports a run that the store failed (not a refusal) and
// returns its exit code. A migration commits on its own, before the
// apply's transaction: it is said, since what follows says nothing was
// written.
func (a *app) runFailed(ctx context.Context, c *command, res *reconcile.Result, err error) int {
	if res != nil && res.Migrated > 0 {
		a.log.Info().Int("migrations", res.Migrated).Msg("the schema was migrated and committed before the failure")
		a.humanf("keyprov: the schema was migrated (%s, committed) before the failure", view.Plural(res.Migrated, "migration"))
	}
	return a.storeExit(withCause(ctx, err), c.name)
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
