package store

import (
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// The feed cache keeps the parts of a post that only a write of this store
// changes (its content, media and time) together with its author's display
// fields, so that a feed page can be answered from the covering index
// alone. Counters and "liked by me" always come from the page's one SQL
// statement. MOMENTS_FEED_CACHE=off turns it off (feed.go's plain queries).
//
// The cache describes itself by key ranges. A list (the feed, or one
// author's timeline) holds segments; a segment says "every post of this
// list whose (created_at, id) lies in [lo, hi) is one of mine". Before its
// query a page copies the cached posts at its place and the range they
// cover; the query returns only counters for posts in that range, and the
// full row for any other. A range test costs the query next to nothing; a
// call into Go for each row would not.
//
// What keeps a range true:
//   - The writer gives each new post a key above every key before it
//     (postKeys.next), so no post is ever created inside a range.
//   - Post IDs are never reused while the process runs, so an ID names one
//     post for the cache's whole life.
//   - A deleted post is dropped from its segment; "every post that exists
//     is held" stays true. The delete bumps the generation too, so that a
//     page that read the post before the delete does not put it back.
//   - A profile change rewrites the author's cached posts, and bumps the
//     generation so that a page read before the change does not put what
//     it read into the cache after it.
//   - An edited post (UpdatePost) takes the place of its old entry in every
//     list that holds it, and the edit bumps the generation likewise.
//   - Nothing writes posts but this store: a post that another process
//     wrote into a range is found by the next page that meets it
//     (errNotInWindow), which empties the cache.
//   - Pages copy what they need under the read lock, so later eviction
//     cannot take a post from a page that is running.
//
// Every change to the cache runs on the write goroutine right after its
// commit and before the writer answers, or under the generation check.

// feedCacheSize bounds the posts held over all lists: 200 pages of 20. A
// post with its rendering takes one to two kilobytes.
const feedCacheSize = 4_000

// feedList is the cache list of the feed; a timeline's list is its author's ID.
const feedList = 0

// feedKey is a post's place in newest-first order: (created_at, id).
type feedKey struct{ at, id int64 }

func (k feedKey) less(o feedKey) bool { return k.at < o.at || k.at == o.at && k.id < o.id }

// next is the smallest key above k.
func (k feedKey) next() feedKey { return feedKey{k.at, k.id + 1} }

var minKey = feedKey{math.MinInt64, math.MinInt64}

// cachedPost is the part of a post that only a write of this store changes,
// as a page shows it: a write replaces the whole entry (replaced,
// profileChanged), never one of its fields.
type cachedPost struct {
	id          int64
	key         feedKey
	author      Author
	content     string
	mediaJSON   string
	audience    Audience
	editedAt    int64 // unix milliseconds; 0 until edited
	circlesJSON string
	hiddenJSON  string
	rendered    Rendered
}

func (e *cachedPost) createdAt() time.Time { return fromMillis(e.key.at) }

// fillPost gives p the entry's fields and its rendering.
func (e *cachedPost) fillPost(p *Post) {
	p.Author, p.Content, p.MediaJSON, p.CreatedAt = e.author, e.content, e.mediaJSON, e.createdAt()
	p.Audience, p.CircleIDsJSON, p.HiddenFromJSON = e.audience, e.circlesJSON, e.hiddenJSON
	if e.editedAt != 0 {
		p.EditedAt = fromMillis(e.editedAt)
	}
	p.Rendered = &e.rendered
}

// cachedPostOf is the cache's entry for p.
func cachedPostOf(p *Post) *cachedPost {
	e := &cachedPost{id: p.ID, key: feedKey{millis(p.CreatedAt), p.ID}, author: p.Author, content: p.Content,
		mediaJSON: p.MediaJSON, audience: p.Audience, circlesJSON: p.CircleIDsJSON, hiddenJSON: p.HiddenFromJSON}
	if !p.EditedAt.IsZero() {
		e.editedAt = millis(p.EditedAt)
	}
	return e
}

// Rendered holds one rendering of a cached post's unchanging fields, made by
// the first page that shows the post and reused by the pages after it. A
// profile change replaces the cached post, and with it the rendering.
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

// segment holds every post of its list with a key in [lo, hi), oldest first.
type segment struct {
	lo, hi feedKey
	posts  []*cachedPost
	used   atomic.Uint64 // the cache's clock when a page last used it
}

type feedCache struct {
	max   int // posts held at most, over all lists
	mu    sync.RWMutex
	lists map[int64][]*segment // disjoint segments in key order
	size  int
	// resets counts the times a page found the table holding a post the
	// cache said it held, and emptied the cache.
	resets atomic.Int64
	// tableReads counts the posts pages read from the table instead.
	tableReads atomic.Int64
	// top is the key of the newest post committed, whether it still
	// exists or not: no post with a higher key existed when it was set.
	top   feedKey
	clock atomic.Uint64
	gen   atomic.Uint64 // bumped by every profile change and delete
}

func newFeedCache(top feedKey) *feedCache {
	return &feedCache{max: feedCacheSize, lists: make(map[int64][]*segment), top: top}
}

// window is what a page takes from the cache before its query: every post
// of the list with a key in [lo, hi) is in posts. An empty range (lo == hi)
// claims nothing. No post above top existed when the window was taken.
type window struct {
	lo, hi feedKey
	posts  []*cachedPost
	top    feedKey
	gen    uint64
}

// window copies up to n cached posts just below before (nil: the top of the
// list) into buf.
func (c *feedCache) window(list int64, before *feedKey, n int, buf []*cachedPost) window {
	w := window{gen: c.gen.Load(), posts: buf[:0]}
	c.mu.RLock()
	defer c.mu.RUnlock()
	w.top = c.top
	segs := c.lists[list]
	// The segment with the highest lo below the page's start.
	i := len(segs) - 1
	if before != nil {
		i = sort.Search(len(segs), func(i int) bool { return !segs[i].lo.less(*before) }) - 1
	}
	if i < 0 {
		return w
	}
	s := segs[i]
	s.used.Store(c.clock.Add(1))
	w.hi = s.hi
	if before != nil && before.less(w.hi) {
		w.hi = *before
	}
	end := sort.Search(len(s.posts), func(j int) bool { return !s.posts[j].key.less(w.hi) })
	start := max(0, end-n)
	w.posts = append(w.posts, s.posts[start:end]...)
	w.lo = s.lo
	if start > 0 {
		w.lo = s.posts[start].key
	}
	return w
}

// pageRange is the key range a page read with window w covers completely:
// every post of the list in it is on the page. The page started below
// before (nil: the top) and holds up to limit+1 posts, newest first. The
// range runs from its last post, or the list's end if it got there, up to
// its start, but never above the newest post that existed when the window
// was taken: a post created since may lie between.
func pageRange(w *window, before *feedKey, page []*cachedPost, limit int) (lo, hi feedKey) {
	lo = minKey
	if len(page) > limit {
		lo = page[len(page)-1].key
	}
	hi = w.top.next()
	if before != nil && before.less(hi) {
		hi = *before
	}
	return lo, hi
}

// fill records what a page read at generation gen: every post of the list
// with a key in [lo, hi) is one of posts, which are in any order.
func (c *feedCache) fill(list int64, gen uint64, lo, hi feedKey, posts []*cachedPost) {
	if !lo.less(hi) {
		return
	}
	fresh := make([]*cachedPost, 0, len(posts))
	for _, e := range posts {
		if !e.key.less(lo) && e.key.less(hi) {
			fresh = append(fresh, e)
		}
	}
	slices.SortFunc(fresh, func(a, b *cachedPost) int { return compareKeys(a.key, b.key) })
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	segs := c.lists[list]
	// Segments that overlap or touch [lo, hi) merge with it.
	a := sort.Search(len(segs), func(i int) bool { return !segs[i].hi.less(lo) })
	b := sort.Search(len(segs), func(i int) bool { return hi.less(segs[i].lo) })
	merged := &segment{lo: lo, hi: hi}
	var held []*cachedPost
	for _, s := range segs[a:b] {
		if s.lo.less(merged.lo) {
			merged.lo = s.lo
		}
		if merged.hi.less(s.hi) {
			merged.hi = s.hi
		}
		held = append(held, s.posts...)
		c.size -= len(s.posts)
	}
	merged.posts = mergeByKey(held, fresh)
	c.size += len(merged.posts)
	merged.used.Store(c.clock.Add(1))
	growsDown := a == b || lo.less(segs[a].lo)
	c.lists[list] = slices.Replace(segs, a, b, merged)
	c.evict(merged, growsDown)
}

// mergeByKey merges two lists in key order into a new one, keeping held's
// post where both have the same key.
func mergeByKey(held, fresh []*cachedPost) []*cachedPost {
	out := make([]*cachedPost, 0, len(held)+len(fresh))
	i, j := 0, 0
	for i < len(held) && j < len(fresh) {
		switch compareKeys(held[i].key, fresh[j].key) {
		case -1:
			out = append(out, held[i])
			i++
		case 1:
			out = append(out, fresh[j])
			j++
		default:
			out = append(out, held[i])
			i++
			j++
		}
	}
	out = append(out, held[i:]...)
	return append(out, fresh[j:]...)
}

func compareKeys(a, b feedKey) int {
	switch {
	case a.less(b):
		return -1
	case b.less(a):
		return 1
	}
	return 0
}

// added records a new post, the newest of all, and puts it at the top of
// the feed's list if that list's top segment reaches the post before it.
func (c *feedCache) added(e *cachedPost) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev := c.top
	c.top = e.key
	segs := c.lists[feedList]
	if len(segs) == 0 {
		return
	}
	top := segs[len(segs)-1]
	if !prev.less(top.hi) { // the segment stops below prev: posts may lie between
		return
	}
	// Keys only grow, so this is an append.
	j := sort.Search(len(top.posts), func(j int) bool { return !top.posts[j].key.less(e.key) })
	top.posts = slices.Insert(top.posts, j, e)
	if top.hi.less(e.key.next()) {
		top.hi = e.key.next()
	}
	c.size++
	c.evict(top, false)
}

