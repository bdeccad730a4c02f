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

-- Who has whom in at least one circle, and in how many: the audience rule
-- settles a post for circles (or hidden from some) by an author who has
-- the reader in none of their circles, nearly every such post, with one
-- lookup here instead of one per circle the post names.
CREATE TABLE circle_reach (
    owner_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    circles   INTEGER NOT NULL CHECK (circles >= 0), -- a row at 0 is deleted at once
    PRIMARY KEY (owner_id, member_id)
) STRICT, WITHOUT ROWID;

-- +goose StatementBegin
CREATE TRIGGER circle_members_count_up AFTER INSERT ON circle_members BEGIN
    UPDATE circles SET member_count = member_count + 1 WHERE id = NEW.circle_id;
    INSERT INTO circle_reach (owner_id, member_id, circles)
        SELECT owner_id, NEW.user_id, 1 FROM circles WHERE id = NEW.circle_id
        ON CONFLICT (owner_id, member_id) DO UPDATE SET circles = circles + 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER circle_members_count_down AFTER DELETE ON circle_members BEGIN
    UPDATE circles SET member_count = member_count - 1 WHERE id = OLD.circle_id;
    UPDATE circle_reach SET circles = circles - 1
        WHERE owner_id = (SELECT owner_id FROM circles WHERE id = OLD.circle_id) AND member_id = OLD.user_id;
    DELETE FROM circle_reach
        WHERE owner_id = (SELECT owner_id FROM circles WHERE id = OLD.circle_id) AND member_id = OLD.user_id AND circles = 0;
END;
-- +goose StatementEnd
-- A circle's memberships go before it does, while the trigger above can
-- still find its owner (a cascade would run after the circle is gone).
-- +goose StatementBegin
CREATE TRIGGER circles_delete_members BEFORE DELETE ON circles BEGIN
    DELETE FROM circle_members WHERE circle_id = OLD.id;
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
DROP TRIGGER circles_delete_members;
DROP TRIGGER circle_members_count_down;
DROP TRIGGER circle_members_count_up;
DROP TABLE circle_reach;
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
