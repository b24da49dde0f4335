package main

import (
	"context"

	"github.com/keyprov/keyprov/view"
)

var showCmd = &command{
	name:    "show",
	args:    "FILE",
	summary: "print a saved plan (plan -out FILE), with its risks",
	help: `Prints a plan saved with keyprov plan -out FILE as plan prints it: the
changes, their risks (ranked as keyprov diff ranks them), warnings and
refusals; in text (with the store and the time it was computed against),
JSON or Markdown. Needs neither the spec nor the database.

Exit status: 0 printed; 1 the file cannot be read or is not a saved plan.`,
	run: runShow,
}

func runShow(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	out := addOutputFlag(fs, "text, json or markdown", "text", "json", "markdown")
	maxLines := fs.Int("max-lines", 200, "text output: summarise per tenant and action beyond this many lines (0: no limit); JSON always lists everything")
	lf := addLogFlags(fs, a.cfg)
	pos, code, ok := fs.parse(a, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		a.errorf("keyprov show: want one saved plan (keyprov plan -out FILE)\nRun \"keyprov show --help\" for usage.")
		return exitInvalid
	}
	lf.setup(a)
	f, err := readSavedPlan(pos[0])
	if err != nil {
		a.errorf("keyprov show: %s: %v", quoteArg(pos[0]), err)
		return exitInvalid
	}
	pv, err := view.NewPlanView(out.val, isTerminal(a.out) && !a.cfg.NoColor, *maxLines)
	if err != nil {
		a.errorf("keyprov: %v", err)
		return exitInvalid
	}
	if out.val == "text" {
		if err := view.WriteSavedPlanHeader(a.out, f.Plan.Now, f.Keyprov, f.Store); err != nil {
			a.errorf("keyprov: writing the plan: %v", err)
			return exitInvalid
		}
	}
	if err := pv.Render(a.out, &view.Report{Plan: f.Plan, Command: "plan", RunID: f.RunID}); err != nil {
		a.errorf("keyprov: writing the plan: %v", err)
		return exitInvalid
	}
	return exitOK
}
