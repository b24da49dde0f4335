// Package scan finds tokens committed by mistake: strings that start with a
// token prefix (wat_ by default) followed by a token-shaped run of at least
// token.MinBodyLen characters of [A-Za-z0-9_-], in text files.
//
// A finding holds the token's hint (prefix, ellipsis, last four characters)
// and whether it carries a keyprov checksum, never the token: nothing this
// package returns can leak the value it found.
package scan

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/keyprov/keyprov/token"
)

// Finding is one token-shaped string.
type Finding struct {
	// Commit is set by a history scan: the commit that added the token to
	// Path (see History).
	Commit string
	// Path is the file, as reached from the scanned path; in a history
	// scan, the path in the repository.
	Path string
	// Line and Column are 1-based; Column counts bytes.
	Line, Column int
	// Prefix is the prefix that matched.
	Prefix string
	// Hint is the token's display form, e.g. "wat_…9fQx".
	Hint string
	// Checksum is true when the token ends in a valid keyprov checksum:
	// almost certainly a token made by keyprov, not a look-alike.
	Checksum bool
}

// ChecksumState describes Checksum for people: "checksum valid" or "no checksum".
func (f Finding) ChecksumState() string {
	if f.Checksum {
		return "checksum valid"
	}
	return "no checksum"
}

// Result is what a scan found.
type Result struct {
	// Findings are sorted by path, line and column.
	Findings []Finding
	// Files counts the text files scanned; in a history scan, the distinct
	// text blobs (versions of files) read.
	Files int
	// Binary counts the files (or blobs) skipped as binary.
	Binary int
	// History is set by a history scan.
	History *HistoryStats
}

// Options control a scan.
type Options struct {
	// Prefixes are the token prefixes to look for; empty means token.DefaultPrefix.
	Prefixes []string
	// Git is the git executable used to list the files of a repository
	// (honouring .gitignore); "" means "git" from PATH. When it cannot be
	// run, or a path is not inside a work tree, directories are walked.
	Git string
	// Env is the environment of git; nil means the current process's.
	Env []string
	// Exclude skips files found in directories: a pattern without "/"
	// (path.Match syntax) matches any element of the path below the
	// scanned directory ("testdata", "*_test.go"); a pattern with "/"
	// matches that whole relative path ("docs/*.md"). Files named
	// explicitly are always scanned.
	Exclude []string
}

var defaultPrefixes = []string{token.DefaultPrefix}

// ErrNotFound is returned for a path to scan that does not exist.
var ErrNotFound = errors.New("scan: no such file or directory")

// binaryProbe is how much of a file is searched for a NUL byte to tell
// binary files from text.
const binaryProbe = 8 << 10

