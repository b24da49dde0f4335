// Command benchmark measures keyprov at tenant scale against a real
// PostgreSQL, next to the lower bounds (COPY) and the hand-written
// alternative (a psql script of upserts), in the same run on the same data.
// `make bench` runs it; see BENCHMARKS.md. It reports, it never fails on a time.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/token"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == childFlag {
		os.Exit(measureChild(os.Args[2:]))
	}
	sizes := flag.String("n", "1000,10000,100000", "comma-separated numbers of keys")
	million := flag.Bool("million", false, "also run N = 1,000,000")
	flag.BoolVar(&keyprovOnly, "keyprov-only", false, "skip the reference figures and the flat spec (quick checks)")
	keep := flag.String("dir", "", "keep generated inputs in this directory")
	flag.IntVar(&runs, "runs", 3, "runs of each keyprov scenario; the run with the median wall time is reported")
	flag.StringVar(&svgPath, "svg", "", "draw the scaling figure (wall time against N, log scales) to this SVG `file`, its figures next to it as JSON")
	flag.Parse()
	if runs < 1 {
		fatalf("bad -runs %d", runs)
	}
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fatalf("bad -n %q", s)
		}
		ns = append(ns, n)
	}
	if *million && !slices.Contains(ns, 1_000_000) {
		ns = append(ns, 1_000_000)
	}
	if err := run(ns, *keep); err != nil {
		fatalf("%v", err)
	}
}

// keyprovOnly skips the reference figures (-keyprov-only).
var keyprovOnly bool

// svgPath is the scaling figure to draw (-svg); figs are its series.
var (
	svgPath string
	figs    figures
)

// runs is the number of runs of each keyprov scenario (-runs). This
// machine's timings vary by tens of percent from one run to the next; the
// median run is reported, with its own phases, RSS and rows.
var runs int

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchmark: "+format+"\n", args...)
	os.Exit(1)
}

type env struct {
	dir     string
	bin     string
	cluster *pgtest.Cluster
	admin   string
	// noCheckpoint is set once CHECKPOINT was refused (a role without
	// pg_checkpoint, on a server given by KEYPROV_TEST_DATABASE_URL).
	noCheckpoint bool
}

// settle starts each measurement from a quiet disk: a CHECKPOINT writes
// out what the previous runs left in shared buffers, and sync what the
// kernel still holds. Without it, the 100,000 upserts of the psql script
// were still being written back during the keyprov run after them, which
// then took 30-50% longer, with a larger peak RSS (the collector falls
// behind on a busy machine).
func (e *env) settle() error {
	if !e.noCheckpoint {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, e.admin)
		if err != nil {
			return err
		}
		_, err = conn.Exec(ctx, "CHECKPOINT")
		conn.Close(ctx)
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			fmt.Fprintf(os.Stderr, "benchmark: CHECKPOINT refused (%s): runs start without it\n", pe.Message)
			e.noCheckpoint = true
		} else if err != nil {
			return err
		}
	}
	syscall.Sync()
	return nil
}

