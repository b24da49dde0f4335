package main

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/keyprov/keyprov/internal/gitread"
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

func runDiff(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	sf := addSpecFlags(fs, a.cfg)
	out := addOutputFlag(fs, "text, json or markdown (a pull-request comment)", "text", "json", "markdown")
	detailed := fs.Bool("detailed-exitcode", false, "exit 2 when there are changes, 0 when there are none")
	failOn := addFailOnFlag(fs, "none", "exit 4 when a risk is flagged at or above `level`: risk (any), low, medium, high, critical, or none")
	var baseVarFiles, headVarFiles stringList
	fs.Var(&baseVarFiles, "base-var-file", "read BASE's variables from this `file` instead of the -var-file ones (at BASE's revision for git:REF); repeatable; \"\" for none")
	fs.Var(&headVarFiles, "head-var-file", "read HEAD's variables from this `file` instead of the -var-file ones (at HEAD's revision for git:REF); repeatable; \"\" for none")
	maxLines := fs.Int("max-lines", 200, "text: bound the lines of changes; markdown: bound the risks and table rows (0: no limit); JSON lists everything")
	lf := addLogFlags(fs, a.cfg)
	pos, code, ok := fs.parse(a, args)
	if !ok {
		return code
	}
	if len(pos) < 1 || len(pos) > 2 {
		a.errorf("keyprov diff: want BASE and HEAD (or BASE alone, compared with the -f paths)\nRun \"keyprov diff --help\" for usage.")
		return exitInvalid
	}
	lf.setup(a)
	rv, err := view.NewReviewView(out.val, isTerminal(a.out) && !a.cfg.NoColor, *maxLines)
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
	base.setVarFiles(sf.varFiles.vals, baseVarFiles)
	head.setVarFiles(sf.varFiles.vals, headVarFiles)

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

	if threshold := failOnSeverity(failOn.val); threshold > 0 && r.MaxSeverity() >= threshold {
		return exitRefused
	}
	if *detailed && r.HasChanges() {
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

// gitReader reads a side's spec and variable files from a git revision
// (internal/gitread runs git), and turns what it finds into sources and
// diagnostics.
type gitReader struct {
	ctx      context.Context
	env      []string
	maxBytes int64
	repo     *gitread.Repo
}

// open finds the work tree and the commit of revision ref.
func (g *gitReader) open(ref string) hcl.Diagnostics {
	fail := func(format string, args ...any) hcl.Diagnostics {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read spec from git", Detail: fmt.Sprintf(format, args...)}}
	}
	repo, err := gitread.Open(g.ctx, "", g.env, ref)
	switch {
	case errors.Is(err, gitread.ErrNotRevision):
		return fail("%s is not a git revision: write git:REF, e.g. git:origin/main.", quoteArg(gitSidePrefix+ref))
	case errors.Is(err, gitread.ErrNoWorkTree):
		return fail("%s needs a git work tree: %v.", quoteArg(gitSidePrefix+ref), err)
	case errors.Is(err, gitread.ErrNoCommit):
		return fail("%s is not a commit in this repository (fetch it first, e.g. git fetch origin main).", quoteArg(ref))
	case err != nil:
		return fail("%v.", err)
	}
	g.repo = repo
	return nil
}

// sources reads the spec files named by paths (relative to the current
// directory) from the revision. Source names are REF:PATH with PATH
// relative to the repository root, as `git show` takes them.
func (g *gitReader) sources(paths []string) ([]spec.Source, hcl.Diagnostics) {
	fail := func(format string, args ...any) ([]spec.Source, hcl.Diagnostics) {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read spec from git", Detail: fmt.Sprintf(format, args...)}}
	}
	ref := g.repo.Ref()
	var (
		srcs  []spec.Source
		diags hcl.Diagnostics
		seen  = map[string]bool{}
	)
	for _, p := range paths {
		rel, err := g.repo.Path(p)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read spec from git", Detail: err.Error() + "."})
			continue
		}
		entry, found, err := g.repo.Stat(rel)
		if err != nil {
			return fail("%v.", err)
		}
		switch {
		case !found:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read spec",
				Detail: fmt.Sprintf("%s does not exist at %s.", p, ref)})
			continue
		case entry.Type == "tree":
			entries, err := g.repo.List(rel)
			if err != nil {
				return fail("%v.", err)
			}
			n := 0
			for _, e := range entries {
				if e.Type == "blob" && spec.IsSpecFile(path.Base(e.Path)) && !seen[e.Path] {
					seen[e.Path] = true
					src, d := g.read(e, filepath.Join(p, path.Base(e.Path)))
					diags = append(diags, d...)
					srcs = append(srcs, src...)
					n++
				}
			}
			if n == 0 {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No spec files",
					Detail: fmt.Sprintf("The directory %s holds no *.hcl or *.hcl.json files at %s.", p, ref)})
			}
		case entry.Type == "blob":
			if !seen[entry.Path] {
				seen[entry.Path] = true
				src, d := g.read(entry, p)
				diags = append(diags, d...)
				srcs = append(srcs, src...)
			}
		default:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read spec",
				Detail: fmt.Sprintf("%s is a %s at %s, not a file or a directory.", p, entry.Type, ref)})
		}
	}
	return srcs, diags
}

// varSources reads the side's variable files from the revision, bounded by
// maxBytes (KEYPROV_MAX_FILE_BYTES). A -var-file path that does not exist
// there is recorded in side.varAbsent; one given for this side alone is an
// error.
func (g *gitReader) varSources(side *diffSide, maxBytes int64) ([]spec.Source, hcl.Diagnostics) {
	var (
		srcs  []spec.Source
		diags hcl.Diagnostics
	)
	fail := func(format string, args ...any) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read variable file", Detail: fmt.Sprintf(format, args...)})
	}
	ref := g.repo.Ref()
	for _, p := range side.varFiles {
		rel, err := g.repo.Path(p)
		if err != nil {
			fail("%v: a variable file of a git:REF side is read from the revision.", err)
			continue
		}
		entry, found, err := g.repo.Stat(rel)
		if err != nil {
			fail("%v.", err)
			continue
		}
		switch {
		case !found && side.varExplicit:
			fail("%s does not exist at %s.", p, ref)
		case !found:
			side.varAbsent = append(side.varAbsent, p)
		case entry.Type != "blob":
			fail("%s is a %s at %s, not a file.", p, entry.Type, ref)
		case entry.Size > maxBytes:
			fail("%s:%s has %d bytes; the limit is %d (KEYPROV_MAX_FILE_BYTES).", ref, entry.Path, entry.Size, maxBytes)
		default:
			b, err := g.repo.Read(entry.Path)
			if err != nil {
				fail("%v.", err)
				continue
			}
			srcs = append(srcs, spec.Source{Name: ref + ":" + entry.Path, Bytes: b})
			side.varUsed = append(side.varUsed, p)
		}
	}
	return srcs, diags
}

// read reads one blob; local is the path shown to people for it.
func (g *gitReader) read(e gitread.Entry, local string) ([]spec.Source, hcl.Diagnostics) {
	name := g.repo.Ref() + ":" + e.Path
	if e.Size > g.maxBytes {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Spec file too large",
			Detail: fmt.Sprintf("%s has %d bytes; the limit is %d (KEYPROV_MAX_SPEC_BYTES).", name, e.Size, g.maxBytes)}}
	}
	b, err := g.repo.Read(e.Path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read spec from git", Detail: err.Error() + "."}}
	}
	return []spec.Source{{Name: name, Dir: filepath.Dir(local), Bytes: b}}, nil
}
