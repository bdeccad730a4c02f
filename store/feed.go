package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// PostPage is one page of a newest-first list of posts.
type PostPage struct {
	Posts []Post
	Next  *Key // nil on the last page
}

// Feed pages: the queries, their parsing, and the plain queries used when
// the feed cache is off. The cache's own bookkeeping is in feedcache.go.
//
// Changing the shape of a post (a field added, renamed or computed
// differently) touches, in this order:
//  1. a migration (migrations/) for the column, and the covering indexes
//     posts_feed and posts_user_timeline if a page reads it for every post;
//  2. the json_array in pageColumns, and decodeMiss, which reads its
//     fields back in the same order;
//  3. cachedPost (feedcache.go), for a field of the post rather than of the
//     reader, and every place that makes one: CreatePost, UpdatePost,
//     decodeMiss, profileChanged;
//  4. Post, postColumns and scanPost (posts.go), and plainColumns here;
//  5. the renderer, app/jsonenc.go (appendPostFixed for what the cache
//     holds, appendPostCounters for what every page reads), and postBody in
//     app/posts.go, which documents the shape and is tested against it;
//  6. every write that changes the field: after its commit it updates the
//     cache on the write goroutine (withTxThen) and bumps the generation,
//     as replaced and profileChanged do;
//  7. the tests that compare cached pages with plain ones:
//     TestFeedCacheModel, TestFeedMatchesTable, TestFeedCacheUnderConcurrentChanges.

// The page queries. Keyset pagination: each page starts strictly after the
// (created_at, id) of the last post of the previous one, and holds the
// first limit+1 posts after it that the viewer may see (audience.go). The
// posts_feed and posts_user_timeline indexes hold every column a page reads
// of a post in its cache window (feedcache.go), the audience rule's
// included, so those posts never touch the posts table.
//
// A page's query has two parts. page scans the list for the posts the
// viewer may see, aggregated in the same pass. The misses scan the same
// stretch of the list again, down to the page's last post's millisecond
// (or the list's end, on the last page), and read
// every post there that the window does not hold, whoever may see it: the
// cache's claim "every post of this list in [lo, hi) is here" is about all
// posts, so what a page puts into it must be all of them, while only the
// ones the viewer may see go on the page. When the window covers the
// stretch, as it does for a warm cache, the second scan reads index entries
// and returns nothing.
//
// The page comes back as one row of five text values, so the driver
// converts five values instead of several per post:
//   - the page's IDs, like counts and comment counts, as three lists of
//     space-separated integers. The three aggregate the same rows in one
//     pass, so their i-th items belong to the same post. group_concat does
//     not promise to keep the subquery's order, so parsePage puts the posts
//     in order itself;
//   - the posts outside the window, each as "id n json", where n is the
//     length in bytes of the JSON array that follows (see decodeMiss);
//   - the posts the viewer likes among the IDs from the window's lowest to
//     its highest: one range scan of likes_user instead of a lookup per post.
//
// The parameters are numbered (pageArgs): ?1–?3 the audience rule's, ?4 and
// ?5 the liked range, ?6–?9 the window, ?10 the author of a timeline,
// ?11–?12 the cursor, ?13 the limit.
const (
	pageLiked = `(SELECT group_concat(post_id, ' ') FROM likes WHERE user_id = ?1 AND post_id BETWEEN ?4 AND ?5)`
	pageMiss  = `r.id || ' ' || (SELECT length(CAST(j AS BLOB)) || ' ' || j FROM (
			SELECT json_array(EXISTS (SELECT 1 FROM likes l WHERE l.post_id = r.id AND l.user_id = ?1),
				u.id, u.username, u.display_name, u.avatar_url, r.content, r.media_urls, r.created_at,
				r.audience, ifnull(r.edited_at, 0), r.circle_ids, r.hidden_from) AS j
			FROM users u WHERE u.id = r.user_id))`
	pageInWindow = `(r.created_at, r.id) >= (?6, ?7) AND (r.created_at, r.id) < (?8, ?9)`
)

