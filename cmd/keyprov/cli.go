package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"
)

// Exit codes shared by every command.
const (
	exitOK       = 0 // success
	exitInvalid  = 1 // invalid input: spec, flags, configuration, tokens
	exitChanges  = 2 // changes pending (plan and diff with --detailed-exitcode)
	exitStore    = 3 // store unavailable or failed: a retry can help
	exitRefused  = 4 // refused for safety
	exitRejected = 5 // store misconfigured: the server rejected keyprov, a retry cannot help
)

type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// app is what every command gets: its streams, environment, configuration and logger.
type app struct {
	stdio
	environ map[string]string
	cfg     Config
	log     zerolog.Logger
	// jsonLog: stderr carries JSON events only (--log-format json), so
	// what is said to people there is said in events (logging.go).
	jsonLog bool
	// now is the clock of checks that need no database (validate's
	// expiry warnings); tests fix it.
	now func() time.Time
}

type command struct {
	name    string
	args    string // positional arguments, for the usage line
	summary string
	help    string
	run     func(ctx context.Context, a *app, c *command, args []string) int
}

func commands() []*command {
	return []*command{
		validateCmd,
		fmtCmd,
		diffCmd,
		scanCmd,
		planCmd,
		applyCmd,
		showCmd,
		revokeCmd,
		disableCmd,
		enableCmd,
		historyCmd,
		verifyCmd,
		listCmd,
		tokenCmd,
		versionCmd,
	}
}

func run(ctx context.Context, args []string, io stdio, environ []string) int {
	return runAt(ctx, args, io, environ, time.Now)
}

// runAt is run with a clock.
func runAt(ctx context.Context, args []string, io stdio, environ []string, now func() time.Time) int {
	a := &app{stdio: io, environ: splitEnviron(environ), now: now}
	a.setLogger(earlyLogSettings(a.environ, args))
	if len(args) == 0 {
		if a.jsonLog {
			a.errorf("keyprov: no command: run keyprov --help for the commands")
		} else {
			a.usage(a.err)
		}
		return exitInvalid
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && name == "help" {
			return runAt(ctx, []string{args[1], "--help"}, io, environ, now)
		}
		a.usage(a.out)
		return exitOK
	case "-v", "-version", "--version":
		name = "version"
	}
	for _, c := range commands() {
		if c.name == name {
			cfg, err := loadConfig(a.environ)
			if err != nil {
				a.errorf("keyprov: %v", err)
				return exitInvalid
			}
			a.cfg = cfg
			if cfg.CPUProfile != "" {
				defer a.startCPUProfile()()
			}
			if cfg.HeapProfile != "" {
				defer a.writeHeapProfile()
			}
			return c.run(ctx, a, c, args[1:])
		}
	}
	a.errorf("keyprov: unknown command %s", quoteArg(name))
	if !a.jsonLog {
		fmt.Fprintln(a.err)
		a.usage(a.err)
	}
	return exitInvalid
}

func (a *app) usage(w io.Writer) {
	fmt.Fprint(w, `keyprov provisions API keys from a reviewed spec (keys.hcl) into PostgreSQL.

Usage: keyprov <command> [flags] [args]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "keyprov <command> --help" for a command's flags.

Exit codes:
  0  success
  1  invalid input: spec, flags, configuration, tokens, a malformed database URL
  2  changes pending (plan, diff with --detailed-exitcode)
  3  store unavailable or failed, a retry can help: unreachable, starting up,
     too many connections, lock timeout, connection lost, interrupted
  4  refused for safety: nothing was written
  5  store misconfigured, a retry cannot help: the server rejected keyprov
     (authentication failed, no such role or database, no CONNECT privilege,
     no permission to create the schema, TLS required but not offered)
`)
}

// options are a command's flags and arguments, in a typed struct that the
// flags are bound to; check validates their combinations.
type options interface {
	check() error
}

// parseOptions parses args with fs, whose flags are bound to o's fields,
// stores the positional arguments in *pos, sets the logger up (lf, when
// the command has log flags) and checks o. It returns ok=false with the
// exit code when the command stops: after --help (0), or on a usage
// error (1), reported as "keyprov COMMAND: …".
func (a *app) parseOptions(c *command, fs *flagSet, args []string, pos *[]string, o options, lf *logFlags) (code int, ok bool) {
	*pos, code, ok = fs.parse(a, args)
	if !ok {
		return code, false
	}
	if lf != nil {
		lf.setup(a)
	}
	if err := o.check(); err != nil {
		a.errorf("keyprov %s: %v", c.name, err)
		return exitInvalid, false
	}
	return 0, true
}

