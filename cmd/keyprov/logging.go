package main

import (
	"io"
	"time"

	"github.com/rs/zerolog"
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
