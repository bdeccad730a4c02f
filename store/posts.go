package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
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
	MediaJSON string
	CreatedAt time.Time
	Audience  Audience
	EditedAt  time.Time // zero until edited
	// CircleIDsJSON and HiddenFromJSON are the JSON arrays of the author's
	// circles the post is shown to (Circles) and hidden from
	// (MembersHidden): the author's business alone.
	CircleIDsJSON, HiddenFromJSON string
	LikeCount                     int64
	CommentCount                  int64
	LikedByMe                     bool
	// Rendered keeps a caller's rendering of the fields above that only a
	// write changes (all but the counters and LikedByMe) for as long as the
	// feed cache holds the post; nil when the post did not come from a page.
	Rendered *Rendered
}

func (p Post) key() Key { return Key{millis(p.CreatedAt), p.ID} }

// MediaURLs decodes the post's media URLs.
func (p Post) MediaURLs() ([]string, error) {
	var urls []string
	err := json.Unmarshal([]byte(p.MediaJSON), &urls)
	return urls, err
}

// CircleIDs decodes the circles the post is shown to.
func (p Post) CircleIDs() []int64 { return decodeIDs(p.CircleIDsJSON) }

// HiddenFrom decodes the circles the post is hidden from.
func (p Post) HiddenFrom() []int64 { return decodeIDs(p.HiddenFromJSON) }

func decodeIDs(s string) []int64 {
	var ids []int64
	_ = json.Unmarshal([]byte(s), &ids) // the column's CHECK keeps it a JSON array
	return ids
}

// postColumns is what every post query selects, in scanPost's order. The
// last column (liked by the viewer) is an index lookup on likes' primary
// key. ?1 is the viewer, as for the audience rule.
const postColumns = `p.id, p.content, p.media_urls, p.created_at, p.audience, ifnull(p.edited_at, 0),
	p.circle_ids, p.hidden_from, p.like_count, p.comment_count,
	u.id, u.username, u.display_name, u.avatar_url,
	EXISTS (SELECT 1 FROM likes l WHERE l.post_id = p.id AND l.user_id = ?1)`

// postByIDQuery reads one post the viewer may see; ?4 is its ID.
func postByIDQuery() string {
	return `SELECT ` + postColumns + ` FROM posts p JOIN users u ON u.id = p.user_id WHERE p.id = ?4 AND ` + visibleTo("p")
}

const (
	// The writer chooses the ID and time (postKeys.next); the author's display
	// fields come back with the insert, so creating a post needs no second
	// query. The author's history window comes with the author (?2).
	insertPostQuery = `INSERT INTO posts (id, user_id, content, media_urls, created_at, audience, history_days, circle_ids, hidden_from)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT history_visible_days FROM users WHERE id = ?2), ?7, ?8)
		RETURNING user_id,
			(SELECT username FROM users WHERE id = user_id),
			(SELECT display_name FROM users WHERE id = user_id),
			(SELECT avatar_url FROM users WHERE id = user_id)`
)

func scanPost(row rowScanner) (Post, error) {
	var p Post
	var created, edited int64
	err := row.Scan(&p.ID, &p.Content, &p.MediaJSON, &created, &p.Audience, &edited, &p.CircleIDsJSON, &p.HiddenFromJSON,
		&p.LikeCount, &p.CommentCount, &p.Author.ID, &p.Author.Username, &p.Author.DisplayName, &p.Author.AvatarURL, &p.LikedByMe)
	p.CreatedAt = fromMillis(created)
	if edited != 0 {
		p.EditedAt = fromMillis(edited)
	}
	return p, formatError(err)
}

// PostInput is a new post. Audience is Members, Circles, OnlyMe or Public;
// a Members post with HiddenFrom circles is stored as MembersHidden.
type PostInput struct {
	Content    string
	MediaURLs  []string
	Audience   Audience
	CircleIDs  []int64 // for Circles: 1–MaxPostCircles of the author's circles
	HiddenFrom []int64 // for Members: up to MaxPostCircles of the author's circles
}

