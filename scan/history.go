package scan

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// HistoryOptions control a history scan.
type HistoryOptions struct {
	// Prefixes, Git, Env and Exclude are those of a working-tree scan;
	// Exclude patterns are matched against paths in the repository.
	Options
	// Dir is a directory of the repository: its work tree or, for a bare
	// repository, the repository itself. "" means the current directory.
	Dir string
	// Revs are the commits to scan, as git log takes them: "HEAD",
	// "main..feature", "^v1.2" (none may start with "-"). Without Revs and
	// without All, HEAD.
	Revs []string
	// All adds every ref: branches, tags, remote-tracking branches, notes
	// and the stash.
	All bool
	// Since leaves out the commits reachable from this revision: with Since
	// "origin/main", the commits of a pull request.
	Since string
}

// HistoryStats describes the history a scan walked.
type HistoryStats struct {
	// Commits counts the commits walked.
	Commits int
	// Shallow is set for a shallow clone: the commits at its boundary are
	// scanned as if they were root commits, so a token found there may have
	// been added by a commit before them, which is not in the clone.
	Shallow bool
}

// ErrNotRepository is returned by History for a directory outside any git repository.
var ErrNotRepository = errors.New("scan: not a git repository")

// ErrMissingObject is returned by History when a blob of the history is not
// in the repository (a partial clone, or a corrupt repository): a scan that
// cannot read everything does not report "no tokens".
var ErrMissingObject = errors.New("scan: a blob of the history is missing")

// History scans the history of a git repository: every version of every
// regular file in the commits given, each distinct blob read once. A token
// is reported once per path, at the commit that added it there: the first
// commit, parents before children, whose version of the path holds it
// while that of its first parent does not. That is the commit to rewrite
// (or the one after which the token was public); later versions of the
// file that keep the token are not reported again, a copy of it under
// another path is. When the commits given leave out their ancestors (a
// range such as base..head), a token already present in the parent's
// version of a file is not reported: the range did not add it.
//
// Findings carry the commit and the path in the repository, in the order
// the commits were made (oldest first). Binary blobs (a NUL byte in the
// first 8 KiB), symbolic links and submodules are skipped, as in a
// working-tree scan. Only git is used: `git log --raw` lists the blobs each
// commit adds, and one `git cat-file --batch` streams their contents.
func History(ctx context.Context, opts HistoryOptions) (*Result, error) {
	prefixes := opts.Prefixes
	if len(prefixes) == 0 {
		prefixes = defaultPrefixes
	}
	g := &gitRunner{git: opts.Git, dir: opts.Dir, env: opts.Env}
	if g.git == "" {
		g.git = "git"
	}
	if g.dir == "" {
		g.dir = "."
	}
	if _, err := exec.LookPath(g.git); err != nil {
		return nil, fmt.Errorf("scan: the history scan needs git: %w", err)
	}
	if _, err := g.output(ctx, "rev-parse", "--git-dir"); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return nil, fmt.Errorf("scan: running git: %w", err)
		}
		dir, _ := filepath.Abs(g.dir)
		// git says why when it is not simply outside a repository
		// ("detected dubious ownership", a broken .git).
		msg, _, _ := strings.Cut(strings.TrimSpace(string(ee.Stderr)), "\n")
		if msg == "" || strings.Contains(msg, "not a git repository") {
			return nil, fmt.Errorf("%w: %s", ErrNotRepository, dir)
		}
		return nil, fmt.Errorf("%w: %s (git: %s)", ErrNotRepository, dir, msg)
	}
	res := &Result{History: &HistoryStats{}}
	if out, err := g.output(ctx, "rev-parse", "--is-shallow-repository"); err == nil && strings.TrimSpace(string(out)) == "true" {
		res.History.Shallow = true
	}
	for i, r := range append(opts.Revs[:len(opts.Revs):len(opts.Revs)], opts.Since) {
		if strings.HasPrefix(r, "-") || r == "" && i < len(opts.Revs) {
			return nil, fmt.Errorf("scan: %q is not a revision", r)
		}
	}
	if opts.Since != "" {
		if _, err := g.output(ctx, "rev-parse", "--verify", "--quiet", "--end-of-options", opts.Since+"^{commit}"); err != nil {
			return nil, fmt.Errorf("scan: %q is not a commit of the repository", opts.Since)
		}
	}
	revs := opts.Revs
	if len(revs) == 0 && !opts.All {
		// A repository without commits has no history to scan.
		if _, err := g.output(ctx, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"); err != nil {
			return res, nil
		}
		revs = []string{"HEAD"}
	}
	// A partial clone lacks blobs: reading one is an error, explained.
	out, _ := g.output(ctx, "config", "--get-regexp", `^(extensions\.partialclone|remote\..*\.promisor)$`)
	partial := len(bytes.TrimSpace(out)) > 0
	args := []string{"log", "-z", "--format=commit %H", "--raw", "--no-abbrev", "--no-renames", "--no-relative",
		"--root", "--diff-merges=first-parent", "--topo-order", "--reverse",
		"--no-color", "--no-notes", "--no-show-signature", "--no-textconv", "--no-ext-diff"}
	if opts.All {
		args = append(args, "--all")
	}
	args = append(args, "--end-of-options")
	args = append(args, revs...)
	if opts.Since != "" {
		args = append(args, "^"+opts.Since)
	}
	args = append(args, "--")

	h := &historyScan{
		res:      res,
		content:  newContentScanner(prefixes),
		hits:     map[string][]blobHit{},
		seen:     map[pathToken]struct{}{},
		binary:   map[string]bool{},
		excluded: func(p string) bool { return excludedRel(p, opts.Exclude) },
		partial:  partial,
	}
	if err := h.run(ctx, g, args); err != nil {
		return nil, err
	}
	return res, nil
}

