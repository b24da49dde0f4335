package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/rs/zerolog"

	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/view"
)

// newLogger builds the one logger of a run: JSON lines when stderr is not a
// terminal (boot logs go to a collector), the console writer when it is.
func newLogger(w io.Writer, level, format string, tty, noColor bool) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		lvl = zerolog.InfoLevel
	}
	if level == "disabled" {
		lvl = zerolog.Disabled
	}
	if format == "console" || (format == "auto" && tty) {
		w = zerolog.ConsoleWriter{Out: w, NoColor: noColor || !tty, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// setLogger builds a's logger. With the json format, stderr carries
// nothing but JSON events, one per line, for a log collector: what keyprov
// says to people there (errors, spec diagnostics, warnings) becomes events
// too (errorf, warnf, printDiagnostics). The auto and console formats keep
// those as text.
func (a *app) setLogger(level, format string) {
	_, noColor := a.environ["NO_COLOR"]
	a.log = newLogger(a.err, level, format, isTerminal(a.err), noColor)
	a.jsonLog = format == "json"
}

// earlyLogSettings are the log level and format of a run before its flags
// are parsed (a flag error is reported in the format asked for):
// KEYPROV_LOG_LEVEL and KEYPROV_LOG_FORMAT, then --log-level and
// --log-format among args. Values that are not valid are left for the
// flags to refuse.
func earlyLogSettings(environ map[string]string, args []string) (level, format string) {
	level, format = "info", "auto"
	if v, ok := environ["KEYPROV_LOG_LEVEL"]; ok && v != "" {
		level = v
	}
	if v, ok := environ["KEYPROV_LOG_FORMAT"]; ok && v != "" {
		format = v
	}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			break
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if !strings.HasPrefix(arg, "-") || (name != "log-level" && name != "log-format") {
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				break
			}
			i++
			val = args[i]
		}
		switch {
		case name == "log-level" && slices.Contains(logLevels, val):
			level = val
		case name == "log-format" && slices.Contains(logFormats, val):
			format = val
		}
	}
	return level, format
}

// errorf tells people on stderr that something failed: a line of text
// ("keyprov apply: …"), or with --log-format json an error event whose
// message is that text without the "keyprov apply: " prefix.
func (a *app) errorf(format string, args ...any) {
	a.say(zerolog.ErrorLevel, fmt.Sprintf(format, args...))
}

// warnf is errorf for a warning.
func (a *app) warnf(format string, args ...any) {
	a.say(zerolog.WarnLevel, fmt.Sprintf(format, args...))
}

// humanf writes a line for people on stderr, unless stderr carries JSON
// events only: then an event logged next to it says the same.
func (a *app) humanf(format string, args ...any) {
	if !a.jsonLog {
		fmt.Fprintf(a.err, format+"\n", args...)
	}
}

// humanPrompt writes text as it is (a prompt) on stderr, unless stderr
// carries JSON events only.
func (a *app) humanPrompt(text string) {
	if !a.jsonLog {
		fmt.Fprint(a.err, text)
	}
}

func (a *app) say(level zerolog.Level, text string) {
	if !a.jsonLog {
		fmt.Fprintln(a.err, text)
		return
	}
	a.log.WithLevel(level).Msg(withoutPrefix(text))
}

// withoutPrefix drops the "keyprov: " or "keyprov COMMAND: " that starts
// keyprov's messages for people: an event says which program it is from.
func withoutPrefix(text string) string {
	rest, ok := strings.CutPrefix(text, "keyprov")
	if !ok {
		return text
	}
	i := strings.Index(rest, ": ")
	if i < 0 || strings.TrimLeft(rest[:i], "abcdefghijklmnopqrstuvwxyz -") != "" {
		return text
	}
	return rest[i+2:]
}

// printDiagnostics writes spec diagnostics to stderr: for people, with the
// source line underlined; with --log-format json, one event each with the
// diagnostic's fields (severity, summary, detail, file, line, column, the
// key's address), at level error or warn.
func (a *app) printDiagnostics(ls loadedSpec) {
	a.writeDiagnostics(ls.diags, ls.sources, isTerminal(a.err) && !a.cfg.NoColor)
}

func (a *app) writeDiagnostics(diags hcl.Diagnostics, sources map[string][]byte, color bool) {
	if !a.jsonLog {
		view.WriteDiagnosticsText(a.err, diags, sources, color)
		return
	}
	// The same redaction as the text's: a spec path may be a symbolic link
	// to a secrets file, and sources may set token prefixes.
	prefixes := view.SourcePrefixes(sources)
	redact := func(s string) string { return view.RedactSource(s, prefixes...) }
	for _, d := range diags {
		vd := view.NewDiagnostic(d)
		vd.Summary, vd.Detail, vd.Address = redact(d.Summary), redact(d.Detail), redact(spec.DiagnosticAddress(d))
		if vd.File != "" {
			vd.File = redact(vd.File)
		}
		ev := a.log.Error()
		if vd.Severity == "warning" {
			ev = a.log.Warn()
		}
		ev = ev.Str("severity", vd.Severity).Str("summary", vd.Summary)
		if vd.Detail != "" {
			ev = ev.Str("detail", vd.Detail)
		}
		if vd.File != "" {
			ev = ev.Str("file", vd.File).Int("line", vd.Line).Int("column", vd.Column).
				Int("end_line", vd.EndLine).Int("end_column", vd.EndColumn)
		}
		if vd.Address != "" {
			ev = ev.Str("key", vd.Address)
		}
		ev.Msg(vd.Summary)
	}
}