func run(ns []int, keep string) error {
	dir := keep
	if dir == "" {
		d, err := os.MkdirTemp("", "keyprov-bench-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	e := &env{dir: dir, bin: filepath.Join(dir, "keyprov")}
	if out, err := exec.Command("go", "build", "-o", e.bin, "./cmd/keyprov").CombinedOutput(); err != nil {
		return fmt.Errorf("building keyprov: %v\n%s", err, out)
	}
	if u := os.Getenv(pgtest.EnvURL); u != "" {
		e.admin = u
	} else {
		c, err := pgtest.Start(pgtest.Options{Durable: true, Settings: []string{"shared_buffers=256MB", "max_wal_size=4GB"}})
		if err != nil {
			return err
		}
		defer c.Stop(true)
		e.cluster, e.admin = c, c.URL("postgres")
	}
	printMachine()
	for _, n := range ns {
		if err := e.size(n); err != nil {
			return fmt.Errorf("N=%d: %w", n, err)
		}
	}
	if svgPath != "" {
		if err := figs.draw(svgPath, "A boot with nothing to do: no-op apply against N keys"); err != nil {
			return fmt.Errorf("drawing %s: %w", svgPath, err)
		}
		if err := figs.save(strings.TrimSuffix(svgPath, ".svg") + ".json"); err != nil {
			return err
		}
		fmt.Printf("The scaling figure: %s\n", svgPath)
	}
	return nil
}

func printMachine() {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		if len(f) >= 2 {
			kb, _ := strconv.Atoi(f[1])
			mem = fmt.Sprintf(", %.0f GiB RAM", float64(kb)/1024/1024)
		}
	}
	pg := "PostgreSQL"
	if out, err := exec.Command("psql", "--version").Output(); err == nil {
		pg = strings.TrimSpace(string(out))
	}
	fmt.Printf("Machine: %s, %d cores%s; %s; %s %s/%s\n\n", cpu, runtime.NumCPU(), mem, pg, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// scenario is one measured keyprov run.
type scenario struct {
	name    string
	eval    time.Duration
	db      time.Duration
	wall    time.Duration
	rssKB   int64
	rows    int64
	summary map[string]any
}

// ms reads a duration field of the run's summary line: its name ends in
// _ms. A field that is not there stops the benchmark, rather than report
// a zero that keyprov never measured.
func (s scenario) ms(field string) time.Duration {
	f, ok := s.summary[field].(float64)
	if !ok {
		fmt.Fprintf(os.Stderr, "benchmark: %s: the summary log line has no duration field %q\n", s.name, field)
		os.Exit(1)
	}
	return time.Duration(f * float64(time.Millisecond))
}

func (e *env) size(n int) error {
	d := filepath.Join(e.dir, fmt.Sprintf("n%d", n))
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	fmt.Printf("## N = %d\n\ngenerating inputs…\n", n)
	in, err := generate(d, n)
	if err != nil {
		return err
	}
	dbURL, drop, err := pgtest.CreateDatabase(e.admin, fmt.Sprintf("bench%d", n))
	if err != nil {
		return err
	}
	defer drop()

	var res, initialRuns, noopRuns []scenario
	var rss int64
	// measure runs a scenario runs times and keeps the median run; before
	// each run but the first, reset (if any) brings the store back to
	// where the first run started, and after each, after (if any)
	// measures the references compared with that run.
	measure := func(name string, reset func() error, after func(i int) error, args ...string) ([]scenario, error) {
		var all []scenario
		for i := range runs {
			if i > 0 && reset != nil {
				if err := reset(); err != nil {
					return nil, fmt.Errorf("%s: resetting: %w", name, err)
				}
			}
			if err := e.settle(); err != nil {
				return nil, err
			}
			s, err := e.keyprov(d, dbURL, in, args...)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			rss = max(rss, s.rssKB)
			all = append(all, s)
			if after != nil {
				if err := after(i); err != nil {
					return nil, fmt.Errorf("%s: the references: %w", name, err)
				}
			}
		}
		m := median(all, wallOf)
		m.name = name
		res = append(res, m)
		return all, nil
	}
	dropSchema := func() error {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "DROP SCHEMA keyprov CASCADE")
		return err
	}
	restore := func() error {
		_, err := e.keyprov(d, dbURL, in, "apply", "-var-file", "tenants.json")
		return err
	}
	var ref *refs
	var afterInitial, afterNoop func(int) error
	if !keyprovOnly {
		ref = &refs{e: e, dbURL: dbURL, dir: d, n: n}
		defer ref.close()
		afterInitial, afterNoop = ref.afterInitial, ref.afterNoop
	}
	if initialRuns, err = measure("initial apply", dropSchema, afterInitial, "apply", "-var-file", "tenants.json"); err != nil {
		return err
	}
	// The full path of a no-op (--full: as every boot was before the
	// input record, and as a boot after any change is); each records the
	// inputs, so the fast path that follows answers from the record.
	if noopRuns, err = measure("no-op apply, full path", nil, afterNoop, "apply", "-var-file", "tenants.json", "--full"); err != nil {
		return err
	}
	fastRuns, err := measure("no-op apply, fast path", nil, nil, "apply", "-var-file", "tenants.json")
	if err != nil {
		return err
	}
	for _, r := range fastRuns {
		if r.summary["fast_path"] != true {
			return fmt.Errorf("the no-op apply did not take the fast path: %v", r.summary)
		}
	}
	replicas, err := e.replicas(d, dbURL, in, 16)
	if err != nil {
		return err
	}
	res = append(res, replicas)
	// A per-instance conditional in name: the same names, the same store.
	if _, err := measure("no-op apply, full path, conditional name", nil, nil, "apply", "-var-file", "tenants.json", "--full", "-f", "keys-cond.hcl"); err != nil {
		return err
	}
	// A per-instance template in name (a function call in it): the same
	// names, the same store.
	if _, err := measure("no-op apply, full path, template name", nil, nil, "apply", "-var-file", "tenants.json", "--full", "-f", "keys-tmpl.hcl"); err != nil {
		return err
	}
	if _, err := measure("1% changed", restore, nil, "apply", "-var-file", "changed.json"); err != nil {
		return err
	}
	if _, err := measure("plan only, full path", nil, nil, "plan", "-var-file", "tenants.json", "--full"); err != nil {
		return err
	}
	var flat scenario // -keyprov-only skips the flat spec and the references
	if !keyprovOnly {
		var flats []scenario
		for range runs {
			f, err := e.flatEval(d, in, min(n, 100_000))
			if err != nil {
				return err
			}
			flats = append(flats, f)
		}
		flat = median(flats, wallOf)
	}
	report(n, res, rss, flat, ref, initialRuns, noopRuns, fastRuns)
	return nil
}

// median returns the element of all that is the median by key (the upper
// middle of an even count): the run with the median wall time, the median
// of the psql script's times.
func median[T any, K cmp.Ordered](all []T, key func(T) K) T {
	sorted := slices.Clone(all)
	slices.SortFunc(sorted, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	return sorted[len(sorted)/2]
}

func wallOf(s scenario) time.Duration { return s.wall }

func itself(d time.Duration) time.Duration { return d }

// inputs are the generated files of one size.
type inputs struct {
	n       int
	tenants []string
	tokens  []string
}

func generate(dir string, n int) (*inputs, error) {
	in := &inputs{n: n}
	secrets := make(map[string]string, n)
	for i := 0; i < n; i++ {
		t := fmt.Sprintf("t%07d", i)
		in.tenants = append(in.tenants, t)
		// keyprov's own generator, which draws again when a body breaks a
		// token rule. Uniformly random bodies drawn here by hand broke one
		// (six sequential characters) about once in a million, so a run of
		// 100,000 keys failed about one time in ten (the spec was rightly
		// refused), and one of 1,000,000 more often than not.
		s, err := token.Generate(token.DefaultPrefix)
		if err != nil {
			return nil, err
		}
		tok := s.Reveal()
		in.tokens = append(in.tokens, tok)
		secrets[t] = tok
	}
	// tenants.json maps each tenant to its display name; changed.json is
	// the same with 1% of the names changed.
	names := make(map[string]string, n)
	for _, t := range in.tenants {
		names[t] = "Website " + t
	}
	if err := writeJSON(filepath.Join(dir, "tenants.json"), map[string]any{"tenants": names}); err != nil {
		return nil, err
	}
	if err := writeJSON(filepath.Join(dir, "secrets.json"), secrets); err != nil {
		return nil, err
	}
	for i := 0; i < n; i += 100 {
		names[in.tenants[i]] += " (renamed)"
	}
	if err := writeJSON(filepath.Join(dir, "changed.json"), map[string]any{"tenants": names}); err != nil {
		return nil, err
	}
	spec := `# Generated by the benchmark: one website key per tenant.
variable "tenants" {
  description = "tenant → display name"
  type        = map(string)
}

tenant_key "website" {
  for_each    = var.tenants
  tenant      = each.key
  name        = each.value
  token       = jsondecode(file("secrets.json"))[each.key]
  permissions = [{ name = "wb.page", rwd = "r" }, "cms.read"]
  metadata    = { team = "web" }
}
`
	if err := os.WriteFile(filepath.Join(dir, "keys.hcl"), []byte(spec), 0o644); err != nil {
		return nil, err
	}
	// The same keys with a conditional evaluated per instance in name
	// (issue 20: at most 1.3 times the plain spec's evaluation).
	cond := strings.Replace(spec, "  name        = each.value\n", "  name        = strlen(each.value) > 0 ? each.value : \"Website ${each.key}\"\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "keys-cond.hcl"), []byte(cond), 0o644); err != nil {
		return nil, err
	}
	// And with a template (the same names: "Website " + tenant).
	tmpl := strings.Replace(spec, "  name        = each.value\n", "  name        = \"${trimsuffix(each.value, each.key)}${each.key}\"\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "keys-tmpl.hcl"), []byte(tmpl), 0o644); err != nil {
		return nil, err
	}
	// The flat spec: N literal blocks, for the parser.
	var b bytes.Buffer
	for _, t := range in.tenants[:min(n, 100_000)] {
		fmt.Fprintf(&b, "\ntenant_key \"website\" {\n  tenant      = %q\n  name        = \"Website %s\"\n  token       = jsondecode(file(\"secrets.json\"))[%q]\n  permissions = [{ name = \"wb.page\", rwd = \"r\" }, \"cms.read\"]\n}\n", t, t, t)
	}
	if err := os.WriteFile(filepath.Join(dir, "flat.hcl"), b.Bytes(), 0o644); err != nil {
		return nil, err
	}
	return in, nil
}

func writeJSON(p string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o600)
}

// keyprov runs the binary and reads its summary log line.
func (e *env) keyprov(dir, dbURL string, in *inputs, args ...string) (scenario, error) {
	var s scenario
	// Text output, as at boot (beyond --max-lines the plan is summarised);
	// -o json would add the encoding of every change.
	if !slices.Contains(args, "-f") {
		args = append(args, "-f", "keys.hcl")
	}
	cmd := exec.Command(e.bin, append(args, "--log-format", "json")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KEYPROV_DATABASE_URL="+dbURL, "KEYPROV_MAX_FILE_BYTES=1073741824", "KEYPROV_MAX_SPEC_BYTES=1073741824", "KEYPROV_MAX_KEYS=2000000")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	var err error
	if s.wall, s.rssKB, err = runMeasured(cmd); err != nil {
		return s, fmt.Errorf("%v\n%s", err, tail(stderr.String(), 3000))
	}
	sc := bufio.NewScanner(&stderr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && strings.HasSuffix(fmt.Sprint(m["message"]), " finished") {
			s.summary = m
		}
	}
	if s.summary == nil {
		return s, fmt.Errorf("no summary line in the log:\n%s", tail(stderr.String(), 2000))
	}
	s.eval = s.ms("eval_ms")
	s.db = s.ms("duration_ms") - s.eval
	if f, ok := s.summary["rows_written"].(float64); ok {
		s.rows = int64(f)
	}
	return s, nil
}

// childFlag makes the benchmark a helper that runs one command and
// reports the command's wall time and peak RSS (runMeasured).
const childFlag = "-measure-child"

// runMeasured runs cmd and returns its wall time and peak RSS, from a
// helper process. Go starts a child with vfork, and when the child execs,
// Linux keeps the parent's peak RSS as the child's if it is larger: once
// the benchmark held the key rows for the references, every keyprov run
// reported at least the benchmark's own peak (290 MB for a no-op apply of
// 100,000 keys that needs 177 MB). The helper, a fresh process of a few
// MB, starts the command and reports on a pipe what the kernel counted
// for the command alone.
func runMeasured(cmd *exec.Cmd) (time.Duration, int64, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, 0, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	cmd.Args = append([]string{self, childFlag, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = self
	cmd.ExtraFiles = []*os.File{w} // the helper's fd 3
	if err := cmd.Start(); err != nil {
		w.Close()
		return 0, 0, err
	}
	w.Close()
	report, readErr := io.ReadAll(r)
	if err := cmd.Wait(); err != nil {
		return 0, 0, err
	}
	var ns, rss int64
	if _, err := fmt.Sscan(string(report), &ns, &rss); err != nil || readErr != nil {
		return 0, 0, fmt.Errorf("no figures from the helper (%q): %v", report, errors.Join(err, readErr))
	}
	return time.Duration(ns), rss, nil
}

// measureChild is the helper's side of runMeasured: it runs args with the
// helper's standard streams, directory and environment, writes the wall
// time (ns) and peak RSS (KB) to fd 3, and exits with the command's code.
func measureChild(args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var rss int64
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = ru.Maxrss
		}
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode()
	case err != nil:
		fmt.Fprintf(os.Stderr, "benchmark helper: %v\n", err)
		return 1
	}
	report := os.NewFile(3, "report")
	fmt.Fprintf(report, "%d %d\n", wall.Nanoseconds(), rss)
	report.Close()
	return 0
}

// flatEval measures the evaluation of the flat spec with `validate --secrets`.
func (e *env) flatEval(dir string, in *inputs, n int) (scenario, error) {
	s := scenario{name: fmt.Sprintf("validate flat spec (%d blocks)", n)}
	cmd := exec.Command(e.bin, "validate", "--secrets", "-f", "flat.hcl")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KEYPROV_MAX_FILE_BYTES=1073741824", "KEYPROV_MAX_SPEC_BYTES=1073741824", "KEYPROV_MAX_KEYS=2000000")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	var err error
	if s.wall, s.rssKB, err = runMeasured(cmd); err != nil {
		return s, fmt.Errorf("validating the flat spec: %v\n%s", err, tail(out.String(), 2000))
	}
	s.eval = s.wall
	return s, nil
}

// refs are the reference figures, measured on the same data, each right
// after the keyprov run it is compared with: this machine's speed drifts
// by tens of percent within a minute (BENCHMARKS.md), and a reference
// measured half a minute away from keyprov's run would carry that drift
// into the ratio. Each ratio is then the median of the runs' own ratios.
type refs struct {
	e           *env
	dbURL, dir  string
	n           int
	conn        *pgx.Conn
	rows        [][]any // the key rows, as the first initial apply stored them
	script      string  // the psql script of upserts
	psqlRuns    int
	copyRead    []time.Duration // after each no-op apply
	copyFrom    []time.Duration // after each initial apply
	psqlInitial []time.Duration // after the first psqlRuns initial applies
	psqlNoop    []time.Duration // after the first psqlRuns no-op applies
}

func (r *refs) close() {
	if r.conn != nil {
		r.conn.Close(context.Background())
	}
}

// prepare connects, and reads the rows that the first initial apply
// stored: the CopyFrom and the psql script write the same rows.
func (r *refs) prepare(ctx context.Context) error {
	if r.conn != nil {
		return nil
	}
	conn, err := pgx.Connect(ctx, r.dbURL)
	if err != nil {
		return err
	}
	r.conn = conn
	rows, err := conn.Query(ctx, "SELECT tenant, slug, universal, name, description, permissions, metadata, owner FROM keyprov.keys")
	if err != nil {
		return err
	}
	if r.rows, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) ([]any, error) { return row.Values() }); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE public.psql_keys (LIKE keyprov.keys INCLUDING ALL)"); err != nil {
		return err
	}
	r.script = filepath.Join(r.dir, "upserts.sql")
	// The script's times vary the most (it waits on the disk for every
	// statement); it runs after each keyprov run, but only after the
	// first from 1,000,000 keys, where a run takes minutes.
	r.psqlRuns = runs
	if r.n > 100_000 {
		r.psqlRuns = 1
	}
	return writeUpserts(r.script, r.rows)
}