// gitRunner runs git in a repository.
type gitRunner struct {
	git, dir string
	env      []string
}

func (g *gitRunner) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, g.git, append([]string{"-C", g.dir, "--no-pager"}, args...)...)
	cmd.Env = g.env
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	// A partial clone would fetch missing blobs one by one from its remote.
	cmd.Env = append(cmd.Env, "GIT_NO_LAZY_FETCH=1", "GIT_TERMINAL_PROMPT=0")
	return cmd
}

func (g *gitRunner) output(ctx context.Context, args ...string) ([]byte, error) {
	return g.command(ctx, args...).Output()
}

// gitError describes a failed git command with what it printed.
func gitError(what string, err error, stderr *limitedBuffer) error {
	msg := strings.TrimSpace(stderr.String())
	if msg == "" {
		return fmt.Errorf("scan: %s: %w", what, err)
	}
	return fmt.Errorf("scan: %s: %w: %s", what, err, msg)
}

// limitedBuffer keeps the first 4 KiB written to it (git's error messages).
type limitedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := 4<<10 - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// change is one file a commit adds or modifies, as git log --raw lists it.
type change struct {
	commit string
	path   string
	// old is the blob of the first parent's version of path ("" when the
	// path is new or was not a regular file), new the commit's.
	old, new string
	// fetch are the blobs (old and new) to read for this change, in order:
	// those not read for an earlier change.
	fetch []string
}

// blobHit is a token found in a blob, with a digest of the token to
// recognise it elsewhere (never the token).
type blobHit struct {
	Finding
	token [sha256.Size]byte
}

type pathToken struct {
	path  string
	token [sha256.Size]byte
}

type historyScan struct {
	res      *Result
	content  *contentScanner
	excluded func(path string) bool
	// hits holds what each blob read holds, for the blobs that hold tokens.
	hits map[string][]blobHit
	// seen holds the tokens already present at each path.
	seen map[pathToken]struct{}
	// partial is set in a partial clone.
	partial bool
	// blob holds the content of a small blob.
	blob []byte
	// binary holds the blobs read and not counted yet, and whether they
	// are binary.
	binary map[string]bool
}

// smallBlob is the size up to which a blob is read whole into memory;
// larger ones are streamed.
const smallBlob = 1 << 20