// pageQuery is the cached page's query for the feed or a timeline, on the
// first page or after a cursor. The page's rows are aggregated in one pass,
// which also gives the lowest created_at the misses reach: the page's last
// post's when the page is full (limit+1), the start of the list when it is
// not. The misses' scan, correlated with that one row, starts at the
// page's last millisecond: a post of that millisecond below the page's
// last one is read if the window lacks it and left out of the fill, which
// covers the page's range alone (pageRange).
func pageQuery(timeline, after bool) string {
	var within, withinR []string
	if timeline {
		within, withinR = append(within, `p.user_id = ?10`), append(withinR, `r.user_id = ?10`)
	}
	if after {
		within, withinR = append(within, `(p.created_at, p.id) < (?11, ?12)`), append(withinR, `(r.created_at, r.id) < (?11, ?12)`)
	}
	where := strings.Join(append(within, visibleTo("p")), " AND ")
	whereR := strings.Join(append(withinR, `r.created_at >= page.low`, `NOT (`+pageInWindow+`)`), " AND ")
	return `SELECT ids, likes, comments,
		(SELECT group_concat(miss, ' ') FROM (SELECT ` + pageMiss + ` AS miss FROM posts r WHERE ` + whereR + `)),
		` + pageLiked + `
	FROM (SELECT group_concat(id, ' ') AS ids, group_concat(likes, ' ') AS likes, group_concat(comments, ' ') AS comments,
		CASE WHEN count(*) = ?13 THEN min(at) ELSE -9223372036854775808 END AS low
		FROM (SELECT p.id AS id, p.created_at AS at, p.like_count AS likes, p.comment_count AS comments FROM posts p
			WHERE ` + where + `
			ORDER BY p.created_at DESC, p.id DESC LIMIT ?13)) page`
}

// pageArgs lists a page query's parameters in the order of their numbers.
func (s *Store) pageArgs(q FeedQuery, w *window, likedLo, likedHi int64) []any {
	var author int64
	if q.AuthorID != nil {
		author = *q.AuthorID
	}
	var after Key
	if q.After != nil {
		after = *q.After
	}
	return s.ruleArgs(Viewer{ID: q.Viewer}, likedLo, likedHi, w.lo.at, w.lo.id, w.hi.at, w.hi.id,
		author, after.CreatedAt, after.ID, int64(q.Limit+1))
}

// FeedQuery selects a page of posts, newest first.
type FeedQuery struct {
	AuthorID *int64 // only this user's posts (a timeline); nil: everyone's
	Viewer   int64  // who reads: the audience rule's viewer, whose likes fill LikedByMe; 0: a visitor
	Limit    int
	After    *Key // nil: the first page
}

// Feed returns one page of the posts the viewer may see, in a single SQL
// statement: authors, counters and the viewer's likes included, whatever
// the page size and whatever the cache holds. Keyset pagination makes a
// deep page cost what the first page costs.
func (s *Store) Feed(ctx context.Context, q FeedQuery) (PostPage, error) {
	if err := checkLimit(q.Limit); err != nil {
		return PostPage{}, err
	}
	if err := s.beginRead(ctx); err != nil {
		return PostPage{}, err
	}
	defer s.endRead()
	// Visitors see public posts alone; their pages walk the index of those
	// (posts_public) rather than the feed's, and fill no cache with the
	// posts in between.
	if s.noFeedCache || q.Viewer == 0 {
		return s.plainPage(ctx, q)
	}
	return s.cachedPage(ctx, q)
}

// windowFactor is how many posts a page takes from the cache for each post
// it shows: some of the list's posts are not the viewer's to see, so the
// page spans more of the list than it shows.
const windowFactor = 4

// cachedPage is Feed with the feed cache (feedcache.go).
func (s *Store) cachedPage(ctx context.Context, q FeedQuery) (PostPage, error) {
	list := int64(feedList)
	if q.AuthorID != nil {
		list = *q.AuthorID
	}
	var before *feedKey
	if q.After != nil {
		before = &feedKey{q.After.CreatedAt, q.After.ID}
	}
	n := windowFactor * (q.Limit + 1)
	w := s.cache.window(list, before, n, make([]*cachedPost, 0, n))
	page := PostPage{Posts: make([]Post, 0, q.Limit+1)}
	entries := make([]*cachedPost, 0, q.Limit+1)
	var unseen []*cachedPost // read for the cache, not shown
	misses, err := s.readPage(ctx, q, &w, &page.Posts, &entries, &unseen)
	if errors.Is(err, errNotInWindow) {
		// Something wrote posts without this store, so nothing the cache
		// holds can be trusted: empty it and read the page from the table.
		s.cache.reset()
		w = window{}
		page.Posts, entries, unseen = page.Posts[:0], entries[:0], unseen[:0]
		_, err = s.readPage(ctx, q, &w, &page.Posts, &entries, &unseen)
		misses = 0 // and put nothing back
	}
	if err != nil {
		return PostPage{}, err
	}
	if misses > 0 {
		s.cache.tableReads.Add(int64(misses))
		lo, hi := pageRange(&w, before, entries, q.Limit)
		s.cache.fill(list, w.gen, lo, hi, append(entries, unseen...))
	}
	page.Posts, page.Next = trimPage(page.Posts, q.Limit, Post.key)
	return page, nil
}

