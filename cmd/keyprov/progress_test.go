package main

import (
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"

	"github.com/keyprov/keyprov/internal/testutil"
)

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 500 && !cond(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProgressLogsLongPhasesWhenNotATerminal(t *testing.T) {
	var logs testutil.SyncBuffer
	p := newProgress(&testutil.SyncBuffer{}, false, zerolog.New(&logs))
	p.delay, p.interval = time.Millisecond, time.Millisecond
	p.Start("waiting for the database", func() string { return "3 attempts" })
	waitFor(t, func() bool { return strings.Contains(logs.String(), "still waiting for the database") })
	p.End()
	assert.Contains(t, logs.String(), `"phase":"waiting for the database"`)
	assert.Contains(t, logs.String(), `"progress":"3 attempts"`)
}

func TestProgressRedrawsAStatusLineOnATerminal(t *testing.T) {
	var out testutil.SyncBuffer
	p := newProgress(&out, true, zerolog.Nop())
	p.delay, p.interval = time.Millisecond, time.Millisecond
	p.Start("applying", func() string { return "100000 keys" })
	waitFor(t, func() bool { return strings.Contains(out.String(), "applying…") })
	p.End()
	assert.Contains(t, out.String(), "(100000 keys)")
	assert.True(t, strings.HasSuffix(out.String(), "\r\x1b[2K"), "the status line is cleared at the end")
}

func TestProgressShowsNothingForShortPhases(t *testing.T) {
	var out, logs testutil.SyncBuffer
	for _, tty := range []bool{true, false} {
		p := newProgress(&out, tty, zerolog.New(&logs))
		p.Start("evaluating the spec", nil)
		p.End()
		p.Start("applying", nil)
		p.End()
	}
	assert.Empty(t, out.String())
	assert.Empty(t, logs.String())
}