// Paths scans files and directories. A directory inside a git work tree
// contributes the files git lists (tracked, and untracked unless ignored);
// otherwise every regular file below it, .git directories skipped. A file
// named explicitly is scanned even when ignored. Symbolic links are not
// followed. Files that cannot be read make the scan fail.
func Paths(ctx context.Context, paths []string, opts Options) (*Result, error) {
	prefixes := opts.Prefixes
	if len(prefixes) == 0 {
		prefixes = defaultPrefixes
	}
	files, err := listFiles(ctx, paths, opts)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		found, binary, err := scanFile(f, prefixes)
		if err != nil {
			return nil, err
		}
		if binary {
			res.Binary++
			continue
		}
		res.Files++
		res.Findings = append(res.Findings, found...)
	}
	sort.SliceStable(res.Findings, func(i, j int) bool {
		a, b := res.Findings[i], res.Findings[j]
		switch {
		case a.Path != b.Path:
			return a.Path < b.Path
		case a.Line != b.Line:
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return res, nil
}

func scanFile(path string, prefixes []string) ([]Finding, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("scan: reading %s: %w", path, err)
	}
	defer f.Close()
	found, binary, err := Reader(f, path, prefixes)
	if err != nil {
		return nil, false, fmt.Errorf("scan: reading %s: %w", path, err)
	}
	return found, binary, nil
}

// maxLine bounds the bytes of one line held in memory: a longer line is
// searched in pieces cut after a byte that cannot be part of a token.
const maxLine = 1 << 20

// Reader scans the content of one file, named path in the findings. It
// reports binary (and no findings) when the first 8 KiB hold a NUL byte.
func Reader(r io.Reader, path string, prefixes []string) (found []Finding, binary bool, err error) {
	binary, err = newContentScanner(prefixes).scan(r, path, func(f Finding, _ []byte) {
		found = append(found, f)
	})
	if err != nil || binary {
		return nil, binary, err
	}
	return found, false, nil
}

// contentScanner scans contents one after another, reusing its buffers.
type contentScanner struct {
	prefixes []string
	br       *bufio.Reader
	buf      []byte
}

func newContentScanner(prefixes []string) *contentScanner {
	return &contentScanner{prefixes: prefixes, br: bufio.NewReaderSize(nil, 64<<10)}
}

// scanBytes is scan for a content held in memory: most contents hold no
// prefix at all, which one search of the whole content tells.
func (s *contentScanner) scanBytes(b []byte, path string, fn func(f Finding, tok []byte)) (binary bool, err error) {
	if bytes.IndexByte(b[:min(len(b), binaryProbe)], 0) >= 0 {
		return true, nil
	}
	for _, p := range s.prefixes {
		if bytes.Contains(b, []byte(p)) {
			return s.scan(bytes.NewReader(b), path, fn)
		}
	}
	return false, nil
}

// scan calls fn for each token-shaped string of r, with the string itself
// (only valid during the call: fn must neither keep nor reveal it). It
// reports binary, without calling fn, when the first 8 KiB hold a NUL byte.
// It may leave the end of r unread.
func (s *contentScanner) scan(r io.Reader, path string, fn func(f Finding, tok []byte)) (binary bool, err error) {
	br := s.br
	br.Reset(r)
	defer br.Reset(nil)
	head, err := br.Peek(binaryProbe)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return false, err
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return true, nil
	}
	var (
		line = 1
		buf  = s.buf[:0]
		col0 int // column offset of buf[0] in the line
	)
	defer func() { s.buf = buf[:0] }()
	emit := func(b []byte) {
		matches(b, s.prefixes, func(start, end int, prefix string) {
			tok := b[start:end]
			str := string(tok)
			fn(Finding{Path: path, Line: line, Column: col0 + start + 1, Prefix: prefix,
				Hint: token.Hint(str, prefix), Checksum: token.HasChecksum(str, prefix)}, tok)
		})
	}
	for {
		frag, err := br.ReadSlice('\n')
		buf = append(buf, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(buf) >= maxLine {
				cut := lastBoundary(buf)
				emit(buf[:cut])
				col0 += cut
				buf = append(buf[:0], buf[cut:]...)
			}
			continue
		}
		emit(buf)
		buf, col0 = buf[:0], 0
		line++
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// lastBoundary returns the index just after the last byte of b that cannot
// be part of a token, or len(b) when there is none.
func lastBoundary(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if !token.IsTokenChar(b[i]) {
			return i + 1
		}
	}
	return len(b)
}

// matches calls fn for every token-shaped string in b: a prefix not preceded
// by a token character (so not inside a longer word), followed by at least
// token.MinBodyLen token characters. Bodies that break the entropy rule
// (placeholders such as wat_xxxx…) are skipped: keyprov refuses them as
// tokens, so they cannot be live keys.
func matches(b []byte, prefixes []string, fn func(start, end int, prefix string)) {
	for i := 0; i < len(b); {
		start, prefix := -1, ""
		for _, p := range prefixes {
			j := bytes.Index(b[i:], []byte(p))
			if j < 0 {
				continue
			}
			if j += i; start < 0 || j < start || j == start && len(p) > len(prefix) {
				start, prefix = j, p
			}
		}
		if start < 0 {
			return
		}
		if start > 0 && token.IsTokenChar(b[start-1]) {
			i = start + 1
			continue
		}
		end := start + len(prefix)
		for end < len(b) && token.IsTokenChar(b[end]) {
			end++
		}
		if end-start-len(prefix) < token.MinBodyLen || lowEntropy(string(b[start:end]), prefix) {
			i = start + 1
			continue
		}
		fn(start, end, prefix)
		i = end
	}
}

func lowEntropy(tok, prefix string) bool {
	for _, err := range token.Check(tok, prefix) {
		if errors.Is(err, token.ErrLowEntropy) {
			return true
		}
	}
	return false
}

// listFiles expands paths into the files to scan, each once, in order.
func listFiles(ctx context.Context, paths []string, opts Options) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		key, err := filepath.Abs(p)
		if err != nil {
			key = p
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, p)
		}
	}
	for _, p := range paths {
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("%w: %s", ErrNotFound, p)
		case err != nil:
			return nil, fmt.Errorf("scan: %w", err)
		case fi.Mode().IsRegular():
			add(p)
			continue
		case !fi.IsDir():
			continue // symbolic links, devices, sockets
		}
		files, ok := gitFiles(ctx, p, opts)
		if !ok {
			files, err = walk(p)
			if err != nil {
				return nil, err
			}
		}
		for _, f := range files {
			if !excluded(p, f, opts.Exclude) {
				add(f)
			}
		}
	}
	return out, nil
}

// excluded reports whether file, found below dir, matches a pattern.
func excluded(dir, file string, patterns []string) bool {
	if len(patterns) == 0 {
		return false
	}
	rel, err := filepath.Rel(dir, file)
	if err != nil {
		return false
	}
	return excludedRel(filepath.ToSlash(rel), patterns)
}

// excludedRel reports whether a slash-separated relative path matches a pattern.
func excludedRel(rel string, patterns []string) bool {
	for _, p := range patterns {
		if strings.Contains(p, "/") {
			if ok, _ := path.Match(p, rel); ok {
				return true
			}
			continue
		}
		for _, el := range strings.Split(rel, "/") {
			if ok, _ := path.Match(p, el); ok {
				return true
			}
		}
	}
	return false
}

// ValidPattern reports whether p is a valid Exclude pattern.
func ValidPattern(p string) bool {
	_, err := path.Match(p, "")
	return p != "" && err == nil
}

// gitFiles lists the regular files git knows under dir: tracked ones, and
// untracked ones that .gitignore does not exclude. It reports false when
// git cannot be run or dir is not inside a work tree.
func gitFiles(ctx context.Context, dir string, opts Options) ([]string, bool) {
	git := opts.Git
	if git == "" {
		git = "git"
	}
	run := func(args ...string) ([]byte, bool) {
		cmd := exec.CommandContext(ctx, git, append([]string{"-C", dir}, args...)...)
		cmd.Env = opts.Env
		out, err := cmd.Output()
		return out, err == nil
	}
	if out, ok := run("rev-parse", "--is-inside-work-tree"); !ok || strings.TrimSpace(string(out)) != "true" {
		return nil, false
	}
	out, ok := run("ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if !ok {
		return nil, false
	}
	var files []string
	for _, name := range strings.Split(string(out), "\x00") {
		if name == "" || strings.HasSuffix(name, "/") {
			continue // nested repositories are listed as directories
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		// Deleted files, submodules and symbolic links are not scanned.
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			files = append(files, p)
		}
	}
	sort.Strings(files)
	return files, true
}

// walk lists the regular files below dir, skipping .git directories.
func walk(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	return files, err
}
