package main

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"

	"github.com/keyprov/keyprov/internal/gitread"
	"github.com/keyprov/keyprov/spec"
)

// The spec of a git:REF side of keyprov diff, as spec sources and
// diagnostics. internal/gitread runs git and reads the revision; this file
// only says what diff makes of what it finds.

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
