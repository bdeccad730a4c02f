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
	"time"
)

// Author is the part of a user shown on posts and comments.
type Author struct {
	ID          int64
	Username    string
	DisplayName string
	AvatarURL   string
}

// Post is a post as a reader sees it: with its author, its counters and
// whether the reader likes it.
type Post struct {
	ID      int64
	Author  Author
	Content string
	// MediaJSON is the stored JSON array of media URLs, exactly as it was
	// written by CreatePost (json.Marshal of a []string). Pages pass it
	// through without decoding; MediaURLs decodes it.
	MediaJSON    string
	CreatedAt    time.Time
	LikeCount    int64
	CommentCount int64
	LikedByMe    bool
	// Rendered keeps a caller's rendering of the fields above that never
	// change (all but the counters and LikedByMe) for as long as the feed
	// cache holds the post; nil when the post did not come from a page.
	Rendered *Rendered
}

// MediaURLs decodes the post's media URLs.
func (p Post) MediaURLs() ([]string, error) {
	var urls []string
	err := json.Unmarshal([]byte(p.MediaJSON), &urls)
	return urls, err
}

// PostCursor is a position in a newest-first list of posts.
type PostCursor struct {
	CreatedAt int64 // unix milliseconds
	ID        int64
}

// PostPage is one page of a newest-first list of posts.
type PostPage struct {
	Posts []Post
	Next  *PostCursor // nil on the last page
}

// postColumns is what every post query selects, in scanPost's order. The
// last column (liked by the viewer) is an index lookup on likes' primary key.
const postColumns = `p.id, p.content, p.media_urls, p.created_at, p.like_count, p.comment_count,
	u.id, u.username, u.display_name, u.avatar_url,
	EXISTS (SELECT 1 FROM likes l WHERE l.post_id = p.id AND l.user_id = :viewer)`

// postByIDQuery reads one post in full.
const (
	postByIDQuery = `SELECT ` + postColumns + ` FROM posts p JOIN users u ON u.id = p.user_id WHERE p.id = :id`
	// The writer chooses the ID and time (postKeys.next); the author's display
	// fields come back with the insert, so creating a post needs no second
	// query.
	insertPostQuery = `INSERT INTO posts (id, user_id, content, media_urls, created_at) VALUES (?, ?, ?, ?, ?)
		RETURNING user_id,
			(SELECT username FROM users WHERE id = user_id),
			(SELECT display_name FROM users WHERE id = user_id),
			(SELECT avatar_url FROM users WHERE id = user_id)`
)

// The page queries. Keyset pagination: each page starts strictly after the
// (created_at, id) of the last post of the previous one. The posts_feed and
// posts_user_timeline indexes hold every column the page reads for a post
// in the page's cache window (feedcache.go), so those posts never touch the
// posts table; for the others a correlated subquery reads the post, its
// author and whether the viewer likes it.
//
// The page comes back as one row of five text values, so the driver
// converts five values instead of several per post:
//   - the posts' IDs, like counts and comment counts, as three lists of
//     space-separated integers. The three aggregate the same rows in one
//     pass, so their i-th items belong to the same post. group_concat does
//     not promise to keep the subquery's order, so parsePage puts the posts
//     in order itself;
//   - the posts outside the window, each as "id n json", where n is the
//     length in bytes of the JSON array that follows, [liked_by_me, user_id,
//     username, display_name, avatar_url, content, media_urls, created_at];
//   - the posts the viewer likes among the IDs from the window's lowest to
//     its highest: one range scan of likes_user instead of a lookup per post.
//
// The parameters are anonymous (?), which spares the driver reading each
// parameter's name on every page; pageArgs lists them in their order.
const (
	pageLiked = `(SELECT group_concat(post_id, ' ') FROM likes
		WHERE user_id = ? /* viewer */ AND post_id BETWEEN ? /* liked lo */ AND ? /* liked hi */)`
	pageColumns = `p.id AS id, p.like_count AS likes, p.comment_count AS comments,
	CASE WHEN (p.created_at, p.id) >= (? /* window lo */, ?) AND (p.created_at, p.id) < (? /* window hi */, ?) THEN NULL
	ELSE p.id || ' ' || ifnull((
		SELECT length(CAST(j AS BLOB)) || ' ' || j FROM (
			SELECT json_array(EXISTS (SELECT 1 FROM likes l WHERE l.post_id = r.id AND l.user_id = ? /* viewer */),
				u.id, u.username, u.display_name, u.avatar_url, r.content, r.media_urls, r.created_at) AS j
			FROM posts r JOIN users u ON u.id = r.user_id WHERE r.id = p.id)), 'missing') END AS miss`
	pageOrder = ` ORDER BY p.created_at DESC, p.id DESC LIMIT ? /* limit */)`

	pageSelect = `SELECT group_concat(id, ' '), group_concat(likes, ' '), group_concat(comments, ' '), group_concat(miss, ' '), ` +
		pageLiked + ` FROM (SELECT ` + pageColumns + ` FROM posts p`
	pageAfter          = `(p.created_at, p.id) < (? /* cursor */, ?)`
	feedFirstQuery     = pageSelect + pageOrder
	feedAfterQuery     = pageSelect + ` WHERE ` + pageAfter + pageOrder
	timelineFirstQuery = pageSelect + ` WHERE p.user_id = ? /* author */` + pageOrder
	timelineAfterQuery = pageSelect + ` WHERE p.user_id = ? /* author */ AND ` + pageAfter + pageOrder
)