// flagSet wraps flag.FlagSet: both -name and --name work, flags may come
// before or after positional arguments, and -h/--help prints the command's help.
type flagSet struct {
	*flag.FlagSet
	cmd     *command
	aliases map[string]string // short name -> long name
}

func newFlagSet(c *command) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(c.name, flag.ContinueOnError), cmd: c, aliases: map[string]string{}}
	fs.SetOutput(io.Discard)
	return fs
}

// alias registers short as another spelling of the already defined long flag.
func (fs *flagSet) alias(short, long string) {
	f := fs.Lookup(long)
	fs.Var(f.Value, short, f.Usage)
	fs.aliases[short] = long
}

// parse parses args, collecting positional arguments wherever they appear.
// It returns ok=false with the exit code when the command should stop.
func (fs *flagSet) parse(a *app, args []string) (pos []string, code int, ok bool) {
	for {
		if len(args) > 0 && args[0] == "--" {
			return append(pos, args[1:]...), 0, true
		}
		err := fs.FlagSet.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fs.printHelp(a.out)
			return nil, exitOK, false
		}
		if err != nil {
			// The flag package quotes the bad flag or value: when it is a
			// token given by mistake, say less.
			if slices.ContainsFunc(args, func(s string) bool { return looksLikeToken(s) }) {
				err = errors.New("invalid flags " + notRepeated)
			}
			a.errorf("keyprov %s: %v\nRun \"keyprov %s --help\" for usage.", fs.cmd.name, err, fs.cmd.name)
			return nil, exitInvalid, false
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), 0, true
		}
		if len(rest) == 0 {
			return pos, 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func (fs *flagSet) printHelp(w io.Writer) {
	c := fs.cmd
	fmt.Fprintf(w, "Usage: keyprov %s [flags]", c.name)
	if c.args != "" {
		fmt.Fprintf(w, " %s", c.args)
	}
	fmt.Fprintf(w, "\n\n%s\n", strings.TrimSpace(c.help))
	short := map[string]string{}
	for s, l := range fs.aliases {
		short[l] = s
	}
	type entry struct{ key, line string }
	var lines []entry
	fs.VisitAll(func(f *flag.Flag) {
		if _, isAlias := fs.aliases[f.Name]; isAlias {
			return
		}
		name := "--" + f.Name
		if s, ok := short[f.Name]; ok {
			name = "-" + s + ", " + name
		}
		typ, usage := flag.UnquoteUsage(f)
		if typ != "" {
			name += " " + typ
		}
		line := fmt.Sprintf("  %s\n      %s", name, usage)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0" {
			line += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		lines = append(lines, entry{f.Name, line})
	})
	sort.Slice(lines, func(i, j int) bool { return lines[i].key < lines[j].key })
	if len(lines) > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		for _, l := range lines {
			fmt.Fprintln(w, l.line)
		}
	}
}

// stringList is a repeatable flag. The first use replaces the default (for
// example KEYPROV_FILE); later uses append.
type stringList struct {
	vals []string
	set  bool
}

func (s *stringList) String() string { return strings.Join(s.vals, ",") }

func (s *stringList) Set(v string) error {
	if !s.set {
		s.vals, s.set = nil, true
	}
	s.vals = append(s.vals, v)
	return nil
}

// oneOf is a flag restricted to a set of values.
type oneOf struct {
	val     string
	allowed []string
}

func (o *oneOf) String() string { return o.val }

func (o *oneOf) Set(v string) error {
	for _, a := range o.allowed {
		if v == a {
			o.val = v
			return nil
		}
	}
	return fmt.Errorf("must be one of %s", strings.Join(o.allowed, ", "))
}

// addOutputFlag adds -o/--output, restricted to formats (the first is the
// default); usage describes them.
func addOutputFlag(fs *flagSet, usage string, formats ...string) *oneOf {
	out := &oneOf{formats[0], formats}
	fs.Var(out, "output", "output `format`: "+usage)
	fs.alias("o", "output")
	return out
}

// logFlags adds --log-level and --log-format; setup builds the logger.
type logFlags struct {
	level  oneOf
	format oneOf
}

func addLogFlags(fs *flagSet, cfg Config) *logFlags {
	l := &logFlags{
		level:  oneOf{cfg.LogLevel, logLevels},
		format: oneOf{cfg.LogFormat, logFormats},
	}
	fs.Var(&l.level, "log-level", "log `level`: trace, debug, info, warn, error or disabled (KEYPROV_LOG_LEVEL)")
	fs.Var(&l.format, "log-format", "log `format` on stderr: auto (console on a terminal, JSON otherwise), json or console (KEYPROV_LOG_FORMAT)")
	return l
}

func (l *logFlags) setup(a *app) {
	a.setLogger(l.level.val, l.format.val)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
