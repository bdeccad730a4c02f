package store

import (
	"context"
	"database/sql"
	"time"
)

// Comment is a comment with its author.
type Comment struct {
	ID        int64
	PostID    int64
	Author    Author
	Content   string
	CreatedAt time.Time
}

const commentColumns = `c.id, c.post_id, c.content, c.created_at, u.id, u.username, u.display_name, u.avatar_url`

func scanComment(row rowScanner) (Comment, error) {
	var c Comment
	var created int64
	err := row.Scan(&c.ID, &c.PostID, &c.Content, &created,
		&c.Author.ID, &c.Author.Username, &c.Author.DisplayName, &c.Author.AvatarURL)
	c.CreatedAt = fromMillis(created)
	return c, formatError(err)
}

// CreateComment adds a comment by userID to a post they may see. A post
// that is not there for them is ErrNotFound.
func (s *Store) CreateComment(ctx context.Context, postID, userID int64, content string) (Comment, error) {
	if err := checkText("content", content, 1, MaxCommentChars); err != nil {
		return Comment{}, err
	}
	var c Comment
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if err := s.postVisible(ctx, tx, postID, userID); err != nil {
			return err
		}
		var id int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO comments (post_id, user_id, content, created_at)
			VALUES (?, ?, ?, ?) RETURNING id`, postID, userID, content, millis(s.now())).Scan(&id); err != nil {
			return err
		}
		var err error
		c, err = scanComment(tx.QueryRowContext(ctx, `SELECT `+commentColumns+`
			FROM comments c JOIN users u ON u.id = c.user_id WHERE c.id = ?`, id))
		return err
	})
	return c, formatError(err)
}

// Comments returns up to limit comments of a post the viewer may see,
// oldest first, after the cursor, and the cursor of the next page (nil: no
// more). A post that is not there for the viewer is ErrNotFound.
func (s *Store) Comments(ctx context.Context, postID, viewer int64, limit int, after *Key) ([]Comment, *Key, error) {
	if err := checkLimit(limit); err != nil {
		return nil, nil, err
	}
	if err := s.beginRead(ctx); err != nil {
		return nil, nil, err
	}
	defer s.endRead()
	// The post's visibility and its comments in one statement: the LEFT
	// JOIN yields one row of NULLs for a post without comments, and none
	// for a post that is not there for this viewer.
	cursor := Key{CreatedAt: -1 << 63, ID: -1 << 63}
	if after != nil {
		cursor = *after
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT `+commentColumns+`
		FROM posts p LEFT JOIN comments c ON c.post_id = p.id AND (c.created_at, c.id) > (?5, ?6)
		LEFT JOIN users u ON u.id = c.user_id
		WHERE p.id = ?4 AND `+visibleTo("p")+` ORDER BY c.created_at, c.id LIMIT ?7`,
		s.ruleArgs(Viewer{ID: viewer}, postID, cursor.CreatedAt, cursor.ID, limit+1)...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	found := false
	comments := make([]Comment, 0, limit)
	for rows.Next() {
		found = true
		var id sql.NullInt64
		var postID2, created, authorID sql.NullInt64
		var content, username, display, avatar sql.NullString
		if err := rows.Scan(&id, &postID2, &content, &created, &authorID, &username, &display, &avatar); err != nil {
			return nil, nil, err
		}
		if !id.Valid {
			continue // the post exists but has no comments (left)
		}
		comments = append(comments, Comment{
			ID:        id.Int64,
			PostID:    postID2.Int64,
			Content:   content.String,
			CreatedAt: fromMillis(created.Int64),
			Author: Author{
				ID: authorID.Int64, Username: username.String,
				DisplayName: display.String, AvatarURL: avatar.String,
			},
		})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if !found {
		return nil, nil, ErrNotFound
	}
	comments, next := trimPage(comments, limit, func(c Comment) Key { return Key{millis(c.CreatedAt), c.ID} })
	return comments, next, nil
}

// CommentOwners returns who may delete a comment besides admins: its author
// and the author of its post, and whether the viewer may see the post (a
// comment under a post the viewer may not see is as if it did not exist).
func (s *Store) CommentOwners(ctx context.Context, id, viewer int64) (commentAuthor, postAuthor int64, visible bool, err error) {
	if err := s.beginRead(ctx); err != nil {
		return 0, 0, false, err
	}
	defer s.endRead()
	err = s.reader.QueryRowContext(ctx, `SELECT c.user_id, p.user_id, `+visibleTo("p")+`
		FROM comments c JOIN posts p ON p.id = c.post_id WHERE c.id = ?4`, s.ruleArgs(Viewer{ID: viewer}, id)...).
		Scan(&commentAuthor, &postAuthor, &visible)
	return commentAuthor, postAuthor, visible, formatError(err)
}

// DeleteComment deletes a comment.
func (s *Store) DeleteComment(ctx context.Context, id int64) error {
	return s.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM comments WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}
