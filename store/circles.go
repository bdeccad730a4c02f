package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"moments/internal/textclean"
)

// ErrTooMany means a write would pass a count limit: MaxCircles circles of
// one member, MaxCircleMembers members of one circle.
var ErrTooMany = errors.New("too many")

// Circle is one of a member's named lists of other members. Circles are
// their owner's alone: every method takes the owner and answers
// ErrNotFound for a circle of someone else's, as for one that is not there.
type Circle struct {
	ID          int64
	Name        string
	MemberCount int
	CreatedAt   time.Time
}

const circleColumns = `id, name, member_count, created_at`

func scanCircle(row rowScanner) (Circle, error) {
	var c Circle
	var created int64
	err := row.Scan(&c.ID, &c.Name, &c.MemberCount, &created)
	c.CreatedAt = fromMillis(created)
	return c, formatError(err)
}

// checkCircleName checks a circle's name, trimmed, and returns it.
func checkCircleName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if err := checkLine("name", name, MaxCircleNameChars); err != nil {
		return "", err
	}
	if name == "" {
		return "", invalidField("name", "must not be empty")
	}
	return name, nil
}

// Circles returns owner's circles, by name.
func (s *Store) Circles(ctx context.Context, owner int64) ([]Circle, error) {
	if err := s.beginRead(ctx); err != nil {
		return nil, err
	}
	defer s.endRead()
	rows, err := s.reader.QueryContext(ctx, `SELECT `+circleColumns+` FROM circles WHERE owner_id = ?
		ORDER BY name_key, id`, owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	circles := []Circle{}
	for rows.Next() {
		c, err := scanCircle(rows)
		if err != nil {
			return nil, err
		}
		circles = append(circles, c)
	}
	return circles, rows.Err()
}

// CreateCircle makes a circle for owner. A name owner already uses, in any
// letter case, is ErrConflict; a circle past MaxCircles is ErrTooMany.
func (s *Store) CreateCircle(ctx context.Context, owner int64, name string) (Circle, error) {
	name, err := checkCircleName(name)
	if err != nil {
		return Circle{}, err
	}
	var c Circle
	err = s.withTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM circles WHERE owner_id = ?`, owner).Scan(&n); err != nil {
			return err
		}
		if n >= MaxCircles {
			return ErrTooMany
		}
		c, err = scanCircle(tx.QueryRowContext(ctx, `INSERT INTO circles (owner_id, name, name_key, created_at)
			VALUES (?, ?, ?, ?) RETURNING `+circleColumns, owner, name, textclean.FoldKey(name), millis(s.now())))
		return err
	})
	return c, formatError(err)
}

// RenameCircle renames one of owner's circles.
func (s *Store) RenameCircle(ctx context.Context, owner, id int64, name string) (Circle, error) {
	name, err := checkCircleName(name)
	if err != nil {
		return Circle{}, err
	}
	var c Circle
	err = s.withTx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = scanCircle(tx.QueryRowContext(ctx, `UPDATE circles SET name = ?, name_key = ?
			WHERE id = ? AND owner_id = ? RETURNING `+circleColumns, name, textclean.FoldKey(name), id, owner))
		return err
	})
	return c, formatError(err)
}

// DeleteCircle deletes one of owner's circles, and so every membership in
// it. Posts shown to it lose it (a post shown to it alone is then seen by
// its author alone); posts hidden from it are seen again by its members.
func (s *Store) DeleteCircle(ctx context.Context, owner, id int64) error {
	return s.withTxThen(ctx, func(tx *sql.Tx) error {
		var posts string
		if err := tx.QueryRowContext(ctx, `SELECT json_group_array(post_id) FROM post_circles WHERE circle_id = ?`, id).
			Scan(&posts); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM circles WHERE id = ? AND owner_id = ?`, id, owner)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		// The posts' own lists follow what the cascade left in post_circles.
		_, err = tx.ExecContext(ctx, `UPDATE posts SET
			circle_ids = (SELECT json_group_array(circle_id) FROM (SELECT circle_id FROM post_circles
				WHERE post_id = posts.id AND hidden = 0 ORDER BY circle_id)),
			hidden_from = (SELECT json_group_array(circle_id) FROM (SELECT circle_id FROM post_circles
				WHERE post_id = posts.id AND hidden = 1 ORDER BY circle_id)),
			audience = CASE WHEN audience = 1 AND NOT EXISTS (SELECT 1 FROM post_circles
				WHERE post_id = posts.id AND hidden = 1) THEN 0 ELSE audience END
			WHERE id IN (SELECT value FROM json_each(?))`, posts)
		return err
	}, func() {
		// Cached posts may name the circle. Circles go rarely, and an empty
		// cache is always right.
		s.cache.reset()
	})
}