// CreatePost stores a post by userID and returns it as its author sees it.
func (s *Store) CreatePost(ctx context.Context, userID int64, in PostInput) (Post, error) {
	media, err := postMedia(in.Content, in.MediaURLs)
	if err != nil {
		return Post{}, err
	}
	if in.Audience != DefaultAudience {
		// Refused before queueing for the writer when it can be.
		if _, err := s.checkAudience(in.Audience, in.CircleIDs, in.HiddenFrom, false); err != nil {
			return Post{}, err
		}
	}
	p := Post{Content: in.Content, MediaJSON: media}
	err = s.withTxThen(ctx, func(tx *sql.Tx) error {
		if in.Audience == DefaultAudience {
			if err := tx.QueryRowContext(ctx, `SELECT default_audience FROM users WHERE id = ?`, userID).
				Scan(&in.Audience); err != nil {
				return err
			}
			if in.Audience == Public && !s.publicPosts {
				in.Audience = Members
			}
		}
		aud, err := s.checkAudience(in.Audience, in.CircleIDs, in.HiddenFrom, false)
		if err != nil {
			return err
		}
		if err := aud.checkOwner(ctx, tx, userID); err != nil {
			return err
		}
		p.Audience, p.CircleIDsJSON, p.HiddenFromJSON = aud.audience, aud.circlesJSON, aud.hiddenJSON
		key := s.keys.next(millis(s.now()))
		p.ID, p.CreatedAt = key.id, fromMillis(key.at)
		err = tx.StmtContext(ctx, s.stmts.insertPost).QueryRowContext(ctx,
			key.id, userID, p.Content, p.MediaJSON, key.at, p.Audience, p.CircleIDsJSON, p.HiddenFromJSON).
			Scan(&p.Author.ID, &p.Author.Username, &p.Author.DisplayName, &p.Author.AvatarURL)
		if err != nil {
			return err
		}
		return aud.store(ctx, tx, p.ID)
	}, func() {
		// A new post is at the top of the feed: have it ready. This runs
		// before any later write, so the author's fields are still current.
		s.cache.added(cachedPostOf(&p))
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

// Post returns one post as viewer (0: a visitor) sees it, or ErrNotFound
// if it does not exist or the viewer may not see it: the two are one.
func (s *Store) Post(ctx context.Context, id, viewer int64) (Post, error) {
	if err := s.beginRead(ctx); err != nil {
		return Post{}, err
	}
	defer s.endRead()
	return scanPost(s.stmts.postByID.QueryRowContext(ctx, s.ruleArgs(Viewer{ID: viewer}, id)...))
}

// PostOwner returns the ID of a post's author and whether viewer may see
// the post: what deciding who may change or delete it needs. Admins may
// delete a post they cannot see, by its ID; everyone else is told it does
// not exist. ErrNotFound is for a post that does not exist at all.
func (s *Store) PostOwner(ctx context.Context, id, viewer int64) (author int64, visible bool, err error) {
	if err := s.beginRead(ctx); err != nil {
		return 0, false, err
	}
	defer s.endRead()
	err = s.reader.QueryRowContext(ctx, `SELECT p.user_id, `+visibleTo("p")+` FROM posts p WHERE p.id = ?4`,
		s.ruleArgs(Viewer{ID: viewer}, id)...).Scan(&author, &visible)
	return author, visible, formatError(err)
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

// PostChange is an edit of a post; fields left nil stay as they are. A
// change of Audience that needs circles (Circles) or drops them says which
// with CircleIDs and HiddenFrom.
type PostChange struct {
	Content    *string
	MediaURLs  *[]string
	Audience   *Audience
	CircleIDs  *[]int64
	HiddenFrom *[]int64
}

// UpdatePost applies an edit by the post's author: content, photos and
// audience; its time, likes and comments stay, and edited_at is set. It
// returns the post as its author sees it, and ErrNotFound for a post that
// is not the author's. The feed cache gets the changed post in place of
// the old one after the commit.
func (s *Store) UpdatePost(ctx context.Context, id, author int64, ch PostChange) (Post, error) {
	var p Post
	err := s.withTxThen(ctx, func(tx *sql.Tx) error {
		cur, err := scanPost(tx.QueryRowContext(ctx, postByIDQuery(), s.ruleArgs(Viewer{ID: author}, id)...))
		if err != nil {
			return err
		}
		if cur.Author.ID != author {
			return ErrNotFound
		}
		if ch == (PostChange{}) {
			p = cur // nothing to change is not an edit
			return nil
		}
		in := PostInput{Content: cur.Content, Audience: cur.Audience, CircleIDs: cur.CircleIDs(), HiddenFrom: cur.HiddenFrom()}
		if in.Audience == MembersHidden {
			in.Audience = Members
		}
		if in.MediaURLs, err = cur.MediaURLs(); err != nil {
			return err
		}
		if ch.Content != nil {
			in.Content = *ch.Content
		}
		if ch.MediaURLs != nil {
			in.MediaURLs = *ch.MediaURLs
		}
		// A public post stays public through edits on an instance that
		// has stopped allowing new ones (its visitors read nothing).
		keepPublic := in.Audience == Public && (ch.Audience == nil || *ch.Audience == Public)
		if ch.Audience != nil && *ch.Audience != in.Audience {
			// Circles of the audience left behind do not follow it.
			in.Audience, in.CircleIDs, in.HiddenFrom = *ch.Audience, nil, nil
		}
		if ch.CircleIDs != nil {
			in.CircleIDs = *ch.CircleIDs
		}
		if ch.HiddenFrom != nil {
			in.HiddenFrom = *ch.HiddenFrom
		}
		media, err := postMedia(in.Content, in.MediaURLs)
		if err != nil {
			return err
		}
		// An edit that leaves the audience alone keeps it as it is, even
		// if it would not be taken new (a post for circles that were all
		// deleted since).
		aud := audienceOf{audience: cur.Audience, circles: cur.CircleIDs(), hidden: cur.HiddenFrom(),
			circlesJSON: cur.CircleIDsJSON, hiddenJSON: cur.HiddenFromJSON}
		if ch.Audience != nil || ch.CircleIDs != nil || ch.HiddenFrom != nil {
			if aud, err = s.checkAudience(in.Audience, in.CircleIDs, in.HiddenFrom, keepPublic); err != nil {
				return err
			}
			if err := aud.checkOwner(ctx, tx, author); err != nil {
				return err
			}
		}
		edited := millis(s.now())
		if _, err := tx.ExecContext(ctx, `UPDATE posts SET content = ?, media_urls = ?, audience = ?, circle_ids = ?,
			hidden_from = ?, edited_at = ? WHERE id = ?`,
			in.Content, media, aud.audience, aud.circlesJSON, aud.hiddenJSON, edited, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM post_circles WHERE post_id = ?`, id); err != nil {
			return err
		}
		if err := aud.store(ctx, tx, id); err != nil {
			return err
		}
		p = cur
		p.Content, p.MediaJSON, p.Audience = in.Content, media, aud.audience
		p.CircleIDsJSON, p.HiddenFromJSON, p.EditedAt = aud.circlesJSON, aud.hiddenJSON, fromMillis(edited)
		return nil
	}, func() { s.cache.replaced(cachedPostOf(&p)) })
	if err != nil {
		return Post{}, formatError(err)
	}
	return p, nil
}

// audienceOf is an audience checked for storing: the code, and the circles
// as the JSON arrays the post keeps.
type audienceOf struct {
	audience                Audience
	circles, hidden         []int64
	circlesJSON, hiddenJSON string
}

// checkAudience checks an audience and its circles the way the API does,
// without the database (checkOwner does that part).
// keepPublic lets an existing public post stay public whatever the
// instance allows now.
func (s *Store) checkAudience(a Audience, circles, hidden []int64, keepPublic bool) (audienceOf, error) {
	out := audienceOf{audience: a, circles: dedupe(circles), hidden: dedupe(hidden)}
	switch a {
	case Members:
		if len(out.circles) > 0 {
			return out, invalidField("circle_ids", "are only for an audience of circles")
		}
		if len(out.hidden) > MaxPostCircles {
			return out, invalidField("hidden_from", "names at most %d circles", MaxPostCircles)
		}
		if len(out.hidden) > 0 {
			out.audience = MembersHidden
		}
	case Circles:
		if len(out.circles) == 0 || len(out.circles) > MaxPostCircles {
			return out, invalidField("circle_ids", "must name 1 to %d circles", MaxPostCircles)
		}
		if len(out.hidden) > 0 {
			return out, invalidField("hidden_from", "is only for an audience of members")
		}
	case OnlyMe, Public:
		if len(out.circles) > 0 || len(out.hidden) > 0 {
			return out, invalidField("audience", "takes no circle_ids or hidden_from: those are for audiences of circles and members")
		}
		if a == Public && !s.publicPosts && !keepPublic {
			return out, invalidField("audience", "cannot be public: this instance does not allow public posts")
		}
	default:
		return out, invalidField("audience", "must be one of members, circles, only_me, public")
	}
	c, _ := json.Marshal(out.circles)
	h, _ := json.Marshal(out.hidden)
	out.circlesJSON, out.hiddenJSON = string(c), string(h)
	return out, nil
}

// checkOwner refuses circles that are not owner's.
func (a audienceOf) checkOwner(ctx context.Context, tx *sql.Tx, owner int64) error {
	all := append(slices.Clone(a.circles), a.hidden...)
	if len(all) == 0 {
		return nil
	}
	ids, _ := json.Marshal(all)
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM circles
		WHERE owner_id = ? AND id IN (SELECT value FROM json_each(?))`, owner, string(ids)).Scan(&n); err != nil {
		return err
	}
	if n != len(dedupe(all)) {
		field := "circle_ids"
		if len(a.circles) == 0 {
			field = "hidden_from"
		}
		return invalidField(field, "must name circles of your own")
	}
	return nil
}

// store writes the post's circles for the audience rule.
func (a audienceOf) store(ctx context.Context, tx *sql.Tx, post int64) error {
	for hidden, ids := range [][]int64{a.circles, a.hidden} {
		for _, c := range ids {
			if _, err := tx.ExecContext(ctx, `INSERT INTO post_circles (post_id, circle_id, hidden) VALUES (?, ?, ?)`,
				post, c, hidden); err != nil {
				return err
			}
		}
	}
	return nil
}

// dedupe returns ids sorted, each once, never nil.
func dedupe(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []int64{}
	}
	return out
}

// Like records that user likes a post they may see; liking twice is one
// like. A post they may not see is ErrNotFound.
func (s *Store) Like(ctx context.Context, postID, userID int64) error {
	return s.withTx(ctx, func(tx *sql.Tx) error {
		if err := s.postVisible(ctx, tx, postID, userID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO likes (post_id, user_id, created_at) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`, postID, userID, millis(s.now()))
		return err
	})
}

// Unlike removes user's like of a post they may see, if there is one.
func (s *Store) Unlike(ctx context.Context, postID, userID int64) error {
	return s.withTx(ctx, func(tx *sql.Tx) error {
		if err := s.postVisible(ctx, tx, postID, userID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM likes WHERE post_id = ? AND user_id = ?`, postID, userID)
		return err
	})
}

// postVisible is ErrNotFound unless the post exists and viewer may see it.
func (s *Store) postVisible(ctx context.Context, tx *sql.Tx, id, viewer int64) error {
	var one int
	return formatError(tx.QueryRowContext(ctx, `SELECT 1 FROM posts p WHERE p.id = ?4 AND `+visibleTo("p"),
		s.ruleArgs(Viewer{ID: viewer}, id)...).Scan(&one))
}

// Liker is a member who likes a post.
type Liker struct {
	Author
	LikedAt time.Time
}

// Likes returns who likes a post the viewer may see, newest like first,
// up to limit after the cursor, and the next page's cursor (nil: no more).
// A post the viewer may not see is ErrNotFound.
func (s *Store) Likes(ctx context.Context, postID, viewer int64, limit int, after *Key) ([]Liker, *Key, error) {
	if err := checkLimit(limit); err != nil {
		return nil, nil, err
	}
	if err := s.beginRead(ctx); err != nil {
		return nil, nil, err
	}
	defer s.endRead()
	// The post's visibility and its likes in one statement: the LEFT JOIN
	// yields one row of NULLs for a post without likes, and none for a post
	// that is not there for this viewer.
	var cursor Key
	if after != nil {
		cursor = *after
	} else {
		cursor = Key{CreatedAt: 1<<63 - 1, ID: 1<<63 - 1}
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT l.created_at, u.id, u.username, u.display_name, u.avatar_url
		FROM posts p LEFT JOIN likes l ON l.post_id = p.id AND (l.created_at, l.user_id) < (?5, ?6)
		LEFT JOIN users u ON u.id = l.user_id
		WHERE p.id = ?4 AND `+visibleTo("p")+`
		ORDER BY l.created_at DESC, l.user_id DESC LIMIT ?7`,
		s.ruleArgs(Viewer{ID: viewer}, postID, cursor.CreatedAt, cursor.ID, limit+1)...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	found := false
	likers := make([]Liker, 0, limit)
	for rows.Next() {
		found = true
		var at, id sql.NullInt64
		var username, display, avatar sql.NullString
		if err := rows.Scan(&at, &id, &username, &display, &avatar); err != nil {
			return nil, nil, err
		}
		if !id.Valid {
			continue // the post is there, without likes (left)
		}
		likers = append(likers, Liker{LikedAt: fromMillis(at.Int64), Author: Author{
			ID: id.Int64, Username: username.String, DisplayName: display.String, AvatarURL: avatar.String}})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if !found {
		return nil, nil, ErrNotFound
	}
	likers, next := trimPage(likers, limit, func(l Liker) Key { return Key{millis(l.LikedAt), l.ID} })
	return likers, next, nil
}
