package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

var (
	// ErrRegistrationClosed means only the first account may register itself.
	ErrRegistrationClosed = errors.New("registration is closed")
	// ErrLastAdmin means the change would leave the instance without an
	// active admin.
	ErrLastAdmin = errors.New("the last active admin cannot be demoted or disabled")
)

// User is an account. The password hash is deliberately not part of it, so
// it cannot leak through a value passed around for display.
type User struct {
	ID           int64
	Username     string
	DisplayName  string
	Bio          string
	AvatarURL    string
	IsAdmin      bool
	Disabled     bool
	TokenVersion int64
	CreatedAt    time.Time
	// HistoryVisibleDays limits how far back others see the user's posts:
	// 0 for all of them.
	HistoryVisibleDays int
	// DefaultAudience is what a new post gets when it names none: Members,
	// OnlyMe or Public.
	DefaultAudience Audience
}

// NewUser is what CreateUser needs.
type NewUser struct {
	Username     string
	PasswordHash string
	DisplayName  string
	// Admin makes the account an admin. The first account of an instance
	// is an admin whatever this says.
	Admin bool
	// OnlyFirst refuses with ErrRegistrationClosed unless the instance has
	// no account yet (self-registration on a closed instance).
	OnlyFirst bool
}

const userColumns = `id, username, display_name, bio, avatar_url, is_admin, disabled, token_version, created_at,
	history_visible_days, default_audience`

type rowScanner interface{ Scan(dest ...any) error }

// rowWithExtra scans a row of a scanner's columns followed by one more.
type rowWithExtra struct {
	row   rowScanner
	extra any
}

func (r rowWithExtra) Scan(dest ...any) error { return r.row.Scan(append(dest, r.extra)...) }

func scanUser(row rowScanner) (User, error) {
	var u User
	var created int64
	err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Bio, &u.AvatarURL,
		&u.IsAdmin, &u.Disabled, &u.TokenVersion, &created, &u.HistoryVisibleDays, &u.DefaultAudience)
	u.CreatedAt = fromMillis(created)
	return u, formatError(err)
}

// CreateUser adds an account. A username taken in any letter case is
// ErrConflict. Deciding "first account → admin" happens inside the same
// immediate transaction as the insert, so two racing first registrations
// cannot both become admin.
func (s *Store) CreateUser(ctx context.Context, nu NewUser) (User, error) {
	if err := checkNewUser(nu); err != nil {
		return User{}, err
	}
	var u User
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&exists); err != nil {
			return err
		}
		if exists && nu.OnlyFirst {
			return ErrRegistrationClosed
		}
		row := tx.QueryRowContext(ctx, `INSERT INTO users (username, password_hash, display_name, is_admin, created_at)
			VALUES (?, ?, ?, ?, ?) RETURNING `+userColumns,
			nu.Username, nu.PasswordHash, nu.DisplayName, nu.Admin || !exists, millis(s.now()))
		var err error
		u, err = scanUser(row)
		return err
	})
	return u, formatError(err)
}

// UserByUsername finds an account by name, ignoring letter case.
func (s *Store) UserByUsername(ctx context.Context, username string) (User, error) {
	if err := s.beginRead(ctx); err != nil {
		return User{}, err
	}
	defer s.endRead()
	return scanUser(s.reader.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE username = ?`, username))
}

// Principal is what authenticating a request needs to know of its user.
type Principal struct {
	ID           int64
	Username     string
	IsAdmin      bool
	Disabled     bool
	TokenVersion int64
}

const authUserQuery = `SELECT id, username, is_admin, disabled, token_version FROM users WHERE id = ?`

// AuthUser looks up the account a token names by its ID. It runs on every
// authenticated request, so it answers from the account cache when it can
// and otherwise runs a prepared statement that selects only what the check
// needs.
func (s *Store) AuthUser(ctx context.Context, id int64) (Principal, error) {
	if p, ok := s.accounts.get(id); ok {
		return p, nil
	}
	gen := s.accounts.gen.Load()
	if err := s.beginRead(ctx); err != nil {
		return Principal{}, err
	}
	defer s.endRead()
	var p Principal
	err := s.stmts.authUser.QueryRowContext(ctx, id).Scan(&p.ID, &p.Username, &p.IsAdmin, &p.Disabled, &p.TokenVersion)
	if err != nil {
		return Principal{}, formatError(err)
	}
	s.accounts.put(gen, id, p)
	return p, nil
}

// UserByID finds an account by ID.
func (s *Store) UserByID(ctx context.Context, id int64) (User, error) {
	if err := s.beginRead(ctx); err != nil {
		return User{}, err
	}
	defer s.endRead()
	return scanUser(s.reader.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
}

// Credentials returns the account and its password hash, for signing in.
func (s *Store) Credentials(ctx context.Context, username string) (User, string, error) {
	if err := s.beginRead(ctx); err != nil {
		return User{}, "", err
	}
	defer s.endRead()
	var hash string
	u, err := scanUser(rowWithExtra{s.reader.QueryRowContext(ctx,
		`SELECT `+userColumns+`, password_hash FROM users WHERE username = ?`, username), &hash})
	return u, hash, err
}

// ProfileUpdate changes the fields that are set.
type ProfileUpdate struct {
	DisplayName        *string
	Bio                *string
	AvatarURL          *string
	HistoryVisibleDays *int
	DefaultAudience    *Audience
}

// UpdateProfile changes a user's profile. A new history window applies to
// every post of theirs at once: each keeps a copy of it (history_days), so
// that the audience rule reads it from the feed's index.
func (s *Store) UpdateProfile(ctx context.Context, id int64, p ProfileUpdate) (User, error) {
	if err := s.checkProfile(p); err != nil {
		return User{}, err
	}
	var sets []string
	var args []any
	for _, f := range []struct {
		column string
		value  any
		set    bool
	}{
		{"display_name", p.DisplayName, p.DisplayName != nil},
		{"bio", p.Bio, p.Bio != nil},
		{"avatar_url", p.AvatarURL, p.AvatarURL != nil},
		{"history_visible_days", p.HistoryVisibleDays, p.HistoryVisibleDays != nil},
		{"default_audience", p.DefaultAudience, p.DefaultAudience != nil},
	} {
		if f.set {
			sets = append(sets, f.column+" = ?")
			args = append(args, f.value)
		}
	}
	if len(sets) == 0 {
		return s.UserByID(ctx, id)
	}
	args = append(args, id)
	var u User
	err := s.withTxThen(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx,
			`UPDATE users SET `+strings.Join(sets, ", ")+` WHERE id = ? RETURNING `+userColumns, args...))
		if err == nil && p.HistoryVisibleDays != nil {
			_, err = tx.ExecContext(ctx, `UPDATE posts SET history_days = ? WHERE user_id = ? AND history_days <> ?`,
				u.HistoryVisibleDays, id, u.HistoryVisibleDays)
		}
		return err
	}, func() {
		s.cache.profileChanged(Author{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, AvatarURL: u.AvatarURL})
	})
	return u, err
}

// SetPassword stores a new password hash and bumps the token version, which
// revokes every token issued before.
func (s *Store) SetPassword(ctx context.Context, id int64, hash string) error {
	return s.withTxThen(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE users SET password_hash = ?, token_version = token_version + 1 WHERE id = ?`, hash, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	}, s.accounts.forget)
}

