package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/keyprov/keyprov/review"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/view"
)

var diffCmd = &command{
	name:    "diff",
	args:    "BASE [HEAD]",
	summary: "compare two versions of a spec offline and flag risky changes",
	help: `Compares two versions of a spec the way a reviewer reads a pull request:
keys added, removed, moved (moved blocks of HEAD) and changed, field by
field, then risk flags, most severe first: a new universal key or a key
that now reaches other tenants; widened permissions; expiry or revocation
undone; a token read from elsewhere (the key is rotated at the next apply);
keys removed (disabled by apply --prune); settings that affect every key.

No secret and no database are needed: env() and file() are not read, and
tokens are compared by where they are read from, never by value.

BASE and HEAD are each a spec file, a directory of spec files, or git:REF
(e.g. git:origin/main), which reads the spec from that git revision without
a checkout. A git:REF side reads the -f paths (or KEYPROV_FILE); without
them, the path of the other side when it is a file or directory; else
keys.hcl. Paths are relative to the current directory, as for the working
tree. Without HEAD, the -f paths of the working tree are compared:

  keyprov diff git:origin/main            # the pull request's change
  keyprov diff git:HEAD~1 git:HEAD -f specs/
  keyprov diff old/keys.hcl new/keys.hcl

Each side is evaluated from its own inputs: a -var-file is read from the
side's revision for a git:REF side (a change to tenants.json is a change
like any other), and from the working tree for a file or directory side.
A -var-file that does not exist at a revision is absent on that side, with
a note in the output (a pull request that adds a variable file still
diffs); it must exist on one side at least. --base-var-file and
--head-var-file (repeatable) give one side its own variable files instead
of the -var-file ones, read the same way; any of them missing is an error,
and an empty value gives the side none. -var and KEYPROV_VAR_* apply to
both sides. The output names the variable files each side used.

Exit status: 0 success (with --detailed-exitcode: no changes); 1 invalid
spec, flags or git revision (diagnostics on stderr); 2 changes, with
--detailed-exitcode; 4 a risk flag at or above --fail-on (before 2).`,
	run: runDiff,
}

// diffOptions are diff's flags and arguments, BASE and HEAD.
type diffOptions struct {
	spec     *specFlags
	log      *logFlags
	output   *oneOf
	failOn   *oneOf
	detailed bool
	// baseVarFiles and headVarFiles replace the -var-file ones for one
	// side.
	baseVarFiles, headVarFiles stringList
	maxLines                   int
	args                       []string
}

func newDiffOptions(fs *flagSet, cfg Config) *diffOptions {
	o := &diffOptions{spec: addSpecFlags(fs, cfg)}
	o.output = addOutputFlag(fs, "text, json or markdown (a pull-request comment)", "text", "json", "markdown")
	fs.BoolVar(&o.detailed, "detailed-exitcode", false, "exit 2 when there are changes, 0 when there are none")
	o.failOn = addFailOnFlag(fs, "none", "exit 4 when a risk is flagged at or above `level`: risk (any), low, medium, high, critical, or none")
	fs.Var(&o.baseVarFiles, "base-var-file", "read BASE's variables from this `file` instead of the -var-file ones (at BASE's revision for git:REF); repeatable; \"\" for none")
	fs.Var(&o.headVarFiles, "head-var-file", "read HEAD's variables from this `file` instead of the -var-file ones (at HEAD's revision for git:REF); repeatable; \"\" for none")
	fs.IntVar(&o.maxLines, "max-lines", 200, "text: bound the lines of changes; markdown: bound the risks and table rows (0: no limit); JSON lists everything")
	o.log = addLogFlags(fs, cfg)
	return o
}

func (o *diffOptions) check() error {
	if len(o.args) < 1 || len(o.args) > 2 {
		return errors.New("want BASE and HEAD (or BASE alone, compared with the -f paths)\nRun \"keyprov diff --help\" for usage.")
	}
	return nil
}

func runDiff(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	o := newDiffOptions(fs, a.cfg)
	if code, ok := a.parseOptions(c, fs, args, &o.args, o, o.log); !ok {
		return code
	}
	sf, pos := o.spec, o.args
	rv, err := view.NewReviewView(o.output.val, isTerminal(a.out) && !a.cfg.NoColor, o.maxLines)
	if err != nil {
		a.errorf("keyprov: %v", err)
		return exitInvalid
	}

	explicit := sf.files.set || len(a.cfg.Files) > 0
	base := diffSide{arg: pos[0]}
	head := diffSide{arg: strings.Join(sf.files.vals, ","), paths: sf.files.vals}
	if len(pos) == 2 {
		head = diffSide{arg: pos[1]}
	}
	base.resolve(head, sf.files.vals, explicit)
	head.resolve(base, sf.files.vals, explicit)
	base.setVarFiles(sf.varFiles.vals, o.baseVarFiles)
	head.setVarFiles(sf.varFiles.vals, o.headVarFiles)

	invalid := false
	specs := make([]*spec.Spec, 2)
	for i, side := range []*diffSide{&base, &head} {
		ls := a.loadDiffSide(ctx, sf, side)
		if i == 1 {
			ls.diags = append(ls.diags, absentOnBothSides(base, head)...)
		}
		if len(ls.diags) > 0 {
			a.printDiagnostics(ls)
		}
		if ls.diags.HasErrors() {
			errs, warns := view.Count(ls.diags)
			a.errorf("The %s spec (%s) has %s, %s: nothing to compare.", [2]string{"BASE", "HEAD"}[i], printableArg(side.arg), view.Plural(errs, "error"), view.Plural(warns, "warning"))
			invalid = true
			continue
		}
		specs[i] = ls.spec
	}
	if invalid {
		return exitInvalid
	}

	r := review.Compare(specs[0], specs[1], a.now())
	report := &view.ReviewReport{Review: r, Base: base.arg, Head: head.arg,
		BaseVarFiles: base.varUsed, HeadVarFiles: head.varUsed}
	for i, side := range []*diffSide{&base, &head} {
		for _, p := range side.varAbsent {
			report.Notes = append(report.Notes, fmt.Sprintf("%s does not exist at %s: %s (%s) is evaluated without it.", p, side.ref, [2]string{"BASE", "HEAD"}[i], side.arg))
		}
	}
	if err := rv.Render(a.out, report); err != nil {
		a.errorf("keyprov: writing the review: %v", err)
		return exitInvalid
	}
	sum := r.Summary()
	a.log.Debug().Int("added", sum.Added).Int("removed", sum.Removed).Int("moved", sum.Moved).
		Int("changed", sum.Changed).Int("unchanged", sum.Unchanged).Int("risks", len(r.Risks)).Msg("diff finished")

	if threshold := failOnSeverity(o.failOn.val); threshold > 0 && r.MaxSeverity() >= threshold {
		return exitRefused
	}
	if o.detailed && r.HasChanges() {
		return exitChanges
	}
	return exitOK
}

