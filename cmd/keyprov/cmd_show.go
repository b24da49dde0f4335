package main

import (
	"context"
	"errors"

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

// showOptions are show's flags and its argument, the saved plan.
type showOptions struct {
	log      *logFlags
	output   *oneOf
	maxLines int
	args     []string
}

func newShowOptions(fs *flagSet, cfg Config) *showOptions {
	o := &showOptions{}
	o.output = addOutputFlag(fs, "text, json or markdown", "text", "json", "markdown")
	fs.IntVar(&o.maxLines, "max-lines", 200, "text output: summarise per tenant and action beyond this many lines (0: no limit); JSON always lists everything")
	o.log = addLogFlags(fs, cfg)
	return o
}

func (o *showOptions) check() error {
	if len(o.args) != 1 {
		return errors.New("want one saved plan (keyprov plan -out FILE)\nRun \"keyprov show --help\" for usage.")
	}
	return nil
}

func runShow(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	o := newShowOptions(fs, a.cfg)
	if code, ok := a.parseOptions(c, fs, args, &o.args, o, o.log); !ok {
		return code
	}
	path := o.args[0]
	f, err := readSavedPlan(path)
	if err != nil {
		a.errorf("keyprov show: %s: %v", quoteArg(path), err)
		return exitInvalid
	}
	pv, err := view.NewPlanView(o.output.val, isTerminal(a.out) && !a.cfg.NoColor, o.maxLines)
	if err != nil {
		a.errorf("keyprov: %v", err)
		return exitInvalid
	}
	if o.output.val == "text" {
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
