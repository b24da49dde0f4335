package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"unsafe"

	"github.com/hashicorp/hcl/v2"
)

// Limits bound what a spec may make keyprov read and hold in memory.
type Limits struct {
	// MaxSpecBytes bounds each spec file. It is lower than MaxFileBytes:
	// HCL's parser needs hundreds of bytes of memory per byte of a dense
	// spec, where a variable file or a secrets file is data.
	MaxSpecBytes int64
	// MaxFileBytes bounds every other file read: variable files and file().
	MaxFileBytes int64
	// MaxKeys bounds the number of key instances after for_each expansion.
	MaxKeys int
	// MaxValueBytes bounds the text of every value that evaluation
	// produces: a string's length, or the strings of a list, set, map or
	// object counted through nesting as if written out; and the text that
	// one function call builds (bounds.go).
	MaxValueBytes int64
	// MaxElements bounds the elements of every value that evaluation
	// produces, counted through nested lists, sets, maps and objects, and
	// the elements that one function call builds.
	MaxElements int
}

// DefaultLimits are used for zero fields of Options.Limits.
var DefaultLimits = Limits{MaxSpecBytes: 8 << 20, MaxFileBytes: 64 << 20, MaxKeys: 1_000_000, MaxValueBytes: 32 << 20, MaxElements: 1_000_000}

// Var is a variable value given on the command line (-var name=value).
type Var struct {
	Name, Value string
}

// Options control loading and evaluation.
type Options struct {
	// Paths are spec files or directories of *.hcl and *.hcl.json files.
	Paths []string
	// Vars are -var values in command-line order; later ones win.
	Vars []Var
	// VarFiles are variable files (HCL, or JSON when named *.json) in order.
	VarFiles []string
	// VarSources are variable files already read (from a git revision),
	// applied after VarFiles, in order; a Name ending in .json is JSON.
	VarSources []Source
	// LookupEnv reads environment variables for env() and KEYPROV_VAR_<name>;
	// nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Secrets resolves env() and file(). When false they yield unknown values,
	// so that a spec validates without any secret at hand.
	Secrets bool
	Limits  Limits
}

func (o *Options) limits() Limits {
	l := o.Limits
	if l.MaxSpecBytes <= 0 {
		l.MaxSpecBytes = DefaultLimits.MaxSpecBytes
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = DefaultLimits.MaxFileBytes
	}
	if l.MaxKeys <= 0 {
		l.MaxKeys = DefaultLimits.MaxKeys
	}
	if l.MaxValueBytes <= 0 {
		l.MaxValueBytes = DefaultLimits.MaxValueBytes
	}
	if l.MaxElements <= 0 {
		l.MaxElements = DefaultLimits.MaxElements
	}
	return l
}

func (o *Options) lookupEnv(name string) (string, bool) {
	if o.LookupEnv != nil {
		return o.LookupEnv(name)
	}
	return os.LookupEnv(name)
}

// Source is the text of one spec file.
type Source struct {
	// Name is the file name used in diagnostics.
	Name string
	// Dir is the folder that relative file() paths resolve against.
	Dir   string
	Bytes []byte
}

// IsJSON reports whether the source uses HCL's JSON syntax.
func (s Source) IsJSON() bool { return strings.HasSuffix(s.Name, ".json") }

// Load reads the spec files named by opts.Paths and evaluates them.
func Load(opts Options) (*Spec, hcl.Diagnostics) {
	srcs, diags := ReadSources(opts.Paths, opts.limits().MaxSpecBytes)
	if diags.HasErrors() {
		return nil, diags
	}
	s, more := Evaluate(srcs, opts)
	return s, append(diags, more...)
}

// IsSpecFile reports whether name is a spec file name (*.hcl or *.hcl.json).
func IsSpecFile(name string) bool {
	return strings.HasSuffix(name, ".hcl") || strings.HasSuffix(name, ".hcl.json")
}

