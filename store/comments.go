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

// CreateComment adds a comment by userID to a post. A missing post is
// ErrNotFound.
func (s *Store) CreateComment(ctx context.Context, postID, userID int64, content string) (Comment, error) {
	if err := checkText("content", content, 1, MaxCommentChars); err != nil {
		return Comment{}, err
	}
	var c Comment
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if err := postExists(ctx, tx, postID); err != nil {
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

// Comments returns up to limit comments of a post, oldest first, after the
// cursor, and the cursor of the next page (nil: no more). A missing post is
// ErrNotFound.
func (s *Store) Comments(ctx context.Context, postID int64, limit int, after *Key) ([]Comment, *Key, error) {
	if err := checkLimit(limit); err != nil {
		return nil, nil, err
	}
	if err := s.beginRead(ctx); err != nil {
		return nil, nil, err
	}
	defer s.endRead()
	// The post's existence and its comments in one statement: the LEFT
	// JOIN yields one row of NULLs for a post without comments, and none
	// for a missing post.
	q := `SELECT ` + commentColumns + `
		FROM posts p LEFT JOIN comments c ON c.post_id = p.id`
	args := []any{sql.Named("post", postID), sql.Named("limit", limit+1)}
	if after != nil {
		q += ` AND (c.created_at, c.id) > (:at, :id)`
		args = append(args, sql.Named("at", after.CreatedAt), sql.Named("id", after.ID))
	}
	q += ` LEFT JOIN users u ON u.id = c.user_id
		WHERE p.id = :post ORDER BY c.created_at, c.id LIMIT :limit`
	rows, err := s.reader.QueryContext(ctx, q, args...)
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
// and the author of its post.
func (s *Store) CommentOwners(ctx context.Context, id int64) (commentAuthor, postAuthor int64, err error) {
	if err := s.beginRead(ctx); err != nil {
		return 0, 0, err
	}
	defer s.endRead()
	err = s.reader.QueryRowContext(ctx, `SELECT c.user_id, p.user_id
		FROM comments c JOIN posts p ON p.id = c.post_id WHERE c.id = ?`, id).Scan(&commentAuthor, &postAuthor)
	return commentAuthor, postAuthor, formatError(err)
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
