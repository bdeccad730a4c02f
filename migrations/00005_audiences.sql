-- Who can see a post. A post has an audience (a code, so that the feed's
-- index holds it in a few bits):
--   0 members         every signed-in member
--   1 members_hidden  every signed-in member but those in its hidden_from circles
--   2 circles         the members of its circles
--   3 only_me         its author alone
--   4 public          everyone, visitors without an account too
-- The author always sees it. history_days is a copy of the author's
-- history_visible_days (0: all), kept on every post of theirs, so that
-- the window is a comparison of two columns of the feed's index instead of
-- a lookup of the author per post. circle_ids and hidden_from are the JSON
-- arrays the author's view shows; post_circles holds the same for the
-- audience rule's lookups.

-- +goose Up
ALTER TABLE users ADD COLUMN history_visible_days INTEGER NOT NULL DEFAULT 0
    CHECK (history_visible_days BETWEEN 0 AND 3650);
ALTER TABLE users ADD COLUMN default_audience INTEGER NOT NULL DEFAULT 0
    CHECK (default_audience IN (0, 3, 4));

ALTER TABLE posts ADD COLUMN audience INTEGER NOT NULL DEFAULT 0 CHECK (audience BETWEEN 0 AND 4);
ALTER TABLE posts ADD COLUMN history_days INTEGER NOT NULL DEFAULT 0 CHECK (history_days BETWEEN 0 AND 3650);
ALTER TABLE posts ADD COLUMN edited_at INTEGER; -- unix milliseconds; NULL until edited
ALTER TABLE posts ADD COLUMN circle_ids TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(circle_ids) AND json_type(circle_ids) = 'array');
ALTER TABLE posts ADD COLUMN hidden_from TEXT NOT NULL DEFAULT '[]'
    CHECK (json_valid(hidden_from) AND json_type(hidden_from) = 'array');

-- A member's own named lists of other members, private to their owner.
-- name_key is the name folded for "unique ignoring case" in any script.
CREATE TABLE circles (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    name_key     TEXT    NOT NULL,
    member_count INTEGER NOT NULL DEFAULT 0 CHECK (member_count >= 0),
    created_at   INTEGER NOT NULL, -- unix milliseconds
    UNIQUE (owner_id, name_key)
) STRICT;

CREATE TABLE circle_members (
    circle_id  INTEGER NOT NULL REFERENCES circles (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL, -- unix milliseconds
    PRIMARY KEY (circle_id, user_id)
) STRICT, WITHOUT ROWID;
-- A member's memberships: for deleting an account, and for the rule's
-- lookups from the member's side.
CREATE INDEX circle_members_user ON circle_members (user_id, circle_id);

-- The circles a post is shown to (hidden = 0) or hidden from (hidden = 1).
CREATE TABLE post_circles (
    post_id   INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    circle_id INTEGER NOT NULL REFERENCES circles (id) ON DELETE CASCADE,
    hidden    INTEGER NOT NULL CHECK (hidden IN (0, 1)),
    PRIMARY KEY (post_id, hidden, circle_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX post_circles_circle ON post_circles (circle_id);

-- +goose StatementBegin
CREATE TRIGGER circle_members_count_up AFTER INSERT ON circle_members BEGIN
    UPDATE circles SET member_count = member_count + 1 WHERE id = NEW.circle_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER circle_members_count_down AFTER DELETE ON circle_members BEGIN
    UPDATE circles SET member_count = member_count - 1 WHERE id = OLD.circle_id;
END;
-- +goose StatementEnd

-- The feed's indexes cover what the audience rule reads of every post, so
-- a page stays off the posts table for the posts the cache holds. Visitors
-- without an account see public posts only: their pages walk an index of
-- those alone instead of skipping every other post.
DROP INDEX posts_feed;
DROP INDEX posts_user_timeline;
CREATE INDEX posts_feed ON posts (created_at DESC, id DESC, like_count, comment_count, user_id, audience, history_days);
CREATE INDEX posts_user_timeline ON posts (user_id, created_at DESC, id DESC, like_count, comment_count, audience, history_days);
CREATE INDEX posts_public ON posts (created_at DESC, id DESC, like_count, comment_count, user_id, history_days) WHERE audience = 4;

-- +goose Down
DROP INDEX posts_public;
DROP INDEX posts_feed;
DROP INDEX posts_user_timeline;
CREATE INDEX posts_feed ON posts (created_at DESC, id DESC, like_count, comment_count);
CREATE INDEX posts_user_timeline ON posts (user_id, created_at DESC, id DESC, like_count, comment_count);
DROP TRIGGER circle_members_count_down;
DROP TRIGGER circle_members_count_up;
DROP TABLE post_circles;
DROP TABLE circle_members;
DROP TABLE circles;
ALTER TABLE posts DROP COLUMN hidden_from;
ALTER TABLE posts DROP COLUMN circle_ids;
ALTER TABLE posts DROP COLUMN edited_at;
ALTER TABLE posts DROP COLUMN history_days;
ALTER TABLE posts DROP COLUMN audience;
ALTER TABLE users DROP COLUMN default_audience;
ALTER TABLE users DROP COLUMN history_visible_days;