// afterInitial measures, after initial apply i, the lower bound of a
// write: CopyFrom of the same N rows into an empty table with the same
// indexes (a new one each time); then the psql script into its emptied
// table.
func (r *refs) afterInitial(i int) error {
	ctx := context.Background()
	if err := r.prepare(ctx); err != nil {
		return err
	}
	table := fmt.Sprintf("copy_bound_%d", i)
	if _, err := r.conn.Exec(ctx, "CREATE TABLE public."+table+" (LIKE keyprov.keys INCLUDING ALL)"); err != nil {
		return err
	}
	if err := r.e.settle(); err != nil {
		return err
	}
	start := time.Now()
	if _, err := r.conn.CopyFrom(ctx, pgx.Identifier{"public", table},
		[]string{"tenant", "slug", "universal", "name", "description", "permissions", "metadata", "owner"}, pgx.CopyFromRows(r.rows)); err != nil {
		return err
	}
	r.copyFrom = append(r.copyFrom, time.Since(start))
	if i >= r.psqlRuns {
		return nil
	}
	if _, err := r.conn.Exec(ctx, "TRUNCATE public.psql_keys"); err != nil {
		return err
	}
	d, err := r.runScript()
	r.psqlInitial = append(r.psqlInitial, d)
	return err
}

// afterNoop measures, after no-op apply i, the lower bound of a read:
// COPY the keys table out; then the psql script again, into its table
// that the script already filled.
func (r *refs) afterNoop(i int) error {
	ctx := context.Background()
	if err := r.prepare(ctx); err != nil {
		return err
	}
	if err := r.e.settle(); err != nil {
		return err
	}
	start := time.Now()
	if _, err := r.conn.PgConn().CopyTo(ctx, io.Discard, "COPY keyprov.keys TO STDOUT"); err != nil {
		return err
	}
	r.copyRead = append(r.copyRead, time.Since(start))
	if i >= r.psqlRuns {
		return nil
	}
	d, err := r.runScript()
	r.psqlNoop = append(r.psqlNoop, d)
	return err
}