// The plain page queries: one JOIN of posts and their authors, with the
// audience rule, the counters stored on the post and one index lookup per
// post for "liked by me". They are the feed without the cache
// (MOMENTS_FEED_CACHE=off: an operator's switch for when the cache is
// suspected of a fault, and the reference the cache's tests compare pages
// with) and the pages of visitors, who read public posts only, from their
// own index. Slower, since every post row is read, but one statement all
// the same. Numbered parameters as pageQuery's.
func plainQuery(timeline, after, visitor bool) string {
	where := []string{visibleTo("p")}
	if visitor {
		where = append(where, `p.audience = 4`)
	}
	if timeline {
		where = append(where, `p.user_id = ?10`)
	}
	if after {
		where = append(where, `(p.created_at, p.id) < (?11, ?12)`)
	}
	from := `posts p`
	if visitor && !timeline {
		// Left to itself, SQLite walks posts_feed for the first page and
		// checks every post for a public one: 15–24 ms on 100,000 posts
		// none of which is public, against 0.3–0.5 ms on posts_public.
		from = `posts p INDEXED BY posts_public`
	}
	return `SELECT ` + postColumns + ` FROM ` + from + ` JOIN users u ON u.id = p.user_id
		WHERE ` + strings.Join(where, " AND ") + ` ORDER BY p.created_at DESC, p.id DESC LIMIT ?13`
}

// plainPage is Feed without the cache.
func (s *Store) plainPage(ctx context.Context, q FeedQuery) (PostPage, error) {
	stmt := s.stmts.plain[b2i(q.Viewer == 0)][b2i(q.AuthorID != nil)][b2i(q.After != nil)]
	rows, err := stmt.QueryContext(ctx, s.pageArgs(q, &window{}, 0, 0)...)
	if err != nil {
		return PostPage{}, err
	}
	defer rows.Close()
	page := PostPage{Posts: make([]Post, 0, q.Limit+1)}
	for rows.Next() {
		p, err := scanPost(rows)
		if err != nil {
			return PostPage{}, err
		}
		page.Posts = append(page.Posts, p)
	}
	if err := rows.Err(); err != nil {
		return PostPage{}, err
	}
	page.Posts, page.Next = trimPage(page.Posts, q.Limit, Post.key)
	return page, nil
}

// errNotInWindow means the table holds a post in a page's cache window that
// the window does not.
var errNotInWindow = errors.New("store: a post in the cache's range is not cached")

// readPage runs a page's query with window w and parses what it returns.
func (s *Store) readPage(ctx context.Context, q FeedQuery, w *window, posts *[]Post, entries, unseen *[]*cachedPost) (int, error) {
	likedLo, likedHi := int64(1), int64(0)
	for i, e := range w.posts {
		if i == 0 || e.id < likedLo {
			likedLo = e.id
		}
		likedHi = max(likedHi, e.id)
	}
	stmt := s.stmts.page[b2i(q.AuthorID != nil)][b2i(q.After != nil)]
	// One row always comes back: group_concat of no rows is NULL.
	var cols [5]sql.NullString
	if err := stmt.QueryRowContext(ctx, s.pageArgs(q, w, likedLo, likedHi)...).Scan(&cols[0], &cols[1], &cols[2], &cols[3], &cols[4]); err != nil {
		return 0, err
	}
	return parsePage(pageText{ids: cols[0].String, likes: cols[1].String, comments: cols[2].String,
		misses: cols[3].String, liked: cols[4].String}, w.posts, posts, entries, unseen)
}

// pageText is what a page query returns; see pageColumns.
type pageText struct{ ids, likes, comments, misses, liked string }

