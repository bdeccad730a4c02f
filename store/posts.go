package store

import (
	"context"
	"database/sql"
	"encoding/json"
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
	// The author's display fields come back with the insert, so creating a
	// post needs no second query.
	insertPostQuery = `INSERT INTO posts (user_id, content, media_urls, created_at) VALUES (?, ?, ?, ?)
		RETURNING id, user_id,
			(SELECT username FROM users WHERE id = user_id),
			(SELECT display_name FROM users WHERE id = user_id),
			(SELECT avatar_url FROM users WHERE id = user_id)`
)

// The page queries. Keyset pagination: each page starts strictly after the
// (created_at, id) of the last post of the previous one. The posts_feed and
// posts_user_timeline indexes hold every column the page reads for a post
// the feed cache holds, and likes_user answers "liked by me", so those
// posts never touch the posts table; for the others a correlated subquery
// reads the post and its author.
//
// The page comes back as one row holding one text value, so the driver
// converts one value instead of several per post. Each post is a record of
// space-separated integers,
//
//	id like_count comment_count liked_by_me n [json]
//
// where n is 0 for a post the cache holds, or else the length in bytes of
// the JSON array that follows, [user_id, username, display_name,
// avatar_url, content, media_urls, created_at]. Records are separated by
// one space. group_concat does not promise to keep the subquery's order, so
// parsePage puts the records in order itself.
const (
	pageRecord = `p.id || ' ' || p.like_count || ' ' || p.comment_count || ' ' || (l.user_id IS NOT NULL) || ' ' ||
	CASE WHEN ` + sqlFunctionName + `(:page, p.id) THEN '0' ELSE ifnull((
		SELECT length(CAST(j AS BLOB)) || ' ' || j FROM (
			SELECT json_array(u.id, u.username, u.display_name, u.avatar_url, r.content, r.media_urls, r.created_at) AS j
			FROM posts r JOIN users u ON u.id = r.user_id WHERE r.id = p.id)), 'missing') END`
	pageFrom  = ` FROM posts p LEFT JOIN likes l ON l.post_id = p.id AND l.user_id = :viewer`
	pageOrder = ` ORDER BY p.created_at DESC, p.id DESC LIMIT :limit`

	pageSelect         = `SELECT group_concat(record, ' ') FROM (SELECT ` + pageRecord + ` AS record` + pageFrom
	feedFirstQuery     = pageSelect + pageOrder + `)`
	feedAfterQuery     = pageSelect + ` WHERE (p.created_at, p.id) < (:at, :id)` + pageOrder + `)`
	timelineFirstQuery = pageSelect + ` WHERE p.user_id = :author` + pageOrder + `)`
	timelineAfterQuery = pageSelect + ` WHERE p.user_id = :author AND (p.created_at, p.id) < (:at, :id)` + pageOrder + `)`
)

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
	if mediaURLs == nil {
		mediaURLs = []string{}
	}
	media, err := json.Marshal(mediaURLs)
	if err != nil {
		return Post{}, err
	}
	p := Post{Content: content, MediaJSON: string(media), CreatedAt: fromMillis(millis(s.now()))}
	err = s.withTxThen(ctx, func(tx *sql.Tx) error {
		return tx.StmtContext(ctx, s.stmts.insertPost).QueryRowContext(ctx,
			userID, content, p.MediaJSON, millis(p.CreatedAt)).
			Scan(&p.ID, &p.Author.ID, &p.Author.Username, &p.Author.DisplayName, &p.Author.AvatarURL)
	}, func() {
		// A new post is at the top of the feed: have it ready. This runs
		// before any later write, so the author's fields are still current.
		s.cache.put(s.cache.gen.Load(), map[int64]*cachedPost{p.ID: {
			author: p.Author, content: p.Content, mediaJSON: p.MediaJSON, createdAt: p.CreatedAt,
		}})
	})
	if err != nil {
		return Post{}, formatError(err)
	}
	return p, nil
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
	return s.withTxThen(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM posts WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	}, func() { s.cache.forgetPost(id) })
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
	pageID, gen, pins := s.cache.begin()
	defer s.cache.end(pageID)
	args := []any{sql.Named("viewer", q.Viewer), sql.Named("limit", q.Limit+1), sql.Named("page", pageID)}
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
	if q.AuthorID != nil {
		args = append(args, sql.Named("author", *q.AuthorID))
	}
	if q.After != nil {
		args = append(args, sql.Named("at", q.After.CreatedAt), sql.Named("id", q.After.ID))
	}
	// One row always comes back: group_concat of no rows is NULL.
	var raw sql.NullString
	if err := stmt.QueryRowContext(ctx, args...).Scan(&raw); err != nil {
		return PostPage{}, err
	}
	page := PostPage{Posts: make([]Post, 0, q.Limit+1)}
	fresh, err := parsePage(raw.String, pins, &page.Posts)
	if err != nil {
		return PostPage{}, err
	}
	s.cache.put(gen, fresh)
	if len(page.Posts) > q.Limit {
		page.Posts = page.Posts[:q.Limit]
		last := page.Posts[q.Limit-1]
		page.Next = &PostCursor{CreatedAt: millis(last.CreatedAt), ID: last.ID}
	}
	return page, nil
}

// parsePage reads the records of a page query (see pageRecord) into posts,
// newest first, taking each post's unchanging part from the entries the
// query pinned or from the record. It returns the posts read from the
// table, for the cache.
func parsePage(raw string, pins *pinned, posts *[]Post) (map[int64]*cachedPost, error) {
	var fresh map[int64]*cachedPost
	sorted := true
	for raw != "" {
		var f [5]int64
		for i := range f {
			end := strings.IndexByte(raw, ' ')
			if end < 0 {
				end = len(raw)
			}
			n, err := strconv.ParseInt(raw[:end], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("store: unexpected page record near %.40q", raw)
			}
			f[i], raw = n, raw[min(end+1, len(raw)):]
		}
		p := Post{ID: f[0], LikeCount: f[1], CommentCount: f[2], LikedByMe: f[3] != 0}
		var e *cachedPost
		if n := f[4]; n > 0 {
			if n > int64(len(raw)) {
				return nil, fmt.Errorf("store: page record of post %d is cut short", p.ID)
			}
			var err error
			if e, err = decodeMiss(raw[:n]); err != nil {
				return nil, err
			}
			raw = raw[min(n+1, int64(len(raw))):]
			if fresh == nil {
				fresh = make(map[int64]*cachedPost)
			}
			fresh[p.ID] = e
		} else if e = pins.entries[p.ID]; e == nil {
			return nil, fmt.Errorf("store: post %d is neither cached nor read", p.ID)
		}
		p.Author, p.Content, p.MediaJSON, p.CreatedAt, p.Rendered = e.author, e.content, e.mediaJSON, e.createdAt, &e.rendered
		if k := len(*posts); k > 0 && !newerFirst(&(*posts)[k-1], &p) {
			sorted = false
		}
		*posts = append(*posts, p)
	}
	if !sorted {
		slices.SortFunc(*posts, func(a, b Post) int {
			if newerFirst(&a, &b) {
				return -1
			}
			return 1
		})
	}
	return fresh, nil
}

// newerFirst reports whether a comes before b in a newest-first list.
func newerFirst(a, b *Post) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
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