// run streams git log into git cat-file: a goroutine parses the log,
// asks cat-file for each blob not asked for before and queues the change;
// this one reads cat-file's answers in the same order and reports.
func (h *historyScan) run(parent context.Context, g *gitRunner, logArgs []string) (err error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()

	var logErr, catErr limitedBuffer
	logCmd := g.command(ctx, logArgs...)
	logCmd.Stderr = &logErr
	logOut, err := logCmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	// Without --buffer: cat-file answers each blob as soon as it is asked.
	// With it, the last answers would wait in its buffer for more questions
	// while this side waits for them before asking more.
	catCmd := g.command(ctx, "cat-file", "--batch")
	catCmd.Stderr = &catErr
	catIn, err := catCmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	catOut, err := catCmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("scan: %w", err)
	}
	if err := catCmd.Start(); err != nil {
		return fmt.Errorf("scan: starting git cat-file: %w", err)
	}
	if err := logCmd.Start(); err != nil {
		cancel()
		catIn.Close()
		_ = catCmd.Wait()
		return fmt.Errorf("scan: starting git log: %w", err)
	}

	changes := make(chan change, 1024)
	var commits int
	parsed := make(chan error, 1)
	go func() {
		defer close(changes)
		w := bufio.NewWriterSize(catIn, 32<<10)
		n, err := parseLog(ctx, logOut, w, changes, h.excluded)
		if err == nil {
			err = w.Flush()
		}
		catIn.Close()
		commits = n
		parsed <- err
	}()

	readErr := h.read(bufio.NewReaderSize(catOut, 64<<10), changes)
	if readErr != nil {
		cancel()
		for range changes { // unblock the parser
		}
	}
	parseErr := <-parsed
	logWait := logCmd.Wait()
	catWait := catCmd.Wait()
	switch {
	case parent.Err() != nil:
		return fmt.Errorf("scan: %w", parent.Err())
	case logWait != nil && readErr == nil:
		return gitError("git log", logWait, &logErr)
	case readErr != nil:
		if errors.Is(readErr, io.ErrUnexpectedEOF) && catWait != nil {
			return h.catFileError(catWait, &catErr)
		}
		return readErr
	case parseErr != nil:
		return fmt.Errorf("scan: reading git log: %w", parseErr)
	case catWait != nil:
		return h.catFileError(catWait, &catErr)
	}
	h.res.History.Commits = commits
	return nil
}

func (h *historyScan) catFileError(err error, stderr *limitedBuffer) error {
	if h.partial {
		return fmt.Errorf("%w: this is a partial clone, fetch the whole history first (%w)", ErrMissingObject, gitError("git cat-file", err, stderr))
	}
	return gitError("git cat-file", err, stderr)
}

// parseLog reads `git log -z --format="commit %H" --raw --no-renames`,
// writes the blobs to read to w (one id a line) and sends each change of
// a regular file, in order, to changes. It returns the number of commits.
func parseLog(ctx context.Context, r io.Reader, w *bufio.Writer, changes chan<- change, excluded func(string) bool) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	requested := map[string]struct{}{}
	request := func(c *change, oid string) {
		if _, ok := requested[oid]; !ok {
			requested[oid] = struct{}{}
			c.fetch = append(c.fetch, oid)
		}
	}
	var (
		commit  string
		commits int
	)
	for {
		field, err := readField(br)
		if errors.Is(err, io.EOF) && field == "" {
			return commits, nil
		}
		if err != nil {
			return commits, err
		}
		field = strings.TrimLeft(field, "\n")
		if c, ok := strings.CutPrefix(field, "commit "); ok {
			commit = c
			commits++
			continue
		}
		if !strings.HasPrefix(field, ":") || commit == "" {
			return commits, fmt.Errorf("unexpected %q", truncate(field, 80))
		}
		// :old_mode new_mode old_oid new_oid status, then the path.
		parts := strings.Fields(field[1:])
		path, err := readField(br)
		if err != nil {
			return commits, fmt.Errorf("a path after %q: %w", truncate(field, 80), err)
		}
		if len(parts) != 5 {
			return commits, fmt.Errorf("unexpected %q", truncate(field, 80))
		}
		oldMode, newMode, oldOID, newOID := parts[0], parts[1], parts[2], parts[3]
		if !regular(newMode) || isZero(newOID) || excluded(path) {
			continue // deleted, a symbolic link, a submodule, or excluded
		}
		c := change{commit: commit, path: path, new: newOID}
		if regular(oldMode) && !isZero(oldOID) {
			c.old = oldOID
			request(&c, oldOID)
		}
		request(&c, newOID)
		for _, oid := range c.fetch {
			if _, err := w.WriteString(oid + "\n"); err != nil {
				return commits, err
			}
		}
		// Everything asked for so far must reach cat-file before this
		// goroutine waits on the reader, which may be waiting for it.
		select {
		case changes <- c:
			continue
		default:
		}
		if err := w.Flush(); err != nil {
			return commits, err
		}
		select {
		case changes <- c:
		case <-ctx.Done():
			return commits, ctx.Err()
		}
	}
}

