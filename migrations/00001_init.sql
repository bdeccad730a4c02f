-- +goose Up
-- Users. Usernames are ASCII ([A-Za-z0-9_]), so NOCASE gives exactly the
-- case-insensitive uniqueness the API promises. token_version is bumped on
-- every credential change (password, disable) and must match the token's
-- "ver" claim, so revocation is exact even within one second.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
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

-- Keyset pagination of the admin user list (newest first).
CREATE INDEX users_created_at ON users (created_at DESC, id DESC);

CREATE TABLE posts (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content    TEXT    NOT NULL,
    media_urls TEXT    NOT NULL DEFAULT '[]'
               CHECK (json_valid(media_urls) AND json_type(media_urls) = 'array'
                      AND json_array_length(media_urls) <= 9),
    created_at INTEGER NOT NULL -- unix milliseconds
) STRICT;

-- The feed and the timelines walk these indexes with keyset pagination.
CREATE INDEX posts_feed ON posts (created_at DESC, id DESC);
CREATE INDEX posts_user_timeline ON posts (user_id, created_at DESC, id DESC);

-- +goose Down
DROP TABLE posts;
DROP TABLE users;
