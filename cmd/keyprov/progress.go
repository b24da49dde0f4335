package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// progress reports a long phase (waiting for the database, evaluating,
// applying). Nothing is shown for phases shorter than a second. On a
// terminal a status line is redrawn in place; otherwise a log line is
// written every few seconds, so that boot logs show where time goes.
type progress struct {
	w        io.Writer
	tty      bool
	log      zerolog.Logger
	delay    time.Duration
	interval time.Duration

	mu     sync.Mutex
	phase  string
	count  func() string
	start  time.Time
	shown  bool
	stop   chan struct{}
	done   chan struct{}
	active bool
}

func newProgress(w io.Writer, tty bool, log zerolog.Logger) *progress {
	p := &progress{w: w, tty: tty, log: log, delay: time.Second, interval: 5 * time.Second}
	if tty {
		p.interval = 200 * time.Millisecond
	}
	return p
}

// Start begins a phase; count, when not nil, describes how far it got
// ("12,000 of 100,000 keys"). It ends the previous phase.
func (p *progress) Start(phase string, count func() string) {
	if p == nil {
		return
	}
	p.End()
	p.mu.Lock()
	p.phase, p.count, p.start, p.shown = phase, count, time.Now(), false
	p.stop, p.done, p.active = make(chan struct{}), make(chan struct{}), true
	stop, done := p.stop, p.done
	p.mu.Unlock()
	go func() {
		defer close(done)
		select {
		case <-stop:
			return
		case <-time.After(p.delay):
		}
		t := time.NewTicker(p.interval)
		defer t.Stop()
		for {
			p.report()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
}

func (p *progress) report() {
	p.mu.Lock()
	defer p.mu.Unlock()
	elapsed := time.Since(p.start).Round(100 * time.Millisecond)
	detail := ""
	if p.count != nil {
		detail = p.count()
	}
	if p.tty {
		line := fmt.Sprintf("%s… %s", p.phase, elapsed)
		if detail != "" {
			line += " (" + detail + ")"
		}
		fmt.Fprintf(p.w, "\r\x1b[2K%s", line)
		p.shown = true
		return
	}
	ev := p.log.Info().Str("phase", p.phase).Dur("elapsed_ms", elapsed)
	if detail != "" {
		ev = ev.Str("progress", detail)
	}
	ev.Msg("still " + p.phase)
}

// End ends the current phase and clears the status line.
func (p *progress) End() {
	if p == nil {
		return
	}
	p.mu.Lock()
	if !p.active {
		p.mu.Unlock()
		return
	}
	p.active = false
	close(p.stop)
	done := p.done
	p.mu.Unlock()
	<-done
	p.mu.Lock()
	if p.shown && p.tty {
		fmt.Fprint(p.w, "\r\x1b[2K")
	}
	p.mu.Unlock()
}