// pageArgs lists a page query's parameters in the order they appear in it.
func pageArgs(q FeedQuery, w *window, likedLo, likedHi int64) []any {
	args := make([]any, 0, 12)
	args = append(args, q.Viewer, likedLo, likedHi, w.lo.at, w.lo.id, w.hi.at, w.hi.id, q.Viewer)
	if q.AuthorID != nil {
		args = append(args, *q.AuthorID)
	}
	if q.After != nil {
		args = append(args, q.After.CreatedAt, q.After.ID)
	}
	return append(args, int64(q.Limit+1))
}

func scanPost(row rowScanner) (Post, error) {
	var p Post
	var created int64
	err := row.Scan(&p.ID, &p.Content, &p.MediaJSON, &created, &p.LikeCount, &p.CommentCount,
		&p.Author.ID, &p.Author.Username, &p.Author.DisplayName, &p.Author.AvatarURL, &p.LikedByMe)
	p.CreatedAt = fromMillis(created)
	return p, formatError(err)
}

// CreatePost stores a post by userID and returns it as its author sees it.
func (s *Store) CreatePost(ctx context.Context, userID int64, content string, mediaURLs []string) (Post, error) {
	if err := checkPost(content, mediaURLs); err != nil {
		return Post{}, err
	}
	if mediaURLs == nil {
		mediaURLs = []string{}
	}
	media, err := json.Marshal(mediaURLs)
	if err != nil {
		return Post{}, err
	}
	p := Post{Content: content, MediaJSON: string(media)}
	err = s.withTxThen(ctx, func(tx *sql.Tx) error {
		key := s.keys.next(millis(s.now()))
		p.ID, p.CreatedAt = key.id, fromMillis(key.at)
		return tx.StmtContext(ctx, s.stmts.insertPost).QueryRowContext(ctx,
			key.id, userID, content, p.MediaJSON, key.at).
			Scan(&p.Author.ID, &p.Author.Username, &p.Author.DisplayName, &p.Author.AvatarURL)
	}, func() {
		// A new post is at the top of the feed: have it ready. This runs
		// before any later write, so the author's fields are still current.
		s.cache.added(&cachedPost{id: p.ID, key: feedKey{millis(p.CreatedAt), p.ID},
			author: p.Author, content: p.Content, mediaJSON: p.MediaJSON})
	})
	if err != nil {
		return Post{}, formatError(err)
	}
	return p, nil
}

// postKeys chooses new posts' keys. Only the write goroutine uses it.
type postKeys struct {
	last  feedKey // the highest key given
	maxID int64   // the highest ID given or found
}

// next returns the key of a post created at now (unix milliseconds): above
// every key given before, even if the clock went back, with an ID never
// given before, even if the post that had it was deleted. The feed cache
// relies on both.
func (k *postKeys) next(now int64) feedKey {
	key := feedKey{at: max(now, k.last.at), id: k.maxID + 1}
	k.last, k.maxID = key, key.id
	return key
}

// Post returns one post as viewer (0: anonymous) sees it.
func (s *Store) Post(ctx context.Context, id, viewer int64) (Post, error) {
	if err := s.beginRead(ctx); err != nil {
		return Post{}, err
	}
	defer s.endRead()
	return scanPost(s.stmts.postByID.QueryRowContext(ctx, sql.Named("viewer", viewer), sql.Named("id", id)))
}

// PostAuthorID returns the ID of a post's author, for permission checks.
func (s *Store) PostAuthorID(ctx context.Context, id int64) (int64, error) {
	if err := s.beginRead(ctx); err != nil {
		return 0, err
	}
	defer s.endRead()
	var author int64
	err := s.reader.QueryRowContext(ctx, `SELECT user_id FROM posts WHERE id = ?`, id).Scan(&author)
	return author, formatError(err)
}

// DeletePost deletes a post; its likes and comments go with it.
func (s *Store) DeletePost(ctx context.Context, id int64) error {
	var author int64
	var key feedKey
	return s.withTxThen(ctx, func(tx *sql.Tx) error {
		key.id = id
		return formatError(tx.QueryRowContext(ctx, `DELETE FROM posts WHERE id = ? RETURNING user_id, created_at`, id).
			Scan(&author, &key.at))
	}, func() { s.cache.deleted(author, key) })
}

// FeedQuery selects a page of posts, newest first.
type FeedQuery struct {
	AuthorID *int64 // only this user's posts (a timeline); nil: everyone's
	Viewer   int64  // whose likes fill LikedByMe; 0: anonymous
	Limit    int
	After    *PostCursor // nil: the first page
}