// deleted drops a deleted post from the feed's list and its author's, and
// bumps the generation: a page that read the post before the delete must
// not put it back.
func (c *feedCache) deleted(author int64, key feedKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	for _, list := range []int64{feedList, author} {
		if s, j, ok := c.find(list, key); ok {
			s.posts = slices.Delete(s.posts, j, j+1)
			c.size--
		}
	}
}

// find returns the segment of list holding the post with key, and its
// index there. The caller holds the lock.
func (c *feedCache) find(list int64, key feedKey) (*segment, int, bool) {
	segs := c.lists[list]
	i := sort.Search(len(segs), func(i int) bool { return key.less(segs[i].hi) })
	if i == len(segs) || key.less(segs[i].lo) {
		return nil, 0, false
	}
	s := segs[i]
	j := sort.Search(len(s.posts), func(j int) bool { return !s.posts[j].key.less(key) })
	return s, j, j < len(s.posts) && s.posts[j].key == key
}

// replaced puts a changed post in place of the one with its key, in the
// feed's list and its author's, and bumps the generation: a page that read
// the post before the change must not put the old one back. A post the
// cache does not hold stays uncached.
func (c *feedCache) replaced(e *cachedPost) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	for _, list := range []int64{feedList, e.author.ID} {
		if s, j, ok := c.find(list, e.key); ok {
			s.posts[j] = e
		}
	}
}