// runScript runs the N upserts in one transaction with psql.
func (r *refs) runScript() (time.Duration, error) {
	psql := "psql"
	if r.e.cluster != nil {
		psql = filepath.Join(r.e.cluster.Bin, "psql")
	}
	if err := r.e.settle(); err != nil {
		return 0, err
	}
	cmd := exec.Command(psql, "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-f", r.script, r.dbURL)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("psql: %v\n%s", err, tail(out.String(), 2000))
	}
	return time.Since(start), nil
}

// pairedRatio is the median over the runs of num(run)/den(run), for the
// runs that have both.
func pairedRatio(n int, num, den func(i int) time.Duration) float64 {
	var rs []float64
	for i := range n {
		rs = append(rs, ratio(num(i), den(i)))
	}
	if len(rs) == 0 {
		return 0
	}
	return median(rs, func(f float64) float64 { return f })
}

func writeUpserts(path string, rows [][]any) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	lit := func(v any) string {
		switch x := v.(type) {
		case string:
			return "'" + strings.ReplaceAll(x, "'", "''") + "'"
		case bool:
			return strconv.FormatBool(x)
		default:
			b, _ := json.Marshal(x)
			return "'" + strings.ReplaceAll(string(b), "'", "''") + "'::jsonb"
		}
	}
	for _, r := range rows {
		fmt.Fprintf(w, "INSERT INTO public.psql_keys (tenant, slug, universal, name, description, permissions, metadata, owner) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"+
			" ON CONFLICT (tenant, slug) DO UPDATE SET universal = EXCLUDED.universal, name = EXCLUDED.name, description = EXCLUDED.description,"+
			" permissions = EXCLUDED.permissions, metadata = EXCLUDED.metadata, owner = EXCLUDED.owner, updated_at = now()"+
			" WHERE (psql_keys.universal, psql_keys.name, psql_keys.description, psql_keys.permissions, psql_keys.metadata, psql_keys.owner)"+
			" IS DISTINCT FROM (EXCLUDED.universal, EXCLUDED.name, EXCLUDED.description, EXCLUDED.permissions, EXCLUDED.metadata, EXCLUDED.owner);\n",
			lit(r[0]), lit(r[1]), lit(r[2]), lit(r[3]), lit(r[4]), lit(r[5]), lit(r[6]), lit(r[7]))
	}
	return w.Flush()
}