// circleOwned is ErrNotFound unless circle id is owner's.
func circleOwned(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, owner, id int64) error {
	var one int
	return formatError(q.QueryRowContext(ctx, `SELECT 1 FROM circles WHERE id = ? AND owner_id = ?`, id, owner).Scan(&one))
}

// CircleMember is a member of a circle, with when they were added.
type CircleMember struct {
	Author
	AddedAt time.Time
}

// CircleMembers returns the members of one of owner's circles, the last
// added first, up to limit after the cursor, and the next page's cursor.
func (s *Store) CircleMembers(ctx context.Context, owner, id int64, limit int, after *Key) ([]CircleMember, *Key, error) {
	if err := checkLimit(limit); err != nil {
		return nil, nil, err
	}
	if err := s.beginRead(ctx); err != nil {
		return nil, nil, err
	}
	defer s.endRead()
	if err := circleOwned(ctx, s.reader, owner, id); err != nil {
		return nil, nil, err
	}
	cursor := Key{CreatedAt: 1<<63 - 1, ID: 1<<63 - 1}
	if after != nil {
		cursor = *after
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT cm.created_at, u.id, u.username, u.display_name, u.avatar_url
		FROM circle_members cm JOIN users u ON u.id = cm.user_id
		WHERE cm.circle_id = ? AND (cm.created_at, cm.user_id) < (?, ?)
		ORDER BY cm.created_at DESC, cm.user_id DESC LIMIT ?`, id, cursor.CreatedAt, cursor.ID, limit+1)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	members := make([]CircleMember, 0, limit)
	for rows.Next() {
		var m CircleMember
		var added int64
		if err := rows.Scan(&added, &m.ID, &m.Username, &m.DisplayName, &m.AvatarURL); err != nil {
			return nil, nil, err
		}
		m.AddedAt = fromMillis(added)
		members = append(members, m)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	members, next := trimPage(members, limit, func(m CircleMember) Key { return Key{millis(m.AddedAt), m.ID} })
	return members, next, nil
}

// AddCircleMember puts the member named username into one of owner's
// circles; adding someone twice is adding them once. An unknown name is
// ErrNotFound, a member past MaxCircleMembers ErrTooMany.
func (s *Store) AddCircleMember(ctx context.Context, owner, id int64, username string) error {
	return s.withTx(ctx, func(tx *sql.Tx) error {
		member, err := circleAndMember(ctx, tx, owner, id, username)
		if err != nil {
			return err
		}
		var n int
		var in bool
		if err := tx.QueryRowContext(ctx, `SELECT member_count, EXISTS (SELECT 1 FROM circle_members
			WHERE circle_id = circles.id AND user_id = ?) FROM circles WHERE id = ?`, member, id).Scan(&n, &in); err != nil {
			return err
		}
		if in {
			return nil
		}
		if n >= MaxCircleMembers {
			return ErrTooMany
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO circle_members (circle_id, user_id, created_at) VALUES (?, ?, ?)`,
			id, member, millis(s.now()))
		return err
	})
}

// RemoveCircleMember takes the member named username out of one of owner's
// circles, if they are in it. An unknown name is ErrNotFound.
func (s *Store) RemoveCircleMember(ctx context.Context, owner, id int64, username string) error {
	return s.withTx(ctx, func(tx *sql.Tx) error {
		member, err := circleAndMember(ctx, tx, owner, id, username)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM circle_members WHERE circle_id = ? AND user_id = ?`, id, member)
		return err
	})
}

// circleAndMember is ErrNotFound unless circle id is owner's and someone
// is called username; it returns that member's ID.
func circleAndMember(ctx context.Context, tx *sql.Tx, owner, id int64, username string) (int64, error) {
	if err := circleOwned(ctx, tx, owner, id); err != nil {
		return 0, err
	}
	var member int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE username = ?`, username).Scan(&member)
	return member, formatError(err)
}
