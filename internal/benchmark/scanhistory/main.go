// Command scanhistory measures `keyprov scan --history` on a generated
// repository of 10,000 commits (-commits). `make bench` runs it; see
// BENCHMARKS.md. It reports, it never fails on a time.
//
// The repository is written by one `git fast-import`: a first commit of
// -files text files (about 4 KB each, in 50 directories), then commits that
// each change a line in -touch files and add one, with a topic branch of
// three commits merged every 100 commits, and -tokens tokens each added to a
// file and removed 100 commits later; then repacked as a clone would be. The
// scan must find each token once: it fails otherwise, never on a time.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

const childFlag = "-measure-child"

func main() {
	if len(os.Args) > 2 && os.Args[1] == childFlag {
		os.Exit(measureChild(os.Args[2:]))
	}
	var g generator
	flag.IntVar(&g.commits, "commits", 10_000, "commits in the generated repository")
	flag.IntVar(&g.files, "files", 2_000, "files in the first commit")
	flag.IntVar(&g.touch, "touch", 3, "files changed by each commit")
	flag.IntVar(&g.tokens, "tokens", 10, "tokens added, then removed 100 commits later")
	flag.BoolVar(&g.repack, "repack", true, "repack the repository as a clone would be (-repack=false: as fast-import wrote it)")
	runs := flag.Int("runs", 3, "runs of the scan; the median is reported")
	keep := flag.String("dir", "", "keep the repository and the binary in this directory")
	flag.Parse()
	if g.commits < 2 || g.files < 1 || g.touch < 1 || *runs < 1 || g.tokens < 0 {
		fatalf("bad flags")
	}
	if err := run(&g, *runs, *keep); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "scanhistory: "+format+"\n", args...)
	os.Exit(1)
}

func run(g *generator, runs int, keep string) error {
	dir := keep
	if dir == "" {
		d, err := os.MkdirTemp("", "keyprov-scanhistory-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	bin := filepath.Join(dir, "keyprov")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/keyprov").CombinedOutput(); err != nil {
		return fmt.Errorf("building keyprov: %v\n%s", err, out)
	}
	repo := filepath.Join(dir, "repo")
	_ = os.RemoveAll(repo)
	start := time.Now()
	if err := g.write(repo); err != nil {
		return err
	}
	gen := time.Since(start)
	var objects struct {
		Count    int64 `json:"count"`
		InPacks  int64 `json:"in-pack"`
		SizePack int64 `json:"size-pack"`
	}
	if out, err := gitIn(repo, "count-objects", "-v").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			var k string
			var v int64
			if n, _ := fmt.Sscanf(l, "%s %d", &k, &v); n == 2 {
				switch k {
				case "in-pack:":
					objects.InPacks = v
				case "size-pack:":
					objects.SizePack = v
				}
			}
		}
	}
	fmt.Printf("keyprov scan --history: a generated repository of %d commits (%d files, %d changed a commit, a topic branch merged every 100 commits),\n",
		g.commits, g.files, g.touch)
	how := "written by git fast-import"
	if g.repack {
		how += " and repacked (git repack -adf, commit-graph)"
	}
	fmt.Printf("%d blobs, %.0f MB of text; %d objects in a pack of %.0f MB, %s in %.1f s.\n",
		g.blobs, float64(g.bytes)/1e6, objects.InPacks, float64(objects.SizePack)/1024, how, gen.Seconds())

	type result struct {
		wall   time.Duration
		cpu    time.Duration
		rssKB  int64
		report scanReport
	}
	var results []result
	for range runs {
		syscall.Sync()
		cmd := exec.Command(os.Args[0], childFlag, bin, "scan", "--history", "-o", "json")
		cmd.Dir = repo
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("measuring: %v", err)
		}
		var m measurement
		if err := json.Unmarshal(out, &m); err != nil {
			return fmt.Errorf("measuring: %v", err)
		}
		if m.Exit != 1 {
			return fmt.Errorf("keyprov scan --history exited %d, want 1 (tokens planted)\n%s", m.Exit, m.Stderr)
		}
		var rep scanReport
		if err := json.Unmarshal([]byte(m.Stdout), &rep); err != nil {
			return fmt.Errorf("reading the scan's JSON: %v", err)
		}
		results = append(results, result{m.Wall, m.CPU, m.MaxRSSKB, rep})
	}
	slices.SortFunc(results, func(a, b result) int { return int(a.wall - b.wall) })
	med := results[len(results)/2]
	if len(med.report.Findings) != g.tokens {
		return fmt.Errorf("the scan found %d tokens, %d were planted", len(med.report.Findings), g.tokens)
	}
	walls := make([]string, len(results))
	for i, r := range results {
		walls[i] = fmt.Sprintf("%.2f", r.wall.Seconds())
	}
	fmt.Printf("scan --history (median of %d runs: %s s): %.2f s wall, %.2f s CPU (keyprov and git), peak RSS %.0f MB;\n",
		runs, strings.Join(walls, ", "), med.wall.Seconds(), med.cpu.Seconds(), float64(med.rssKB)/1024)
	fmt.Printf("  %d commits, %d file versions read once each (%.0f MB/s of text), %d of %d planted tokens found once each.\n",
		med.report.Commits, med.report.Files, float64(g.bytes)/1e6/med.wall.Seconds(), len(med.report.Findings), g.tokens)
	return nil
}