// phases splits the database phase of each reported run by the summary
// line's fields: where its time went.
func phases(res []scenario) {
	fmt.Printf("\n| database phase of that run | migrate | lock | load | diff | write | the rest (connecting, committing, printing) |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, s := range res {
		rest := s.db - s.ms("migrate_ms") - s.ms("lock_ms") - s.ms("load_ms") - s.ms("diff_ms") - s.ms("write_ms")
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %s |\n", s.name, sec(s.ms("migrate_ms")), sec(s.ms("lock_ms")), sec(s.ms("load_ms")), sec(s.ms("diff_ms")), sec(s.ms("write_ms")), sec(rest))
	}
}

// byName returns the scenario of res named name.
func byName(res []scenario, name string) scenario {
	for _, s := range res {
		if s.name == name {
			return s
		}
	}
	return scenario{name: name}
}

func report(n int, res []scenario, rss int64, flat scenario, r *refs, initialRuns, noopRuns, fastRuns []scenario) {
	if runs == 1 {
		fmt.Printf("\nkeyprov: one run of each scenario.\n")
	} else {
		fmt.Printf("\nkeyprov: the median of %d runs of each scenario.\n", runs)
	}
	fmt.Printf("\n| scenario | spec eval | database | total wall | peak RSS | rows written |\n|---|---:|---:|---:|---:|---:|\n")
	for _, s := range res {
		fmt.Printf("| %s | %s | %s | %s | %s | %d |\n", s.name, sec(s.eval), sec(s.db), sec(s.wall), mb(s.rssKB), s.rows)
	}
	noop, fast := byName(res, "no-op apply, full path"), byName(res, "no-op apply, fast path")
	cond, changed := byName(res, "no-op apply, full path, conditional name"), byName(res, "1% changed")
	tmpl := byName(res, "no-op apply, full path, template name")
	replicas := byName(res, "16 replicas at once, fast path")
	figs.add("no-op apply, fast path", n, fast.wall)
	figs.add("no-op apply, full path", n, noop.wall)
	if r == nil { // -keyprov-only
		phases(res)
		fmt.Println()
		return
	}
	fmt.Printf("| %s | %s | – | %s | %s | – |\n", flat.name, sec(flat.eval), sec(flat.wall), mb(flat.rssKB))
	phases(res)
	fmt.Printf("\n| reference (same data; median of its runs, each right after a keyprov run) | time |\n|---|---:|\n")
	fmt.Printf("| COPY keys TO STDOUT (read lower bound; after each no-op apply) | %s |\n", sec(median(r.copyRead, itself)))
	fmt.Printf("| CopyFrom of %d rows into an empty table with the same indexes (write lower bound; after each initial apply) | %s |\n", n, sec(median(r.copyFrom, itself)))
	fmt.Printf("| psql script of %d upserts, one transaction, empty table (after each initial apply) | %s |\n", n, sec(median(r.psqlInitial, itself)))
	fmt.Printf("| the same psql script again, no-op (after each no-op apply) | %s |\n", sec(median(r.psqlNoop, itself)))
	figs.add("psql upsert script, no-op", n, median(r.psqlNoop, itself))
	figs.add("psql upsert script, empty table", n, median(r.psqlInitial, itself))
	figs.add("COPY keys TO STDOUT (read bound)", n, median(r.copyRead, itself))
	figs.add("CopyFrom N rows (write bound)", n, median(r.copyFrom, itself))
	fmt.Printf("\n| ratio (against references: the median of the runs' own ratios) | value | target |\n|---|---:|---|\n")
	fmt.Printf("| no-op apply, fast path: total wall | %s | ≤ 0.15 s at 100,000 keys, ≤ 0.6 s at 1,000,000 |\n", sec(fast.wall))
	fmt.Printf("| psql no-op / keyprov fast no-op (wall) | %.0f× faster | ≥ 100× at 100,000 keys |\n",
		pairedRatio(min(len(r.psqlNoop), len(fastRuns)), func(i int) time.Duration { return r.psqlNoop[i] }, func(i int) time.Duration { return fastRuns[i].wall }))
	fmt.Printf("| 16 replicas at once on an unchanged store: the slowest, all on the fast path | %s | no lock taken |\n", sec(replicas.wall))
	fmt.Printf("| no-op apply, full path: total wall | %s | ≤ 1.5 s at 100,000 keys, ≤ 4 s at 1,000,000 |\n", sec(noop.wall))
	fmt.Printf("| no-op database phase / COPY read (full path) | %.2f× | ≤ 2× |\n",
		pairedRatio(len(r.copyRead), func(i int) time.Duration { return noopRuns[i].db }, func(i int) time.Duration { return r.copyRead[i] }))
	fmt.Printf("| psql no-op / keyprov full no-op (wall) | %.1f× faster | ≥ 25× |\n",
		pairedRatio(len(r.psqlNoop), func(i int) time.Duration { return r.psqlNoop[i] }, func(i int) time.Duration { return noopRuns[i].wall }))
	fmt.Printf("| no-op rows written (full path / fast path) | %d / %d | 0 |\n", noop.rows, fast.rows)
	fmt.Printf("| initial apply database phase / CopyFrom | %.2f× | ≤ 3× |\n",
		pairedRatio(len(r.copyFrom), func(i int) time.Duration { return initialRuns[i].db }, func(i int) time.Duration { return r.copyFrom[i] }))
	fmt.Printf("| psql initial / keyprov initial (wall) | %.1f× faster | ≥ 10× |\n",
		pairedRatio(len(r.psqlInitial), func(i int) time.Duration { return r.psqlInitial[i] }, func(i int) time.Duration { return initialRuns[i].wall }))
	fmt.Printf("| 1%% changed / full no-op (wall) | %.2f× | ≤ 1.5× |\n", ratio(changed.wall, noop.wall))
	fmt.Printf("| 1%% changed rows written | %d (%d keys changed: key row + event each) | = changed keys + events |\n", changed.rows, (n+99)/100)
	fmt.Printf("| spec evaluation (for_each) | %s | ≤ 0.7 s at 100,000 keys |\n", sec(noop.eval))
	fmt.Printf("| spec evaluation, conditional name / plain | %.2f× (%s) | ≤ 1.3× |\n", ratio(cond.eval, noop.eval), sec(cond.eval))
	fmt.Printf("| spec evaluation, template name / plain | %.2f× (%s) | ≤ 1.3× |\n", ratio(tmpl.eval, noop.eval), sec(tmpl.eval))
	fmt.Printf("| peak RSS (max of all runs) | %s | ≤ 400 MB at 100,000 keys, ≤ 1 GB at 1,000,000 |\n\n", mb(rss))
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func sec(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }

func mb(kb int64) string { return fmt.Sprintf("%.0f MB", float64(kb)/1024) }

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// replicas starts k no-op applies at once on an unchanged store, as k
// replicas booting together, runs times, and reports the median of the
// times until the last one finished. Every one must have answered from
// the input record (the fast path: no lock, no evaluation).
func (e *env) replicas(dir, dbURL string, in *inputs, k int) (scenario, error) {
	name := fmt.Sprintf("%d replicas at once, fast path", k)
	var all []scenario
	for range runs {
		if err := e.settle(); err != nil {
			return scenario{}, err
		}
		type result struct {
			s   scenario
			err error
		}
		done := make(chan result, k)
		start := time.Now()
		for range k {
			go func() {
				s, err := e.keyprov(dir, dbURL, in, "apply", "-var-file", "tenants.json")
				done <- result{s, err}
			}()
		}
		group := scenario{name: name}
		for range k {
			r := <-done
			if r.err != nil {
				return scenario{}, fmt.Errorf("%s: %w", name, r.err)
			}
			if r.s.summary["fast_path"] != true {
				return scenario{}, fmt.Errorf("%s: a replica did not take the fast path: %v", name, r.s.summary)
			}
			group.rssKB = max(group.rssKB, r.s.rssKB)
			group.db = max(group.db, r.s.db)
			group.summary = r.s.summary
		}
		group.wall = time.Since(start)
		all = append(all, group)
	}
	return median(all, wallOf), nil
}