// Feed returns one page of posts in a single SQL statement: authors,
// counters and the viewer's likes included, whatever the page size and
// whatever the cache holds. Keyset pagination makes a deep page cost what
// the first page costs.
func (s *Store) Feed(ctx context.Context, q FeedQuery) (PostPage, error) {
	if err := checkLimit(q.Limit); err != nil {
		return PostPage{}, err
	}
	if err := s.beginRead(ctx); err != nil {
		return PostPage{}, err
	}
	defer s.endRead()
	list := int64(feedList)
	if q.AuthorID != nil {
		list = *q.AuthorID
	}
	var before *feedKey
	if q.After != nil {
		before = &feedKey{q.After.CreatedAt, q.After.ID}
	}
	w := s.cache.window(list, before, q.Limit+1, make([]*cachedPost, 0, q.Limit+1))
	page := PostPage{Posts: make([]Post, 0, q.Limit+1)}
	entries := make([]*cachedPost, 0, q.Limit+1)
	misses, err := s.readPage(ctx, q, &w, &page.Posts, &entries)
	if errors.Is(err, errNotInWindow) {
		// Something wrote posts without this store, so nothing the cache
		// holds can be trusted: empty it and read the page from the table.
		s.cache.reset()
		w = window{}
		page.Posts, entries = page.Posts[:0], entries[:0]
		_, err = s.readPage(ctx, q, &w, &page.Posts, &entries)
		misses = 0 // and put nothing back
	}
	if err != nil {
		return PostPage{}, err
	}
	if misses > 0 {
		s.cache.tableReads.Add(int64(misses))
		lo, hi := pageRange(&w, before, entries, q.Limit)
		s.cache.fill(list, w.gen, lo, hi, entries)
	}
	if len(page.Posts) > q.Limit {
		page.Posts = page.Posts[:q.Limit]
		last := page.Posts[q.Limit-1]
		page.Next = &PostCursor{CreatedAt: millis(last.CreatedAt), ID: last.ID}
	}
	return page, nil
}

// errNotInWindow means the table holds a post in a page's cache window that
// the window does not.
var errNotInWindow = errors.New("store: a post in the cache's range is not cached")

// readPage runs a page's query with window w and parses what it returns.
func (s *Store) readPage(ctx context.Context, q FeedQuery, w *window, posts *[]Post, entries *[]*cachedPost) (int, error) {
	likedLo, likedHi := int64(1), int64(0)
	for i, e := range w.posts {
		if i == 0 || e.id < likedLo {
			likedLo = e.id
		}
		likedHi = max(likedHi, e.id)
	}
	var stmt *sql.Stmt
	switch {
	case q.AuthorID == nil && q.After == nil:
		stmt = s.stmts.feedFirst
	case q.AuthorID == nil:
		stmt = s.stmts.feedAfter
	case q.After == nil:
		stmt = s.stmts.timelineFirst
	default:
		stmt = s.stmts.timelineAfter
	}
	// One row always comes back: group_concat of no rows is NULL.
	var cols [5]sql.NullString
	if err := stmt.QueryRowContext(ctx, pageArgs(q, w, likedLo, likedHi)...).Scan(&cols[0], &cols[1], &cols[2], &cols[3], &cols[4]); err != nil {
		return 0, err
	}
	return parsePage(pageText{ids: cols[0].String, likes: cols[1].String, comments: cols[2].String,
		misses: cols[3].String, liked: cols[4].String}, w.posts, posts, entries)
}

// pageText is what a page query returns; see pageColumns.
type pageText struct{ ids, likes, comments, misses, liked string }

// parsePage reads what a page query returned into posts, newest first,
// taking each post's unchanging part from the window or from the query;
// entries gets the cached form of each post, in the same order. It returns
// how many posts came from the table.
func parsePage(t pageText, window []*cachedPost, posts *[]Post, entries *[]*cachedPost) (int, error) {
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
		p.Author, p.Content, p.MediaJSON, p.CreatedAt, p.Rendered = e.author, e.content, e.mediaJSON, e.createdAt(), &e.rendered
		*posts = append(*posts, p)
		*entries = append(*entries, e)
	}
	if len(misses) > 0 || likes != "" || comments != "" {
		return 0, errors.New("store: page columns do not match")
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

// Like records that user likes post; liking twice is one like.
func (s *Store) Like(ctx context.Context, postID, userID int64) error {
	return s.withTx(ctx, func(tx *sql.Tx) error {
		if err := postExists(ctx, tx, postID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO likes (post_id, user_id, created_at) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, postID, userID, millis(s.now()))
		return err
	})
}

// Unlike removes user's like of post, if there is one.
func (s *Store) Unlike(ctx context.Context, postID, userID int64) error {
	return s.withTx(ctx, func(tx *sql.Tx) error {
		if err := postExists(ctx, tx, postID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM likes WHERE post_id = ? AND user_id = ?`, postID, userID)
		return err
	})
}

func postExists(ctx context.Context, tx *sql.Tx, id int64) error {
	var one int
	return formatError(tx.QueryRowContext(ctx, `SELECT 1 FROM posts WHERE id = ?`, id).Scan(&one))
}
