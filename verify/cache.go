package verify

import (
	"container/list"
	"sync"
	"time"

	"github.com/keyprov/keyprov/token"
)

// cache holds looked-up records by digest: found tokens in one LRU table,
// unknown tokens in another, smaller one with a shorter TTL, so that a
// stream of unknown tokens cannot evict the entries of real keys.
//
// Every entry describes the store at one value of its change counter:
// the cache's counter, which only the watch moves (reset), dropping every
// entry. An answer read at another counter is not kept.
type cache struct {
	found, unknown *lru

	mu      sync.Mutex // orders put and reset
	counter int64
	set     bool // counter is known
}

func newCache(ttl, negTTL time.Duration, size int) *cache {
	return &cache{found: newLRU(ttl, size), unknown: newLRU(negTTL, max(1, size/4))}
}

// reset drops every entry: the store is now at counter.
func (c *cache) reset(counter int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.found.clear()
	c.unknown.clear()
	c.counter, c.set = counter, true
}

// get returns the cached record of d (nil for a token known to be unknown)
// and whether there was a fresh entry.
func (c *cache) get(d token.Digest, now time.Time) (*record, bool) {
	if rec, ok := c.found.get(d, now); ok {
		return rec, true
	}
	return c.unknown.get(d, now)
}

// put keeps rec, the answer for d read at counter, if the cache describes
// the store at that counter.
func (c *cache) put(d token.Digest, rec *record, counter int64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.set || counter != c.counter {
		return
	}
	if rec == nil {
		c.unknown.put(d, nil, now)
		return
	}
	c.found.put(d, rec, now)
}

// lru is a bounded table with a TTL per entry; the least recently used entry
// goes first when it is full. One mutex guards it: a hit costs a map lookup
// and a list move, far below the cost of the query it saves.
type lru struct {
	ttl time.Duration
	max int

	mu   sync.Mutex
	list list.List // of *entry, most recently used first
	m    map[token.Digest]*list.Element
}

type entry struct {
	digest token.Digest
	rec    *record
	until  time.Time
}

func newLRU(ttl time.Duration, size int) *lru {
	return &lru{ttl: ttl, max: size, m: make(map[token.Digest]*list.Element, min(size, 1024))}
}

func (l *lru) get(d token.Digest, now time.Time) (*record, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	el, ok := l.m[d]
	if !ok {
		return nil, false
	}
	e := el.Value.(*entry)
	if !now.Before(e.until) {
		l.list.Remove(el)
		delete(l.m, d)
		return nil, false
	}
	l.list.MoveToFront(el)
	return e.rec, true
}

func (l *lru) put(d token.Digest, rec *record, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.m[d]; ok {
		e := el.Value.(*entry)
		e.rec, e.until = rec, now.Add(l.ttl)
		l.list.MoveToFront(el)
		return
	}
	for l.list.Len() >= l.max {
		old := l.list.Back()
		l.list.Remove(old)
		delete(l.m, old.Value.(*entry).digest)
	}
	l.m[d] = l.list.PushFront(&entry{digest: d, rec: rec, until: now.Add(l.ttl)})
}

func (l *lru) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list.Init()
	clear(l.m)
}

func (l *lru) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.list.Len()
}