// readField reads up to the next NUL byte, which it drops.
func readField(br *bufio.Reader) (string, error) {
	b, err := br.ReadSlice(0)
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), b...)
		rest, err := br.ReadBytes(0)
		long = append(long, rest...)
		if err != nil {
			return "", errors.Join(io.ErrUnexpectedEOF, err)
		}
		return string(long[:len(long)-1]), nil
	}
	if err != nil {
		if len(b) > 0 {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	return string(b[:len(b)-1]), nil
}

// read reads cat-file's answers for each change and reports the tokens
// the change adds to its path.
func (h *historyScan) read(out *bufio.Reader, changes <-chan change) error {
	for c := range changes {
		for _, oid := range c.fetch {
			if err := h.readBlob(out, oid, c); err != nil {
				return err
			}
		}
		h.count(c.new)
		for _, hit := range h.hits[c.old] {
			h.seen[pathToken{c.path, hit.token}] = struct{}{}
		}
		var added []pathToken
		for _, hit := range h.hits[c.new] {
			key := pathToken{c.path, hit.token}
			if _, ok := h.seen[key]; ok {
				continue
			}
			f := hit.Finding
			f.Commit, f.Path = c.commit, c.path
			h.res.Findings = append(h.res.Findings, f)
			added = append(added, key)
		}
		for _, key := range added {
			h.seen[key] = struct{}{}
		}
	}
	return nil
}

// readBlob reads one answer of git cat-file --batch: "<oid> blob <size>",
// the content and a newline.
func (h *historyScan) readBlob(out *bufio.Reader, oid string, c change) error {
	header, err := out.ReadString('\n')
	if err != nil {
		return fmt.Errorf("scan: reading git cat-file: %w", io.ErrUnexpectedEOF)
	}
	fields := strings.Fields(header)
	if len(fields) == 2 && fields[1] == "missing" {
		return fmt.Errorf("%w: %s (%s:%s)", ErrMissingObject, oid, c.commit, c.path)
	}
	if len(fields) != 3 || fields[0] != oid || fields[1] != "blob" {
		return fmt.Errorf("scan: unexpected answer from git cat-file for %s: %q", oid, truncate(header, 80))
	}
	size, err := strconv.ParseInt(fields[2], 10, 64)
	if err != nil || size < 0 {
		return fmt.Errorf("scan: unexpected answer from git cat-file for %s: %q", oid, truncate(header, 80))
	}
	var hits []blobHit
	hit := func(f Finding, tok []byte) {
		hits = append(hits, blobHit{Finding: f, token: sha256.Sum256(tok)})
	}
	var binary bool
	if size <= smallBlob {
		// Read whole: most blobs hold no prefix, which one search tells.
		if int64(cap(h.blob)) < size {
			h.blob = make([]byte, size)
		}
		b := h.blob[:size]
		if _, err := io.ReadFull(out, b); err != nil {
			return fmt.Errorf("scan: reading git cat-file: %w", io.ErrUnexpectedEOF)
		}
		binary, err = h.content.scanBytes(b, "", hit)
	} else {
		body := io.LimitReader(out, size)
		binary, err = h.content.scan(body, "", hit)
		if err == nil {
			if n, cerr := io.Copy(io.Discard, body); cerr != nil || n < 0 {
				return fmt.Errorf("scan: reading git cat-file: %w", io.ErrUnexpectedEOF)
			}
			if body.(*io.LimitedReader).N > 0 {
				return fmt.Errorf("scan: reading git cat-file: %w", io.ErrUnexpectedEOF)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("scan: reading blob %s (%s:%s): %w", oid, c.commit, c.path, err)
	}
	if b, err := out.ReadByte(); err != nil || b != '\n' {
		return fmt.Errorf("scan: reading git cat-file: %w", io.ErrUnexpectedEOF)
	}
	if len(hits) > 0 {
		h.hits[oid] = hits
	}
	h.binary[oid] = binary
	return nil
}

// count counts a blob of the commits scanned, once: not the versions read
// only to know what a range's base held.
func (h *historyScan) count(oid string) {
	binary, ok := h.binary[oid]
	if !ok {
		return
	}
	delete(h.binary, oid)
	if binary {
		h.res.Binary++
	} else {
		h.res.Files++
	}
}

// regular reports whether a git file mode is that of a regular file
// (100644, 100755, or the old 100664).
func regular(mode string) bool { return strings.HasPrefix(mode, "100") }

func isZero(oid string) bool { return strings.Trim(oid, "0") == "" }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
