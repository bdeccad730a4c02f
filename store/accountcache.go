package store

import (
	"sync"
	"sync/atomic"
)

// The account cache keeps AuthUser's answers, so that a request with a
// token costs no SQL statement for its account check. It holds only what
// AuthUser returns (ID, name, admin flag, disabled flag, token version),
// only for accounts that exist, and is emptied after every change to one of
// those fields commits (SetPassword, UpdateAccount; on the write goroutine,
// before any later write), so a revoked token stops working before the
// revoking call returns. Entries are keyed by account ID, which is never
// used twice; creating an account changes no cached answer.
//
// Like the feed cache, it sees the changes this process makes: it assumes
// one server per data directory, which `moments serve` is built for.

// accountCacheSize bounds the accounts held; about a hundred bytes each.
const accountCacheSize = 10_000

type accountCache struct {
	max     int
	mu      sync.RWMutex
	entries map[int64]Principal // by account ID
	gen     atomic.Uint64       // bumped by every invalidation
}

func newAccountCache() *accountCache {
	return &accountCache{max: accountCacheSize, entries: make(map[int64]Principal)}
}

func (c *accountCache) get(id int64) (Principal, bool) {
	c.mu.RLock()
	p, ok := c.entries[id]
	c.mu.RUnlock()
	return p, ok
}

// put keeps an answer read at generation gen, unless an invalidation has
// happened since: the row may predate it.
func (c *accountCache) put(gen uint64, id int64, p Principal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if len(c.entries) >= c.max {
		evictOne(c.entries)
	}
	c.entries[id] = p
}

// forget empties the cache. Account changes are rare, and emptying it all
// is the change that cannot miss an entry.
func (c *accountCache) forget() {
	c.mu.Lock()
	c.gen.Add(1)
	clear(c.entries)
	c.mu.Unlock()
}

// evictOne deletes an arbitrary entry of m: map iteration order is random,
// which makes this random eviction at O(1).
func evictOne[K comparable, V any](m map[K]V) {
	for victim := range m {
		delete(m, victim)
		return
	}
}
