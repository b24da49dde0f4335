package main

import (
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/keyprov/keyprov/planfile"
	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/view"
)

// Saved plans (plan -out FILE, apply FILE, show FILE): a deploy step
// applies exactly the plan that was reviewed, without the spec or any
// secret, and only to the store as it was when the plan was made.

// defaultPlanMaxAge is the default of apply's --plan-max-age.
const defaultPlanMaxAge = 24 * time.Hour

// savedFlags are plan's -out and apply's --plan-max-age (newReconcileOptions).
type savedFlags struct {
	out    string
	maxAge time.Duration
}

// writeSavedPlan writes the plan of res to path (plan -out), atomically,
// with mode 0600. A plan that would be refused is not written.
func (a *app) writeSavedPlan(path string, res *reconcile.Result, rc *recipe, s *spec.Spec, runID string, refused bool) error {
	if path == "" {
		return nil
	}
	if refused {
		a.errorf("keyprov plan: %s not written: the apply would be refused", quoteArg(path))
		return nil
	}
	f := &planfile.File{Keyprov: keyprovVersion(), SchemaVersion: store.SchemaVersion, RunID: runID,
		Store: res.Position, StoreInputDigest: hex.EncodeToString(res.StoreDigest), Record: res.Record, Plan: res.Plan}
	if rc != nil {
		d := rc.digest(s.Inputs.Digest)
		f.InputDigest = d.Hex()
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".keyprov-plan-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, removes nothing
	if err := planfile.Write(tmp, f); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	a.log.Info().Str("file", path).Int64("change_counter", f.Store.Counter).Msg("plan written")
	return nil
}

// readSavedPlan reads a saved plan.
func readSavedPlan(path string) (*planfile.File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return planfile.Read(fh)
}

// applySaved is apply FILE: it applies the saved plan without the spec.
func (a *app) applySaved(ctx context.Context, c *command, o *reconcileOptions) int {
	path := o.savedPlan
	run := a.startRun(c)
	log := a.log
	f, err := readSavedPlan(path)
	if err != nil {
		a.errorf("keyprov apply: %s: %v", quoteArg(path), err)
		log.Error().Err(err).Msg("apply refused: the saved plan cannot be read")
		return exitInvalid
	}
	pv, err := o.planView(a)
	if err != nil {
		a.errorf("keyprov: %v", err)
		return exitInvalid
	}
	prog := newProgress(a.err, isTerminal(a.err), log)
	defer prog.End()
	db, err := a.openWithProgress(ctx, prog, o.db)
	if err != nil {
		return a.storeExit(withCause(ctx, err), c.name)
	}
	defer db.Close(context.Background())
	prog.Start("applying the saved plan", nil)
	res, err := reconcile.ApplySaved(ctx, db, &reconcile.Saved{Plan: f.Plan, Position: f.Store, SchemaVersion: f.SchemaVersion,
		Record: f.Record, MaxAge: o.saved.maxAge, Meta: reconcile.Meta{RunID: run.id, Actor: actor(a)}})
	prog.End()
	var re *reconcile.RefusedError
	if errors.As(err, &re) {
		for _, r := range re.Refusals {
			a.errorf("keyprov: apply of %s refused: %s. Nothing was written.", quoteArg(path), r.Message)
		}
		log.Error().Str("file", path).Err(err).Msg("apply refused: nothing was written")
		return exitRefused
	}
	if err != nil {
		return a.storeExit(withCause(ctx, err), c.name)
	}
	report := &view.Report{Plan: res.Plan, Command: c.name, Applied: true, RunID: run.id, Stats: &res.Stats}
	if err := pv.Render(a.out, report); err != nil {
		a.errorf("keyprov: writing the plan: %v", err)
	}
	logSummary(log, c.name, res, false, 0, run.start, false)
	return exitOK
}
