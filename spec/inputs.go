package spec

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"slices"
	"sync"
)

// An evaluation is a function of what it reads: its spec files, its
// variable files, the environment variables (KEYPROV_VAR_<name>, and those
// token references read) and the files token references read. It records
// each of them, by name, with a digest of its value, so that a later run
// can tell, by reading the same things again, that evaluating would give
// the same spec (the fast path of plan and apply). Names and paths are
// recorded in clear; values never leave this package, only a digest of
// all of them together.

// InputKind is the kind of something evaluation read.
type InputKind string

// Input kinds.
const (
	// InputSpec is a spec file, named as it was read (ExpandPaths).
	InputSpec InputKind = "spec"
	// InputVarFile is a -var-file.
	InputVarFile InputKind = "var-file"
	// InputVarSource is a variable file given as text (from a git
	// revision): it cannot be read again, so its inputs never match.
	InputVarSource InputKind = "var-source"
	// InputFile is a file a token reference reads.
	InputFile InputKind = "file"
	// InputEnv is an environment variable: KEYPROV_VAR_<name> of a
	// declared variable (set or not), or one a token reference reads.
	InputEnv InputKind = "env"
)

// Input names one thing evaluation read. It never holds a value.
type Input struct {
	Kind InputKind `json:"kind"`
	Name string    `json:"name"`
}

// Inputs are what one evaluation read.
type Inputs struct {
	// List names every input: the spec files first, in the order they
	// were read, then the others sorted by kind and name.
	List []Input
	// Digest is a SHA-256 digest of every input's kind, name and value (or
	// absence), in the order of List.
	Digest [sha256.Size]byte
}

// ErrInputsChanged: reading the inputs again found that the list itself
// changed (a spec file added to or removed from a spec directory), or an
// input that cannot be read again.
var ErrInputsChanged = errors.New("spec: the inputs changed")

// inputValue is what was read of one input: whether it was there (a
// variable set, a file that could be read) and the digest of its value.
type inputValue struct {
	present bool
	sum     [sha256.Size]byte
}

func valueOf(b []byte, present bool) inputValue {
	if !present {
		return inputValue{}
	}
	return inputValue{present: true, sum: sha256.Sum256(b)}
}

// hashFileLimited is valueOf(readFileLimited(name, max, setting)), read
// through a small buffer: a boot with nothing to do reads a secrets file
// of a million tokens again only to hash it, and a buffer of its size
// was most of that boot's time on a machine where fresh memory is dear.
func hashFileLimited(name string, max int64, setting string) inputValue {
	h := sha256.New()
	if err := readLimited(name, max, setting, h); err != nil {
		return inputValue{}
	}
	v := inputValue{present: true}
	h.Sum(v.sum[:0])
	return v
}

// recorder collects the inputs of one evaluation. Instances are evaluated
// on every core: it is safe for concurrent use.
type recorder struct {
	mu    sync.Mutex
	specs []Input
	other map[Input]inputValue
	order []Input
	vals  []inputValue
}

func newRecorder() *recorder { return &recorder{other: map[Input]inputValue{}} }

// record notes an input read with its value (b, when present). The first
// read of an input counts: evaluation reads each file once (funcs caches
// them) and each environment variable's value does not change within a run.
func (r *recorder) record(kind InputKind, name string, b []byte, present bool) {
	if r == nil { // a test's evaluator without one
		return
	}
	in := Input{kind, name}
	v := valueOf(b, present)
	r.mu.Lock()
	defer r.mu.Unlock()
	if kind == InputSpec {
		r.specs = append(r.specs, in)
		r.vals = append(r.vals, v)
		return
	}
	if _, seen := r.other[in]; !seen {
		r.other[in] = v
	}
}

// lookupEnv wraps an environment lookup so that it records what it finds.
func (r *recorder) lookupEnv(lookup func(string) (string, bool)) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := lookup(name)
		r.record(InputEnv, name, []byte(v), ok)
		return v, ok
	}
}

// inputs returns the list and its digest.
func (r *recorder) inputs() Inputs {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := slices.Clone(r.specs)
	vals := slices.Clone(r.vals)
	rest := make([]Input, 0, len(r.other))
	for in := range r.other {
		rest = append(rest, in)
	}
	slices.SortFunc(rest, compareInputs)
	for _, in := range rest {
		list = append(list, in)
		vals = append(vals, r.other[in])
	}
	return Inputs{List: list, Digest: digestInputs(list, vals)}
}

func compareInputs(a, b Input) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
}

// digestInputs is the digest of the inputs in list with their values.
func digestInputs(list []Input, vals []inputValue) [sha256.Size]byte {
	h := sha256.New()
	writeString(h, "keyprov inputs 1")
	for i, in := range list {
		writeString(h, string(in.Kind))
		writeString(h, in.Name)
		if vals[i].present {
			h.Write([]byte{1})
			h.Write(vals[i].sum[:])
		} else {
			h.Write([]byte{0})
		}
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// writeString writes s with its length first, so that no two lists of
// strings write the same bytes.
func writeString(h hash.Hash, s string) {
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
	h.Write([]byte(s))
}

// ReadInputs reads again the inputs that an evaluation recorded in list,
// as evaluation reads them (opts.Paths expanded for the spec files,
// opts.LookupEnv for the environment, opts.Limits for the sizes), and
// returns their digest: Inputs.Digest when nothing changed. It returns
// ErrInputsChanged when the spec files that opts.Paths denote are no
// longer those of the list, or when the list holds an input that cannot be
// read again. A file that cannot be read counts as absent, as it did when
// it was recorded: evaluation failed if it needed it.
func ReadInputs(list []Input, opts Options) ([sha256.Size]byte, error) {
	lim := opts.limits()
	files, diags := ExpandPaths(opts.Paths)
	if diags.HasErrors() {
		return [sha256.Size]byte{}, fmt.Errorf("%w: %s", ErrInputsChanged, diags.Error())
	}
	nspec := 0
	for nspec < len(list) && list[nspec].Kind == InputSpec {
		nspec++
	}
	if nspec != len(files) {
		return [sha256.Size]byte{}, fmt.Errorf("%w: %d spec files, not %d", ErrInputsChanged, len(files), nspec)
	}
	for i, f := range files {
		if list[i].Name != f {
			return [sha256.Size]byte{}, fmt.Errorf("%w: spec file %s is not %s", ErrInputsChanged, f, list[i].Name)
		}
	}
	vals := make([]inputValue, len(list))
	for i, in := range list {
		switch in.Kind {
		case InputSpec:
			vals[i] = hashFileLimited(in.Name, lim.MaxSpecBytes, "KEYPROV_MAX_SPEC_BYTES")
		case InputVarFile, InputFile:
			vals[i] = hashFileLimited(in.Name, lim.MaxFileBytes, "KEYPROV_MAX_FILE_BYTES")
		case InputEnv:
			v, ok := opts.lookupEnv(in.Name)
			vals[i] = valueOf([]byte(v), ok)
		default:
			return [sha256.Size]byte{}, fmt.Errorf("%w: %s %s cannot be read again", ErrInputsChanged, in.Kind, in.Name)
		}
	}
	return digestInputs(list, vals), nil
}