type scanReport struct {
	Commits  int               `json:"commits_scanned"`
	Files    int               `json:"files_scanned"`
	Findings []json.RawMessage `json:"findings"`
}

func gitIn(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	return cmd
}

// measurement is what the helper process reports of one run.
type measurement struct {
	Exit     int           `json:"exit"`
	Wall     time.Duration `json:"wall"`
	CPU      time.Duration `json:"cpu"`
	MaxRSSKB int64         `json:"max_rss_kb"`
	Stdout   string        `json:"stdout"`
	Stderr   string        `json:"stderr"`
}

// measureChild runs a program and prints its measurement as JSON. It runs
// in a small helper process: Linux counts the starting process's own peak
// RSS in a child that Go starts with vfork, so the generator (which holds
// the repository's files) must not start keyprov itself. The rusage of a
// waited-for process includes its own waited-for children: git's work.
func measureChild(args []string) int {
	var stdout, stderr strings.Builder
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	m := measurement{Wall: time.Since(start), Stdout: stdout.String(), Stderr: stderr.String()}
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	m.Exit = cmd.ProcessState.ExitCode()
	m.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.MaxRSSKB = ru.Maxrss
	}
	if err := json.NewEncoder(os.Stdout).Encode(m); err != nil {
		return 1
	}
	return 0
}

// generator writes the repository.
type generator struct {
	commits, files, touch, tokens int
	repack                        bool

	rng      *rand.Rand
	content  [][]string // lines of each file
	paths    []string
	blobs    int
	bytes    int64
	time     int64
	mark     int
	w        *bufio.Writer
	branches int
}

func (g *generator) write(dir string) error {
	if out, err := gitIn(".", "init", "-q", "-b", "main", dir).CombinedOutput(); err != nil {
		return fmt.Errorf("git init: %v\n%s", err, out)
	}
	cmd := gitIn(dir, "-c", "core.compression=1", "fast-import", "--quiet")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	g.w = bufio.NewWriterSize(stdin, 1<<20)
	werr := g.stream()
	if err := g.w.Flush(); werr == nil {
		werr = err
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("git fast-import: %v\n%s", err, stderr.String())
	}
	if werr != nil {
		return werr
	}
	// Packed as a clone or git gc leaves it: deltas against earlier
	// versions of each file, and a commit-graph.
	if g.repack {
		for _, args := range [][]string{{"repack", "-adfq"}, {"commit-graph", "write", "--reachable"}} {
			if out, err := gitIn(dir, args...).CombinedOutput(); err != nil {
				return fmt.Errorf("git %s: %v\n%s", args[0], err, out)
			}
		}
	}
	if out, err := gitIn(dir, "checkout", "-q", "main").CombinedOutput(); err != nil {
		return fmt.Errorf("git checkout: %v\n%s", err, out)
	}
	return nil
}

var words = strings.Fields("alpha beta gamma delta tenant key scope read write token config value service cache region timeout retry limit owner name")

func (g *generator) line() string {
	n := 4 + g.rng.IntN(8)
	ws := make([]string, n)
	for i := range ws {
		ws[i] = words[g.rng.IntN(len(words))]
	}
	return fmt.Sprintf("%s = %d # %s", ws[0], g.rng.IntN(100000), strings.Join(ws[1:], " "))
}

func (g *generator) token() string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte("wat_")
	for range 36 {
		b = append(b, chars[g.rng.IntN(len(chars))])
	}
	return string(b)
}