// ExpandPaths turns files and directories into the list of spec files they
// denote: a directory contributes its *.hcl and *.hcl.json files (not
// recursively), sorted by name. Each file appears once.
func ExpandPaths(paths []string) ([]string, hcl.Diagnostics) {
	var (
		out   []string
		diags hcl.Diagnostics
		seen  = map[string]bool{}
	)
	add := func(p string) {
		key, err := filepath.Abs(p)
		if err != nil {
			key = filepath.Clean(p)
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, p)
		}
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			diags = append(diags, errorf(nil, "Cannot read spec", "%s.", describeFSError(p, err)))
			continue
		}
		if !fi.IsDir() {
			add(p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			diags = append(diags, errorf(nil, "Cannot read spec", "%s.", describeFSError(p, err)))
			continue
		}
		var names []string
		for _, e := range entries {
			if !e.IsDir() && IsSpecFile(e.Name()) {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		if len(names) == 0 {
			diags = append(diags, errorf(nil, "No spec files", "The directory %s holds no *.hcl or *.hcl.json files.", p))
		}
		for _, n := range names {
			add(filepath.Join(p, n))
		}
	}
	return out, diags
}

// ReadSources expands paths and reads every spec file, each bounded by maxBytes.
func ReadSources(paths []string, maxBytes int64) ([]Source, hcl.Diagnostics) {
	files, diags := ExpandPaths(paths)
	var srcs []Source
	for _, f := range files {
		b, err := readFileLimited(f, maxBytes, "KEYPROV_MAX_SPEC_BYTES")
		if err != nil {
			diags = append(diags, errorf(nil, "Cannot read spec", "%s.", describeFSError(f, err)))
			continue
		}
		srcs = append(srcs, Source{Name: f, Dir: filepath.Dir(f), Bytes: b})
	}
	return srcs, diags
}

// ErrTooLarge is returned for files over the size limit.
var ErrTooLarge = errors.New("file is larger than the limit")

// readFileLimited reads a regular file of at most max bytes.
// setting names the configuration that sets max, for the error message.
//
// Anything but a regular file (a symlink to one is fine) is refused before
// a byte is read: a FIFO would block the open until something writes to it,
// and a device such as /dev/zero or /dev/urandom never ends. The file is
// opened with O_NONBLOCK, so that even a FIFO swapped in after the Stat
// cannot block the open, and checked again with fstat.
func readFileLimited(name string, max int64, setting string) ([]byte, error) {
	var buf bytes.Buffer
	if err := readLimited(name, max, setting, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readLimited writes the file name to w (readFileLimited's checks, in its
// order). A *bytes.Buffer is grown once to the file's size: io.ReadAll
// would grow, copy and clear its buffer about twenty times for a 10 MB
// file. ReadFrom wants bytes.MinRead free bytes before each read, which
// also sees a file that grew since Stat.
func readLimited(name string, max int64, setting string, w io.Writer) error {
	if fi, err := os.Stat(name); err != nil {
		return err
	} else if err := checkRegular(fi); err != nil {
		return err
	}
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := checkRegular(fi); err != nil {
		return err
	}
	if fi.Size() > max {
		return fmt.Errorf("%w: %d bytes, the limit is %d (%s)", ErrTooLarge, fi.Size(), max, setting)
	}
	var n int64
	if buf, ok := w.(*bytes.Buffer); ok {
		buf.Grow(int(fi.Size()) + bytes.MinRead)
		n, err = buf.ReadFrom(io.LimitReader(f, max+1))
	} else {
		n, err = io.CopyBuffer(w, io.LimitReader(f, max+1), make([]byte, min(fi.Size()+bytes.MinRead, 256<<10)))
	}
	if err != nil {
		return err
	}
	if n > max {
		return fmt.Errorf("%w: the limit is %d bytes (%s)", ErrTooLarge, max, setting)
	}
	return nil
}

// ownedString returns b as a string without copying it: b must be a buffer
// of readFileLimited's that nothing writes again. A secrets file of a
// million tokens and a variable file of a million tenants were copied
// whole, and the values read from them keep the copy.
func ownedString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// ErrNotRegular is returned for a path that is not a regular file (nor a
// symlink to one): a named pipe, a device, a socket.
var ErrNotRegular = errors.New("not a regular file")

func checkRegular(fi fs.FileInfo) error {
	m := fi.Mode()
	switch {
	case m.IsDir():
		return fmt.Errorf("%w", errIsDir)
	case m.IsRegular():
		return nil
	case m&fs.ModeNamedPipe != 0:
		return fmt.Errorf("%w: it is a named pipe", ErrNotRegular)
	case m&fs.ModeCharDevice != 0:
		return fmt.Errorf("%w: it is a character device", ErrNotRegular)
	case m&fs.ModeDevice != 0:
		return fmt.Errorf("%w: it is a device", ErrNotRegular)
	case m&fs.ModeSocket != 0:
		return fmt.Errorf("%w: it is a socket", ErrNotRegular)
	default:
		return ErrNotRegular
	}
}

var errIsDir = errors.New("is a directory")

// describeFSError says what went wrong with path without repeating Go's
// "open path:" noise.
func describeFSError(path string, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("%s does not exist", path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Sprintf("%s cannot be read: permission denied", path)
	case errors.Is(err, errIsDir):
		return fmt.Sprintf("%s is a directory, not a file", path)
	default:
		return fmt.Sprintf("%s cannot be read: %v", path, err)
	}
}
