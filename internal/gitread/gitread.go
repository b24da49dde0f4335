// Package gitread reads files from a revision of a git repository by
// running git: the work tree holding the current directory, one commit in
// it, the entries of its tree and the contents of its blobs. keyprov diff
// reads the spec at git:REF with it.
//
// Only plumbing commands run (rev-parse, ls-tree, cat-file), so a user's
// aliases and pager settings play no part, and a revision is never taken
// for an option.
package gitread

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

var (
	// ErrGit wraps every failure of the git command; the message says
	// which command and what git printed.
	ErrGit = errors.New("git failed")
	// ErrNotRevision: the revision is empty or looks like an option.
	ErrNotRevision = errors.New("gitread: not a git revision")
	// ErrNoWorkTree: the current directory is not in a git work tree.
	ErrNoWorkTree = errors.New("gitread: not in a git work tree")
	// ErrNoCommit: the revision names no commit of the repository.
	ErrNoCommit = errors.New("gitread: not a commit in this repository")
	// ErrOutside: a path lies outside the work tree.
	ErrOutside = errors.New("gitread: outside the git work tree")
)

// Repo is one commit of a git work tree.
type Repo struct {
	ctx    context.Context
	env    []string
	top    string // the work tree's root
	prefix string // the directory Open was given, relative to top ("" at the root)
	ref    string // the revision, as given
	commit string // the revision's commit
}

// Open finds the work tree holding dir ("" for the current directory) and
// the commit of revision ref in it. Relative paths given to Path are
// relative to dir. git runs with exactly the environment env (KEY=VALUE
// pairs); ctx bounds every git command of the Repo.
//
// Errors: ErrNotRevision, ErrNoWorkTree (whose text is git's message),
// ErrNoCommit, or another ErrGit.
func Open(ctx context.Context, dir string, env []string, ref string) (*Repo, error) {
	if ref == "" || strings.HasPrefix(ref, "-") {
		return nil, ErrNotRevision
	}
	r := &Repo{ctx: ctx, env: env, ref: ref, top: dir}
	top, err := r.output("rev-parse", "--show-toplevel")
	if err != nil {
		return nil, noWorkTree{err}
	}
	prefix, err := r.output("rev-parse", "--show-prefix")
	if err != nil {
		return nil, err
	}
	r.top, r.prefix = top, prefix
	commit, err := r.output("rev-parse", "--verify", "--quiet", "--end-of-options", ref+"^{commit}")
	if err != nil || commit == "" {
		return nil, ErrNoCommit
	}
	r.commit = commit
	return r, nil
}

// noWorkTree is ErrNoWorkTree with git's message as its text.
type noWorkTree struct{ err error }

func (e noWorkTree) Error() string        { return e.err.Error() }
func (e noWorkTree) Unwrap() error        { return e.err }
func (e noWorkTree) Is(target error) bool { return target == ErrNoWorkTree }

// Ref returns the revision as given to Open.
func (r *Repo) Ref() string { return r.ref }

// Commit returns the commit the revision names.
func (r *Repo) Commit() string { return r.commit }

// Top returns the root of the work tree.
func (r *Repo) Top() string { return r.top }

// Entry is one entry of a commit's tree.
type Entry struct {
	Type string // blob, tree or commit (a submodule)
	Size int64  // blobs only
	Path string // slash-separated, relative to the repository root
}

// Path turns p, a path relative to the current directory or absolute, into
// a slash-separated path relative to the repository root ("." for the
// root). A path outside the work tree is ErrOutside.
func (r *Repo) Path(p string) (string, error) {
	var rel string
	if filepath.IsAbs(p) {
		top, err := filepath.EvalSymlinks(r.top)
		if err != nil {
			top = r.top
		}
		abs := p
		if dir, err := filepath.EvalSymlinks(filepath.Dir(p)); err == nil {
			abs = filepath.Join(dir, filepath.Base(p))
		}
		rp, err := filepath.Rel(top, abs)
		if err != nil {
			return "", r.outside(p)
		}
		rel = filepath.ToSlash(rp)
	} else {
		rel = path.Join(r.prefix, filepath.ToSlash(p))
	}
	rel = path.Clean(rel)
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", r.outside(p)
	}
	return rel, nil
}

func (r *Repo) outside(p string) error { return outsideError{p, r.top} }

// outsideError is ErrOutside, naming the path and the work tree.
type outsideError struct{ path, top string }

func (e outsideError) Error() string {
	return fmt.Sprintf("%s is outside the git work tree %s", e.path, e.top)
}
func (e outsideError) Is(target error) bool { return target == ErrOutside }

// Stat returns the entry at rel (a path from Path) in the commit's tree,
// and false when there is none. The root is a tree.
func (r *Repo) Stat(rel string) (Entry, bool, error) {
	if rel == "." {
		return Entry{Type: "tree", Path: "."}, true, nil
	}
	es, err := r.lsTree("--", rel)
	if err != nil || len(es) == 0 {
		return Entry{}, false, err
	}
	return es[0], true, nil
}

// List returns the entries of the directory rel (a path from Path) in the
// commit's tree, in git's order; none when rel is no directory.
func (r *Repo) List(rel string) ([]Entry, error) {
	if rel == "." {
		return r.lsTree()
	}
	return r.lsTree("--", rel+"/")
}

// Read returns the contents of the blob at rel in the commit's tree.
func (r *Repo) Read(rel string) ([]byte, error) {
	var out bytes.Buffer
	if err := r.git(&out, "cat-file", "blob", r.commit+":"+rel); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func (r *Repo) lsTree(args ...string) ([]Entry, error) {
	var out bytes.Buffer
	if err := r.git(&out, append([]string{"ls-tree", "-z", "-l", "--full-tree", r.commit}, args...)...); err != nil {
		return nil, err
	}
	return parseLsTree(out.String()), nil
}

// parseLsTree parses `git ls-tree -z -l`: records "mode type object
// size\tpath", each ended by NUL.
func parseLsTree(out string) []Entry {
	var entries []Entry
	for _, rec := range strings.Split(out, "\x00") {
		meta, name, ok := strings.Cut(rec, "\t")
		if !ok {
			continue
		}
		f := strings.Fields(meta) // mode type object size
		if len(f) != 4 {
			continue
		}
		size, _ := strconv.ParseInt(f[3], 10, 64) // "-" for trees
		entries = append(entries, Entry{Type: f[1], Size: size, Path: name})
	}
	return entries
}

func (r *Repo) git(stdout io.Writer, args ...string) error {
	cmd := exec.CommandContext(r.ctx, "git", args...)
	cmd.Dir = r.top
	cmd.Env = r.env
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return fmt.Errorf("%w: git %s: %s", ErrGit, strings.Join(args, " "), msg)
	}
	return nil
}

func (r *Repo) output(args ...string) (string, error) {
	var out bytes.Buffer
	err := r.git(&out, args...)
	return strings.TrimSpace(out.String()), err
}
