package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"

	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/view"
)

var fmtCmd = &command{
	name:    "fmt",
	args:    "[PATH...]",
	summary: "rewrite spec files in canonical format",
	help: `Rewrites HCL spec files (*.hcl) in canonical format. PATH is a file or a
directory (its *.hcl files; with --recursive, also those of its
subdirectories); "-" formats standard input to standard output. Without PATH,
the spec files (-f, KEYPROV_FILE, default keys.hcl) are formatted. JSON files
are left alone.

With --check nothing is written: the files that are not formatted are listed
and the exit status is 1. --diff prints the changes as a unified diff (for
standard input, the diff instead of the formatted text).

Diffs and diagnostics show source text with every token-shaped string as its
hint (wat_…9fQx) and URL and password= passwords as ****, in case a spec
path is a link to a secrets file; the formatted files are written as they are.`,
	run: runFmt,
}

// fmtOptions are fmt's flags and arguments, the paths to format.
type fmtOptions struct {
	spec *specFlags
	log  *logFlags
	// checkOnly (--check) writes nothing and fails when a file is not
	// formatted; diff prints the changes; list names the files that
	// change; recursive descends into subdirectories.
	checkOnly, diff, list, recursive bool
	paths                            []string
}

func newFmtOptions(fs *flagSet, cfg Config) *fmtOptions {
	o := &fmtOptions{spec: addSpecFlags(fs, cfg)}
	fs.BoolVar(&o.checkOnly, "check", false, "write nothing; list files that are not formatted and exit 1 if there are any")
	fs.BoolVar(&o.diff, "diff", false, "print the changes as a unified diff")
	fs.BoolVar(&o.list, "list", true, "list the files whose formatting changed")
	fs.BoolVar(&o.recursive, "recursive", false, "also format files in subdirectories")
	o.log = addLogFlags(fs, cfg)
	return o
}

// check takes the spec files (-f, KEYPROV_FILE, keys.hcl) when no path
// is given; any combination of flags is valid.
func (o *fmtOptions) check() error {
	if len(o.paths) == 0 {
		o.paths = o.spec.files.vals
	}
	return nil
}

func runFmt(ctx context.Context, a *app, c *command, args []string) int {
	fs := newFlagSet(c)
	o := newFmtOptions(fs, a.cfg)
	if code, ok := a.parseOptions(c, fs, args, &o.paths, o, o.log); !ok {
		return code
	}
	if len(o.paths) == 1 && o.paths[0] == "-" {
		src, err := io.ReadAll(a.in)
		if err != nil {
			a.errorf("keyprov fmt: reading standard input: %v", err)
			return exitInvalid
		}
		out, diags := format(src, "<stdin>")
		sources := map[string][]byte{"<stdin>": src}
		if diags.HasErrors() {
			a.writeDiagnostics(diags, sources, false)
			return exitInvalid
		}
		changed := !bytes.Equal(src, out)
		switch {
		case o.diff:
			if changed {
				fmt.Fprint(a.out, view.UnifiedDiff(src, out, "<stdin>", view.SourcePrefixes(sources)))
			}
		case !o.checkOnly:
			_, _ = a.out.Write(out)
		}
		if o.checkOnly && changed {
			return exitInvalid
		}
		return exitOK
	}

	files, err := fmtFiles(o.paths, o.recursive)
	if err != nil {
		a.errorf("keyprov fmt: %v", err)
		return exitInvalid
	}
	status := exitOK
	// Every file is read first, each within KEYPROV_MAX_SPEC_BYTES (a
	// link to /dev/zero must not exhaust memory), so that the token
	// prefixes set anywhere in them are redacted in every diff.
	srcs, diags := spec.ReadSources(files, a.cfg.MaxSpecBytes)
	if diags.HasErrors() {
		a.writeDiagnostics(diags, nil, false)
		status = exitInvalid
	}
	sources := make(map[string][]byte, len(srcs))
	for _, src := range srcs {
		sources[src.Name] = src.Bytes
	}
	prefixes := view.SourcePrefixes(sources)
	unformatted := false
	for _, s := range srcs {
		f, src := s.Name, s.Bytes
		out, diags := format(src, f)
		if diags.HasErrors() {
			a.writeDiagnostics(diags, sources, isTerminal(a.err) && !a.cfg.NoColor)
			status = exitInvalid
			continue
		}
		if bytes.Equal(src, out) {
			continue
		}
		if err := view.WriteFormatChange(a.out, f, src, out, o.list || o.checkOnly, o.diff, prefixes); err != nil {
			a.errorf("keyprov fmt: %v", err)
			status = exitInvalid
		}
		if o.checkOnly {
			status, unformatted = exitInvalid, true
			continue
		}
		// A symbolic link is never rewritten: replacing it would copy what
		// it points to (a mounted secrets file, perhaps) into the
		// repository, and writing through it would change that file.
		if fi, err := os.Lstat(f); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			a.errorf("keyprov fmt: %s is a symbolic link: not rewritten (format the file it points to)", view.Printable(f))
			status = exitInvalid
			continue
		}
		if err := writeFileKeepMode(f, out); err != nil {
			a.errorf("keyprov fmt: %v", err)
			status = exitInvalid
		}
	}
	// A file that does not parse is reported as such, not as unformatted.
	if o.checkOnly && unformatted {
		a.errorf("Some files are not formatted: run keyprov fmt to fix them.")
	}
	return status
}

// format returns src in canonical form, or the syntax errors that prevent it.
func format(src []byte, name string) ([]byte, hcl.Diagnostics) {
	// HCL's parser and hclwrite recurse per level of nesting: a deeply
	// nested file would overflow the stack.
	if diags := spec.CheckNesting(src, name, false); diags != nil {
		return nil, diags
	}
	if _, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos); diags.HasErrors() {
		return nil, diags
	}
	return hclwrite.Format(src), nil
}

// fmtFiles expands paths to the *.hcl files to format.
func fmtFiles(paths []string, recursive bool) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			var pe *fs.PathError
			if looksLikeToken(p) && errors.As(err, &pe) {
				return nil, fmt.Errorf("%s: %w", notRepeated, pe.Err)
			}
			return nil, err
		}
		if !fi.IsDir() {
			if strings.HasSuffix(p, ".json") {
				continue
			}
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && (!recursive || strings.HasPrefix(d.Name(), ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			if strings.HasSuffix(path, ".hcl") && spec.IsSpecFile(path) {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

func writeFileKeepMode(name string, b []byte) error {
	fi, err := os.Stat(name)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".keyprov-fmt-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}
