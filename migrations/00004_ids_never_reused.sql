-- +goose NO TRANSACTION
-- IDs are never used twice, not even after a delete: users, posts and
-- comments get AUTOINCREMENT, so a token, a link or a notification that
-- names an ID can never come to name someone else's account or post.
-- SQLite adds AUTOINCREMENT only by rebuilding a table. Foreign keys must
-- be off for that (dropping users would otherwise cascade to every post),
-- and that pragma cannot change inside a transaction, so this migration
-- runs outside goose's transaction and makes its own. The triggers are
-- dropped first and made again last, and legacy_alter_table keeps the
-- renames from rewriting (and re-checking) the rest of the schema while a
-- table is missing.

-- +goose Up
PRAGMA foreign_keys = OFF;
PRAGMA legacy_alter_table = ON;
BEGIN IMMEDIATE;

DROP TRIGGER likes_count_up;
DROP TRIGGER likes_count_down;
DROP TRIGGER comments_count_up;
DROP TRIGGER comments_count_down;

CREATE TABLE users_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    password_hash TEXT    NOT NULL,
    display_name  TEXT    NOT NULL DEFAULT '',
    bio           TEXT    NOT NULL DEFAULT '',
    avatar_url    TEXT    NOT NULL DEFAULT '',
    is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL -- unix milliseconds
) STRICT;
INSERT INTO users_new (id, username, password_hash, display_name, bio, avatar_url, is_admin, disabled, token_version, created_at)
    SELECT id, username, password_hash, display_name, bio, avatar_url, is_admin, disabled, token_version, created_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE INDEX users_created_at ON users (created_at DESC, id DESC);

CREATE TABLE posts_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content       TEXT    NOT NULL,
    media_urls    TEXT    NOT NULL DEFAULT '[]'
                  CHECK (json_valid(media_urls) AND json_type(media_urls) = 'array'
                         AND json_array_length(media_urls) <= 9),
    created_at    INTEGER NOT NULL, -- unix milliseconds
    like_count    INTEGER NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    comment_count INTEGER NOT NULL DEFAULT 0 CHECK (comment_count >= 0)
) STRICT;
INSERT INTO posts_new (id, user_id, content, media_urls, created_at, like_count, comment_count)
    SELECT id, user_id, content, media_urls, created_at, like_count, comment_count FROM posts;
DROP TABLE posts;
ALTER TABLE posts_new RENAME TO posts;
CREATE INDEX posts_feed ON posts (created_at DESC, id DESC, like_count, comment_count);
CREATE INDEX posts_user_timeline ON posts (user_id, created_at DESC, id DESC, like_count, comment_count);

CREATE TABLE comments_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    post_id    INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content    TEXT    NOT NULL,
    created_at INTEGER NOT NULL -- unix milliseconds
) STRICT;
INSERT INTO comments_new (id, post_id, user_id, content, created_at)
    SELECT id, post_id, user_id, content, created_at FROM comments;
DROP TABLE comments;
ALTER TABLE comments_new RENAME TO comments;
CREATE INDEX comments_post ON comments (post_id, created_at, id);
CREATE INDEX comments_user ON comments (user_id);

-- +goose StatementBegin
CREATE TRIGGER likes_count_up AFTER INSERT ON likes BEGIN
    UPDATE posts SET like_count = like_count + 1 WHERE id = NEW.post_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER likes_count_down AFTER DELETE ON likes BEGIN
    UPDATE posts SET like_count = like_count - 1 WHERE id = OLD.post_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER comments_count_up AFTER INSERT ON comments BEGIN
    UPDATE posts SET comment_count = comment_count + 1 WHERE id = NEW.post_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER comments_count_down AFTER DELETE ON comments BEGIN
    UPDATE posts SET comment_count = comment_count - 1 WHERE id = OLD.post_id;
END;
-- +goose StatementEnd

COMMIT;
PRAGMA legacy_alter_table = OFF;
PRAGMA foreign_keys = ON;

-- +goose Down
PRAGMA foreign_keys = OFF;
PRAGMA legacy_alter_table = ON;
BEGIN IMMEDIATE;

DROP TRIGGER likes_count_up;
DROP TRIGGER likes_count_down;
DROP TRIGGER comments_count_up;
DROP TRIGGER comments_count_down;

CREATE TABLE users_old (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    password_hash TEXT    NOT NULL,
    display_name  TEXT    NOT NULL DEFAULT '',
    bio           TEXT    NOT NULL DEFAULT '',
    avatar_url    TEXT    NOT NULL DEFAULT '',
    is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
) STRICT;
INSERT INTO users_old SELECT id, username, password_hash, display_name, bio, avatar_url, is_admin, disabled, token_version, created_at FROM users;
DROP TABLE users;
ALTER TABLE users_old RENAME TO users;
CREATE INDEX users_created_at ON users (created_at DESC, id DESC);

CREATE TABLE posts_old (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content       TEXT    NOT NULL,
    media_urls    TEXT    NOT NULL DEFAULT '[]'
                  CHECK (json_valid(media_urls) AND json_type(media_urls) = 'array'
                         AND json_array_length(media_urls) <= 9),
    created_at    INTEGER NOT NULL,
    like_count    INTEGER NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    comment_count INTEGER NOT NULL DEFAULT 0 CHECK (comment_count >= 0)
) STRICT;
INSERT INTO posts_old SELECT id, user_id, content, media_urls, created_at, like_count, comment_count FROM posts;
DROP TABLE posts;
ALTER TABLE posts_old RENAME TO posts;
CREATE INDEX posts_feed ON posts (created_at DESC, id DESC, like_count, comment_count);
CREATE INDEX posts_user_timeline ON posts (user_id, created_at DESC, id DESC, like_count, comment_count);

CREATE TABLE comments_old (
    id         INTEGER PRIMARY KEY,
    post_id    INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content    TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
INSERT INTO comments_old SELECT id, post_id, user_id, content, created_at FROM comments;
DROP TABLE comments;
ALTER TABLE comments_old RENAME TO comments;
CREATE INDEX comments_post ON comments (post_id, created_at, id);
CREATE INDEX comments_user ON comments (user_id);

DELETE FROM sqlite_sequence WHERE name IN ('users', 'posts', 'comments');

-- +goose StatementBegin
CREATE TRIGGER likes_count_up AFTER INSERT ON likes BEGIN
    UPDATE posts SET like_count = like_count + 1 WHERE id = NEW.post_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER likes_count_down AFTER DELETE ON likes BEGIN
    UPDATE posts SET like_count = like_count - 1 WHERE id = OLD.post_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER comments_count_up AFTER INSERT ON comments BEGIN
    UPDATE posts SET comment_count = comment_count + 1 WHERE id = NEW.post_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER comments_count_down AFTER DELETE ON comments BEGIN
    UPDATE posts SET comment_count = comment_count - 1 WHERE id = OLD.post_id;
END;
-- +goose StatementEnd

COMMIT;
PRAGMA legacy_alter_table = OFF;
PRAGMA foreign_keys = ON;
