package store

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
)

// The feed cache keeps the parts of a post that never change (its content,
// media and time) together with its author's display fields, so that a feed
// page can be answered from the covering index alone: the page query asks
// the cache, through a SQL function, whether it holds each post, and reads
// the post row and the author only for the posts it does not. Counters and
// "liked by me" always come from the query. A page therefore stays one SQL
// statement, cold or warm.
//
// Invalidation: posts are never edited, so only deleting a post (DeletePost)
// and changing a profile (UpdateProfile) make entries stale. Both remove the
// entries on the write goroutine right after their commit, before any later
// write, and bump the generation; a page that began before that bump does
// not put what it read in the cache.

// feedCacheSize bounds the entries held: 200 pages of 20. An entry with its
// rendering takes one to two kilobytes; at 8,000 a walk through the whole
// feed took the server to 50 MB resident.
const feedCacheSize = 4_000

// cachedPost is the immutable part of a post as a page shows it.
type cachedPost struct {
	author    Author
	content   string
	mediaJSON string
	createdAt time.Time
	rendered  Rendered
}

// Rendered holds one rendering of a cached post's unchanging fields, made by
// the first page that shows the post and reused by the pages after it. A
// profile change or a delete drops the cache entry and its rendering.
type Rendered struct {
	b atomic.Pointer[[]byte]
}

// Load returns the rendering, or nil before the first Store.
func (r *Rendered) Load() []byte {
	if b := r.b.Load(); b != nil {
		return *b
	}
	return nil
}

// Store keeps b, which the caller must not change afterwards.
func (r *Rendered) Store(b []byte) { r.b.Store(&b) }

type feedCache struct {
	max     int // entries held at most
	mu      sync.RWMutex
	entries map[int64]*cachedPost
	gen     atomic.Uint64 // bumped by every invalidation

	// pages maps a running page query's ID to the entries its SQL function
	// calls found, so an entry evicted while the query runs is still there
	// when its row is assembled.
	pages  sync.Map // int64 → *pinned
	nextID atomic.Int64
}

type pinned struct {
	mu      sync.Mutex
	entries map[int64]*cachedPost
}

func newFeedCache() *feedCache {
	return &feedCache{max: feedCacheSize, entries: make(map[int64]*cachedPost)}
}

// sqlFunctionName is the SQL function the page queries call.
const sqlFunctionName = "moments_cached"

// register installs moments_cached(page, post_id) on the connections of d:
// true when the cache holds the post, which it then pins for that page.
func (c *feedCache) register(d *sqlite.Driver) error {
	return d.RegisterScalarFunction(sqlFunctionName, 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		page, ok1 := args[0].(int64)
		id, ok2 := args[1].(int64)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%s wants two integers", sqlFunctionName)
		}
		v, ok := c.pages.Load(page)
		if !ok {
			return false, nil
		}
		c.mu.RLock()
		e := c.entries[id]
		c.mu.RUnlock()
		if e == nil {
			return false, nil
		}
		p := v.(*pinned)
		p.mu.Lock()
		p.entries[id] = e
		p.mu.Unlock()
		return true, nil
	})
}

// begin starts a page: its ID for the SQL function, the generation the
// page's misses may be stored under, and its pins.
func (c *feedCache) begin() (int64, uint64, *pinned) {
	id := c.nextID.Add(1)
	p := &pinned{entries: make(map[int64]*cachedPost)}
	gen := c.gen.Load()
	c.pages.Store(id, p)
	return id, gen, p
}

func (c *feedCache) end(id int64) { c.pages.Delete(id) }

// put stores entries read from the database at generation gen, unless an
// invalidation has happened since.
func (c *feedCache) put(gen uint64, fresh map[int64]*cachedPost) {
	if len(fresh) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	for id, e := range fresh {
		if len(c.entries) >= c.max {
			evictOne(c.entries)
		}
		c.entries[id] = e
	}
}

// forgetPost drops a deleted post.
func (c *feedCache) forgetPost(id int64) {
	c.mu.Lock()
	c.gen.Add(1)
	delete(c.entries, id)
	c.mu.Unlock()
}

// forgetAuthor drops every post of an author whose profile changed. It is
// rare, so a scan of the bounded cache is fine.
func (c *feedCache) forgetAuthor(userID int64) {
	c.mu.Lock()
	c.gen.Add(1)
	for id, e := range c.entries {
		if e.author.ID == userID {
			delete(c.entries, id)
		}
	}
	c.mu.Unlock()
}

// decodeMiss reads the JSON array a page query returns for a post the cache
// does not hold: [user_id, username, display_name, avatar_url, content,
// media_urls, created_at].
func decodeMiss(raw string) (*cachedPost, error) {
	var fields []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &fields); err != nil || len(fields) != 7 {
		return nil, fmt.Errorf("store: unexpected post row %.40q: %v", raw, err)
	}
	var e cachedPost
	var created int64
	for i, dst := range []any{&e.author.ID, &e.author.Username, &e.author.DisplayName, &e.author.AvatarURL,
		&e.content, &e.mediaJSON, &created} {
		if err := json.Unmarshal(fields[i], dst); err != nil {
			return nil, fmt.Errorf("store: unexpected post row field %d: %w", i, err)
		}
	}
	e.createdAt = fromMillis(created)
	return &e, nil
}

// evictOne deletes an arbitrary entry of m: map iteration order is random,
// which makes this random eviction at O(1).
func evictOne[K comparable, V any](m map[K]V) {
	for victim := range m {
		delete(m, victim)
		return
	}
}