// stream writes the fast-import stream: commits on main, with a topic
// branch of three commits merged every 100 commits.
func (g *generator) stream() error {
	g.rng = rand.New(rand.NewPCG(1, 2))
	g.time = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	g.content = make([][]string, g.files)
	g.paths = make([]string, g.files)
	all := make([]int, g.files)
	for i := range g.files {
		g.paths[i] = fmt.Sprintf("pkg%02d/file%04d.conf", i%50, i)
		lines := make([]string, 60+g.rng.IntN(40))
		for j := range lines {
			lines[j] = g.line()
		}
		g.content[i] = lines
		all[i] = i
	}
	g.commit("refs/heads/main", "initial", 0, all)

	// Token i is added at the commit after plantAt[i] and removed 100
	// commits later.
	type planted struct {
		due  int
		file int
		line string
	}
	var plantAt []int
	for i := range g.tokens {
		plantAt = append(plantAt, (i+1)*g.commits/(g.tokens+2))
	}
	var toRemove []planted
	mainTip := 1
	for n := 1; n < g.commits; {
		if n%100 == 99 && n+4 <= g.commits {
			// A topic branch of three commits, then its merge.
			g.branches++
			ref := fmt.Sprintf("refs/heads/topic%d", g.branches)
			from := mainTip
			var changed []int
			for range 3 {
				files := g.pick()
				changed = append(changed, files...)
				from = g.commit(ref, "topic work", from, files)
				n++
			}
			mainTip = g.merge("refs/heads/main", mainTip, from, changed)
			n++
			// The branch is merged: delete it, as after a pull request.
			fmt.Fprintf(g.w, "reset %s\nfrom 0000000000000000000000000000000000000000\n\n", ref)
			continue
		}
		files := g.pick()
		if len(plantAt) > 0 && n >= plantAt[0] {
			plantAt = plantAt[1:]
			f := files[0]
			l := "API_KEY = " + g.token()
			g.content[f] = append(g.content[f], l)
			toRemove = append(toRemove, planted{n + 100, f, l})
		}
		for len(toRemove) > 0 && n >= toRemove[0].due {
			p := toRemove[0]
			toRemove = toRemove[1:]
			g.content[p.file] = slices.DeleteFunc(g.content[p.file], func(s string) bool { return s == p.line })
			files = append(files, p.file)
		}
		mainTip = g.commit("refs/heads/main", "change", mainTip, files)
		n++
	}
	return nil
}

// pick changes a line in g.touch files and appends one to each.
func (g *generator) pick() []int {
	files := make([]int, g.touch)
	for i := range files {
		f := g.rng.IntN(g.files)
		files[i] = f
		lines := g.content[f]
		lines[g.rng.IntN(len(lines))] = g.line()
		g.content[f] = append(lines, g.line())
	}
	return files
}

// commit writes a commit on ref with the current content of files and
// returns its mark.
func (g *generator) commit(ref, msg string, from int, files []int) int {
	g.mark++
	g.time += 600
	fmt.Fprintf(g.w, "commit %s\nmark :%d\ncommitter Dev <dev@example.com> %d +0000\ndata %d\n%s\n", ref, g.mark, g.time, len(msg), msg)
	if from > 0 {
		fmt.Fprintf(g.w, "from :%d\n", from)
	}
	seen := map[int]bool{}
	for _, f := range files {
		if seen[f] {
			continue
		}
		seen[f] = true
		body := strings.Join(g.content[f], "\n") + "\n"
		fmt.Fprintf(g.w, "M 100644 inline %s\ndata %d\n%s\n", g.paths[f], len(body), body)
		g.blobs++
		g.bytes += int64(len(body))
	}
	g.w.WriteString("\n")
	return g.mark
}

// merge writes a merge of topic into ref. Nothing changed on ref since the
// topic branched, so the merge's tree is the topic's: the first parent's
// with the files the topic changed (blobs fast-import already has).
func (g *generator) merge(ref string, from, topic int, files []int) int {
	g.mark++
	g.time += 600
	msg := "merge topic"
	fmt.Fprintf(g.w, "commit %s\nmark :%d\ncommitter Dev <dev@example.com> %d +0000\ndata %d\n%s\nfrom :%d\nmerge :%d\n", ref, g.mark, g.time, len(msg), msg, from, topic)
	seen := map[int]bool{}
	for _, f := range files {
		if !seen[f] {
			seen[f] = true
			body := strings.Join(g.content[f], "\n") + "\n"
			fmt.Fprintf(g.w, "M 100644 inline %s\ndata %d\n%s\n", g.paths[f], len(body), body)
		}
	}
	g.w.WriteString("\n")
	return g.mark
}