// AdminUpdate changes the fields that are set.
type AdminUpdate struct {
	IsAdmin  *bool
	Disabled *bool
}

// UpdateAccount applies an admin's change to an account. Disabling bumps the
// token version so the user's tokens stop working at once (and stay revoked
// if the account is enabled again). A change that would leave no active
// admin is ErrLastAdmin and changes nothing.
func (s *Store) UpdateAccount(ctx context.Context, id int64, a AdminUpdate) (User, error) {
	var u User
	err := s.withTxThen(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, `UPDATE users SET
				is_admin = coalesce(?, is_admin),
				token_version = token_version + (coalesce(?, disabled) = 1 AND disabled = 0),
				disabled = coalesce(?, disabled)
			WHERE id = ? RETURNING `+userColumns, a.IsAdmin, a.Disabled, a.Disabled, id))
		if err != nil {
			return err
		}
		var admins int
		if err := tx.QueryRowContext(ctx,
			`SELECT count(*) FROM users WHERE is_admin = 1 AND disabled = 0`).Scan(&admins); err != nil {
			return err
		}
		if admins == 0 {
			return ErrLastAdmin
		}
		return nil
	}, s.accounts.forget)
	return u, err
}

// ListUsers returns up to limit users, newest first, after the cursor (nil:
// from the start), and the cursor of the next page (nil: no more).
func (s *Store) ListUsers(ctx context.Context, limit int, after *Key) ([]User, *Key, error) {
	if err := checkLimit(limit); err != nil {
		return nil, nil, err
	}
	if err := s.beginRead(ctx); err != nil {
		return nil, nil, err
	}
	defer s.endRead()
	q := `SELECT ` + userColumns + ` FROM users`
	args := []any{}
	if after != nil {
		q += ` WHERE (created_at, id) < (?, ?)`
		args = append(args, after.CreatedAt, after.ID)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := s.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	users := make([]User, 0, limit)
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, nil, err
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	users, next := trimPage(users, limit, func(u User) Key { return Key{millis(u.CreatedAt), u.ID} })
	return users, next, nil
}

// HasUsers reports whether any account exists: an instance without one is
// waiting for its first account, which becomes the admin.
func (s *Store) HasUsers(ctx context.Context) (bool, error) {
	if err := s.beginRead(ctx); err != nil {
		return false, err
	}
	defer s.endRead()
	var exists bool
	err := s.reader.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&exists)
	return exists, err
}

// SearchMembers finds up to limit active members whose username starts
// with q or whose display name contains it, ignoring letter case (ASCII),
// by username: for choosing whom to put in a circle.
func (s *Store) SearchMembers(ctx context.Context, q string, limit int) ([]Author, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	if err := s.beginRead(ctx); err != nil {
		return nil, err
	}
	defer s.endRead()
	pattern := likeEscaper.Replace(q)
	rows, err := s.reader.QueryContext(ctx, `SELECT id, username, display_name, avatar_url FROM users
		WHERE disabled = 0 AND (username LIKE ?1 || '%' ESCAPE '\' OR display_name LIKE '%' || ?1 || '%' ESCAPE '\')
		ORDER BY username LIMIT ?2`, pattern, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	found := []Author{}
	for rows.Next() {
		var a Author
		if err := rows.Scan(&a.ID, &a.Username, &a.DisplayName, &a.AvatarURL); err != nil {
			return nil, err
		}
		found = append(found, a)
	}
	return found, rows.Err()
}

// likeEscaper makes text match itself in a LIKE pattern with ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
