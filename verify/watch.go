package verify

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyprov/keyprov/token"
)

// Staleness bounds how old a Verifier's knowledge of the store may be when
// it answers without asking the store: a cached answer, or the token
// prefixes it rejects malformed tokens by. A revocation, a disable, a
// rotation or any apply is therefore seen by every Verifier within this
// time of its commit. When the store cannot be asked for longer, a
// Verifier answers as one without a cache: it asks, and returns the
// error.
const Staleness = time.Second

// pollEvery is the period of the background poll of the change counter,
// a little shorter than Staleness so that a poll's round trip does not
// leave the cache stale.
const pollEvery = Staleness * 9 / 10

// prefixInfo is one token prefix of the store, with whether every live
// token that may carry it has a checksum (keyprov.token_prefixes).
type prefixInfo struct {
	prefix    string
	checksums bool
}

// watchState is what a Verifier knows of the store: its change counter,
// the token prefixes at that counter, and when that was last confirmed
// (the start of the query that read it: no commit before then is missed).
type watchState struct {
	counter   int64
	prefixes  []prefixInfo
	confirmed time.Time
}

// watch keeps a Verifier's knowledge of the store fresh: it polls keyprov's
// change counter (keyprov.change_counter(), one cheap query per pollEvery,
// which works through PgBouncer in transaction pooling mode, unlike
// LISTEN), and when the counter moves it reads the prefixes again and
// drops the cache. A caller that finds the state older than Staleness
// (the poll failed or is late) refreshes it itself.
type watch struct {
	db         DB
	pollSQL    string
	refreshSQL string // the counter and the prefixes in one snapshot; "" without prefixes
	cache      *cache // nil without WithCache

	cur       atomic.Pointer[watchState]
	refreshMu sync.Mutex // one refresh at a time

	startOnce, stopOnce sync.Once
	started             atomic.Bool
	stop, done          chan struct{}
	wakeCh              chan struct{}
}

func newWatch(db DB, schema string, prefixes bool, c *cache) *watch {
	s := pgx.Identifier{schema}.Sanitize()
	w := &watch{db: db, pollSQL: "SELECT " + s + ".change_counter()", cache: c,
		stop: make(chan struct{}), done: make(chan struct{}), wakeCh: make(chan struct{}, 1)}
	if prefixes {
		w.refreshSQL = "SELECT " + s + `.change_counter(), coalesce(array_agg(prefix ORDER BY prefix), '{}'),
	coalesce(array_agg(checksums ORDER BY prefix), '{}') FROM ` + s + ".token_prefixes()"
	}
	return w
}

// state returns what is known of the store and whether it is fresh
// (confirmed within Staleness), refreshing it first when it is not. On a
// failed refresh it returns the last state known (nil if none) with the
// error.
func (w *watch) state(ctx context.Context) (*watchState, bool, error) {
	w.startOnce.Do(func() {
		w.started.Store(true)
		go w.loop()
	})
	st := w.cur.Load()
	if st != nil && time.Since(st.confirmed) <= Staleness {
		return st, true, nil
	}
	if err := w.refresh(ctx, st); err != nil {
		return w.cur.Load(), false, err
	}
	return w.cur.Load(), true, nil
}

// refresh reads the change counter and, when it moved (or nothing is
// known yet), the prefixes, and drops the cache. seen is the state the
// caller found stale: if another refresh replaced it meanwhile, there is
// nothing to do.
func (w *watch) refresh(ctx context.Context, seen *watchState) error {
	w.refreshMu.Lock()
	defer w.refreshMu.Unlock()
	cur := w.cur.Load()
	if cur != seen && time.Since(cur.confirmed) <= Staleness {
		return nil
	}
	if cur != nil {
		start := time.Now()
		var n int64
		if err := w.db.QueryRow(ctx, w.pollSQL).Scan(&n); err != nil {
			return fmt.Errorf("verify: reading the store's change counter: %w", err)
		}
		if n == cur.counter {
			w.cur.Store(&watchState{counter: n, prefixes: cur.prefixes, confirmed: start})
			return nil
		}
	}
	start := time.Now()
	next := &watchState{confirmed: start}
	if w.refreshSQL == "" {
		if err := w.db.QueryRow(ctx, w.pollSQL).Scan(&next.counter); err != nil {
			return fmt.Errorf("verify: reading the store's change counter: %w", err)
		}
	} else {
		var (
			prefixes  []string
			checksums []bool
		)
		if err := w.db.QueryRow(ctx, w.refreshSQL).Scan(&next.counter, &prefixes, &checksums); err != nil {
			return fmt.Errorf("verify: reading the store's token prefixes: %w", err)
		}
		for i, p := range prefixes {
			next.prefixes = append(next.prefixes, prefixInfo{prefix: p, checksums: i < len(checksums) && checksums[i]})
		}
		if len(next.prefixes) == 0 {
			// No owner recorded yet (no apply by this keyprov): tokens
			// carry the default prefix, and may lack a checksum.
			next.prefixes = []prefixInfo{{prefix: token.DefaultPrefix}}
		}
	}
	if w.cache != nil {
		w.cache.reset(next.counter)
	}
	w.cur.Store(next)
	return nil
}

// wake asks the poll to look at the counter now.
func (w *watch) wake() {
	select {
	case w.wakeCh <- struct{}{}:
	default:
	}
}

// loop polls until close. Its errors are not reported: a caller that then
// finds the state stale refreshes it itself and gets the error.
func (w *watch) loop() {
	defer close(w.done)
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		case <-w.wakeCh:
		}
		ctx, cancel := context.WithTimeout(context.Background(), Staleness)
		_ = w.refresh(ctx, w.cur.Load())
		cancel()
	}
}

// close stops the poll and waits for it.
func (w *watch) close() {
	w.stopOnce.Do(func() {
		w.startOnce.Do(func() {}) // never start after close
		close(w.stop)
		if w.started.Load() {
			<-w.done
		}
	})
}
