package verify

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// maxTries bounds how many flushes a use skipped because its row was locked
// is kept for.
const maxTries = 3

// recorder gathers key uses and writes keys.last_used_at in batches.
type recorder struct {
	db       DB
	sql      string
	interval time.Duration
	onErr    func(error)

	mu      sync.Mutex
	pending map[int64]use
	closed  bool

	flushMu sync.Mutex // one flush at a time
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

type use struct {
	at    time.Time
	tries int
}

func newRecorder(db DB, schema string, interval time.Duration, onErr func(error)) *recorder {
	r := &recorder{
		db: db, sql: lastUsedSQL(schema), interval: interval, onErr: onErr,
		pending: map[int64]use{}, stop: make(chan struct{}), done: make(chan struct{}),
	}
	go r.loop()
	return r
}

// lastUsedSQL writes the last use of a batch of keys in one statement,
// keyprov.record_use: rows locked by a running apply are skipped rather
// than waited for (SKIP LOCKED), so the writer never delays an apply nor
// deadlocks with it; the ids written are returned so that skipped ones can
// be retried. GREATEST keeps a later time written by another process.
func lastUsedSQL(schema string) string {
	return "SELECT " + pgx.Identifier{schema}.Sanitize() + ".record_use($1::bigint[], $2::timestamptz[])"
}

// touch records that key id was used at.
func (r *recorder) touch(id int64, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if u, ok := r.pending[id]; !ok || at.After(u.at) {
		r.pending[id] = use{at: at}
	}
}

func (r *recorder) loop() {
	defer close(r.done)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), r.interval)
			err := r.flush(ctx)
			cancel()
			if err != nil && r.onErr != nil {
				r.onErr(err)
			}
		}
	}
}

// flush writes the pending uses in one statement. On failure the uses are
// kept for the next flush.
func (r *recorder) flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	batch := r.pending
	r.pending = make(map[int64]use, len(batch))
	r.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(batch))
	for id := range batch {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ats := make([]time.Time, len(ids))
	for i, id := range ids {
		ats[i] = batch[id].at
	}
	var written []int64
	if err := r.db.QueryRow(ctx, r.sql, ids, ats).Scan(&written); err != nil {
		r.requeue(batch, nil, false)
		return fmt.Errorf("verify: recording the last use of %d keys: %w", len(ids), err)
	}
	r.requeue(batch, written, true)
	return nil
}

// requeue puts back the uses of batch that were not written. After a
// successful statement, a use left out was skipped (its row was locked): it
// is dropped once it has been tried maxTries times.
func (r *recorder) requeue(batch map[int64]use, written []int64, ran bool) {
	for _, id := range written {
		delete(batch, id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, u := range batch {
		if ran {
			u.tries++
		}
		if u.tries >= maxTries {
			continue
		}
		if cur, ok := r.pending[id]; ok && !u.at.After(cur.at) {
			continue // a newer use is pending: it carries the write
		}
		r.pending[id] = u
	}
}

// close stops the background writer and flushes what is pending.
func (r *recorder) close(ctx context.Context) error {
	r.once.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		close(r.stop)
		<-r.done
	})
	return r.flush(ctx)
}

// Flush writes the pending last-used times now. It does nothing without
// WithLastUsed.
func (v *Verifier) Flush(ctx context.Context) error {
	if v.rec == nil {
		return nil
	}
	return v.rec.flush(ctx)
}

// Close stops the background poll of the store's change counter and the
// last_used_at writer, which it flushes. Verify keeps working after Close,
// but asks the store about the counter itself when a cached answer is
// older than Staleness, and no longer records uses. Call it before closing
// the pool.
func (v *Verifier) Close(ctx context.Context) error {
	if v.watch != nil {
		v.watch.close()
	}
	if v.rec == nil {
		return nil
	}
	return v.rec.close(ctx)
}