// parsePage reads what a page query returned into posts, newest first,
// taking each post's unchanging part from the window or from the query;
// entries gets the cached form of each post, in the same order, and unseen
// that of the posts read for the cache that the viewer may not see. It
// returns how many posts came from the table.
func parsePage(t pageText, window []*cachedPost, posts *[]Post, entries, unseen *[]*cachedPost) (int, error) {
	liked, err := parseIDs(t.liked)
	if err != nil {
		return 0, err
	}
	type miss struct {
		e     *cachedPost
		liked bool
	}
	var misses map[int64]miss
	for rest := t.misses; rest != ""; {
		id, ok := nextInt(&rest)
		n, ok2 := nextInt(&rest)
		if !ok || !ok2 || n <= 0 || n > int64(len(rest)) {
			return 0, fmt.Errorf("store: unexpected page row near %.40q", rest)
		}
		e, liked, err := decodeMiss(id, rest[:n])
		if err != nil {
			return 0, err
		}
		rest = rest[min(n+1, int64(len(rest))):]
		if misses == nil {
			misses = make(map[int64]miss)
		}
		misses[id] = miss{e, liked}
	}
	read := len(misses)
	k := len(window) - 1 // posts come newest first, so the window is walked from its end
	ids, likes, comments := t.ids, t.likes, t.comments
	for ids != "" {
		id, ok1 := nextInt(&ids)
		lc, ok2 := nextInt(&likes)
		cc, ok3 := nextInt(&comments)
		if !ok1 || !ok2 || !ok3 {
			return 0, fmt.Errorf("store: unexpected page columns near %.40q", ids)
		}
		p := Post{ID: id, LikeCount: lc, CommentCount: cc}
		var e *cachedPost
		if m, ok := misses[id]; ok {
			e, p.LikedByMe = m.e, m.liked
			delete(misses, id)
		} else {
			if k >= 0 && window[k].id == id {
				e = window[k]
				k--
			} else if i := slices.IndexFunc(window, func(e *cachedPost) bool { return e.id == id }); i >= 0 {
				e = window[i]
			} else {
				return 0, fmt.Errorf("%w: post %d", errNotInWindow, id)
			}
			_, p.LikedByMe = slices.BinarySearch(liked, id)
		}
		e.fillPost(&p)
		*posts = append(*posts, p)
		*entries = append(*entries, e)
	}
	if likes != "" || comments != "" {
		return 0, errors.New("store: page columns do not match")
	}
	for _, m := range misses { // the posts the viewer may not see
		*unseen = append(*unseen, m.e)
	}
	sortPage(*posts, *entries)
	return read, nil
}

// nextInt reads the integer at the start of *s, up to the next space, and
// moves *s past it; ok is false if there is none.
func nextInt(s *string) (n int64, ok bool) {
	if *s == "" {
		return 0, false
	}
	end := strings.IndexByte(*s, ' ')
	if end < 0 {
		end = len(*s)
	}
	n, err := strconv.ParseInt((*s)[:end], 10, 64)
	*s = (*s)[min(end+1, len(*s)):]
	return n, err == nil
}

// parseIDs reads space-separated IDs into a sorted slice.
func parseIDs(s string) ([]int64, error) {
	var ids []int64
	for s != "" {
		id, ok := nextInt(&s)
		if !ok {
			return nil, fmt.Errorf("store: unexpected liked IDs near %.40q", s)
		}
		ids = append(ids, id)
	}
	if !slices.IsSorted(ids) {
		slices.Sort(ids)
	}
	return ids, nil
}

// sortPage puts posts (and entries, which go with them) newest first, if
// they are not already.
func sortPage(posts []Post, entries []*cachedPost) {
	if slices.IsSortedFunc(entries, func(a, b *cachedPost) int { return compareKeys(b.key, a.key) }) {
		return
	}
	order := make([]int, len(posts))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return compareKeys(entries[b].key, entries[a].key) })
	ps, es := slices.Clone(posts), slices.Clone(entries)
	for i, j := range order {
		posts[i], entries[i] = ps[j], es[j]
	}
}

// decodeMiss reads the JSON array a page query returns for a post outside
// its window: [liked_by_me, user_id, username, display_name, avatar_url,
// content, media_urls, created_at, audience, edited_at, circle_ids,
// hidden_from] (pageMiss).
func decodeMiss(id int64, raw string) (*cachedPost, bool, error) {
	var fields []json.RawMessage
	if err := json.Unmarshal([]byte(raw), &fields); err != nil || len(fields) != 12 {
		return nil, false, fmt.Errorf("store: unexpected post row %.40q: %v", raw, err)
	}
	e := cachedPost{id: id, key: feedKey{id: id}}
	var liked int
	for i, dst := range []any{&liked, &e.author.ID, &e.author.Username, &e.author.DisplayName, &e.author.AvatarURL,
		&e.content, &e.mediaJSON, &e.key.at, &e.audience, &e.editedAt, &e.circlesJSON, &e.hiddenJSON} {
		if err := json.Unmarshal(fields[i], dst); err != nil {
			return nil, false, fmt.Errorf("store: unexpected post row field %d: %w", i, err)
		}
	}
	return &e, liked != 0, nil
}