// profileChanged gives the author's cached posts the author's new display
// fields, in every list.
func (c *feedCache) profileChanged(a Author) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	for _, segs := range c.lists {
		for _, s := range segs {
			for i, e := range s.posts {
				if e.author.ID == a.ID {
					s.posts[i] = &cachedPost{id: e.id, key: e.key, author: a, content: e.content, mediaJSON: e.mediaJSON,
						audience: e.audience, editedAt: e.editedAt, circlesJSON: e.circlesJSON, hiddenJSON: e.hiddenJSON}
				}
			}
		}
	}
}

// evict brings the cache back within its bound. The least recently used
// segment other than keep gives up its oldest posts, or all of them; keep,
// which just grew, is trimmed last, from the end away from its growth. The
// caller holds the write lock.
func (c *feedCache) evict(keep *segment, grewDown bool) {
	for c.size > c.max {
		excess := c.size - c.max
		var victim *segment
		var victimList int64
		for list, segs := range c.lists {
			for _, s := range segs {
				if s != keep && (victim == nil || s.used.Load() < victim.used.Load()) {
					victim, victimList = s, list
				}
			}
		}
		switch {
		case victim != nil && excess < len(victim.posts):
			victim.dropOldest(excess)
			c.size -= excess
		case victim != nil:
			c.size -= len(victim.posts)
			segs := slices.DeleteFunc(c.lists[victimList], func(s *segment) bool { return s == victim })
			if len(segs) == 0 {
				delete(c.lists, victimList)
			} else {
				c.lists[victimList] = segs
			}
		case grewDown: // the newest were read longest ago
			keep.dropNewest(excess)
			c.size -= excess
		default:
			keep.dropOldest(excess)
			c.size -= excess
		}
	}
}

// dropOldest gives up the segment's k oldest posts, k < len(s.posts).
func (s *segment) dropOldest(k int) {
	s.lo = s.posts[k].key
	clear(s.posts[:k])
	s.posts = s.posts[k:]
}

// dropNewest gives up the segment's k newest posts, k < len(s.posts).
func (s *segment) dropNewest(k int) {
	n := len(s.posts) - k
	s.hi = s.posts[n].key
	clear(s.posts[n:])
	s.posts = s.posts[:n]
}

// reset empties the cache.
func (c *feedCache) reset() {
	c.resets.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	clear(c.lists)
	c.size = 0
}