// failOnSeverity maps --fail-on to the least severity that fails; 0 for none.
func failOnSeverity(v string) review.Severity {
	switch v {
	case "none":
		return 0
	case "risk":
		return review.Low
	}
	s, _ := review.ParseSeverity(v)
	return s
}

// diffSide is one side of a diff: local paths, or paths at a git revision.
type diffSide struct {
	// arg is the side as given on the command line; it labels the output.
	arg string
	// ref is the git revision of a git:REF side, "" for local paths.
	ref string
	// paths are the spec files or directories to read.
	paths []string
	// varFiles are the variable files to read, as given; varExplicit is
	// true when they were given for this side alone (--base-var-file,
	// --head-var-file), so that one missing at ref is an error.
	varFiles    []string
	varExplicit bool
	// varUsed are the variable files read and varAbsent the -var-file
	// paths that do not exist at ref, once the side is loaded.
	varUsed, varAbsent []string
}

const gitSidePrefix = "git:"

// resolve decides which paths the side reads. A local side reads its
// argument (or, for an omitted HEAD, the -f paths). A git:REF side reads the
// -f paths when given explicitly, else the other side's local path, else
// the default (keys.hcl).
func (s *diffSide) resolve(other diffSide, files []string, explicit bool) {
	if s.paths != nil {
		return
	}
	ref, isGit := strings.CutPrefix(s.arg, gitSidePrefix)
	if !isGit {
		s.paths = []string{s.arg}
		return
	}
	s.ref = ref
	switch {
	case explicit:
		s.paths = files
	case !strings.HasPrefix(other.arg, gitSidePrefix):
		s.paths = other.paths
		if s.paths == nil {
			s.paths = []string{other.arg}
		}
	default:
		s.paths = files
	}
}

// setVarFiles decides which variable files the side reads: its own when
// given (an empty value stands for none), else the -var-file ones.
func (s *diffSide) setVarFiles(common []string, own stringList) {
	if !own.set {
		s.varFiles = common
		return
	}
	s.varExplicit = true
	for _, p := range own.vals {
		if p != "" {
			s.varFiles = append(s.varFiles, p)
		}
	}
}

// absentOnBothSides reports the -var-file paths that exist at neither
// revision: a mistyped path, not a file that a change adds or removes.
func absentOnBothSides(base, head diffSide) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, p := range base.varAbsent {
		if slices.Contains(head.varAbsent, p) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read variable file",
				Detail: fmt.Sprintf("The variable file %s exists neither at %s nor at %s.", p, base.ref, head.ref)})
		}
	}
	return diags
}

// loadDiffSide reads and evaluates one side offline. It never fails:
// problems are diagnostics.
func (a *app) loadDiffSide(ctx context.Context, sf *specFlags, side *diffSide) loadedSpec {
	opts, err := sf.options(a, false)
	if err != nil {
		return loadedSpec{diags: hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid flag", Detail: err.Error() + "."}}}
	}
	opts.Paths = side.paths
	opts.VarFiles = nil
	if side.ref == "" {
		opts.VarFiles = side.varFiles
		side.varUsed = side.varFiles
		srcs, diags := spec.ReadSources(side.paths, opts.Limits.MaxSpecBytes)
		a.reserveHeap(srcs, opts)
		return evaluate(srcs, diags, opts)
	}
	g := &gitReader{ctx: ctx, env: a.environList(), maxBytes: opts.Limits.MaxSpecBytes}
	if diags := g.open(side.ref); diags != nil {
		return loadedSpec{diags: diags}
	}
	srcs, diags := g.sources(side.paths)
	vars, more := g.varSources(side, a.cfg.MaxFileBytes)
	diags = append(diags, more...)
	opts.VarSources = vars
	a.reserveHeap(srcs, opts)
	ls := evaluate(srcs, diags, opts)
	for _, v := range vars {
		ls.sources[v.Name] = v.Bytes
	}
	return ls
}

// environList returns the command's environment as KEY=VALUE pairs.
func (a *app) environList() []string {
	env := make([]string, 0, len(a.environ))
	for k, v := range a.environ {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env
}
