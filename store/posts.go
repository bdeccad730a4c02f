package store

import (
	"context"
	"database/sql"
	"encoding/json"
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

func (p Post) key() Key { return Key{millis(p.CreatedAt), p.ID} }

// MediaURLs decodes the post's media URLs.
func (p Post) MediaURLs() ([]string, error) {
	var urls []string
	err := json.Unmarshal([]byte(p.MediaJSON), &urls)
	return urls, err
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
	media, err := postMedia(content, mediaURLs)
	if err != nil {
		return Post{}, err
	}
	p := Post{Content: content, MediaJSON: media}
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

// postMedia checks a post's content and media URLs and returns the URLs as
// the JSON array the media_urls column stores (never null).
func postMedia(content string, mediaURLs []string) (string, error) {
	if err := checkPost(content, mediaURLs); err != nil {
		return "", err
	}
	if mediaURLs == nil {
		mediaURLs = []string{}
	}
	media, err := json.Marshal(mediaURLs)
	return string(media), err
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

// UpdatePost replaces a post's content and photos; its time, likes and
// comments stay. It returns the post as its author sees it. The feed cache
// gets the changed post in place of the old one after the commit.
func (s *Store) UpdatePost(ctx context.Context, id int64, content string, mediaURLs []string) (Post, error) {
	media, err := postMedia(content, mediaURLs)
	if err != nil {
		return Post{}, err
	}
	var p Post
	err = s.withTxThen(ctx, func(tx *sql.Tx) error {
		var author int64
		err := tx.QueryRowContext(ctx, `UPDATE posts SET content = ?, media_urls = ? WHERE id = ? RETURNING user_id`,
			content, media, id).Scan(&author)
		if err != nil {
			return formatError(err)
		}
		p, err = scanPost(tx.QueryRowContext(ctx, postByIDQuery, sql.Named("viewer", author), sql.Named("id", id)))
		return err
	}, func() {
		s.cache.replaced(&cachedPost{id: p.ID, key: feedKey{millis(p.CreatedAt), p.ID}, author: p.Author, content: p.Content, mediaJSON: p.MediaJSON})
	})
	if err != nil {
		return Post{}, formatError(err)
	}
	return p, nil
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
