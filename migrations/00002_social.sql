-- +goose Up
-- Counters live on the post and are kept by triggers in the same
-- transaction as the like or comment, so a feed page reads them directly
-- instead of counting, and they stay exact under concurrency.
ALTER TABLE posts ADD COLUMN like_count INTEGER NOT NULL DEFAULT 0 CHECK (like_count >= 0);
ALTER TABLE posts ADD COLUMN comment_count INTEGER NOT NULL DEFAULT 0 CHECK (comment_count >= 0);

-- One like per user and post; the primary key answers "liked by me" for a
-- post with one index lookup.
CREATE TABLE likes (
    post_id    INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL, -- unix milliseconds
    PRIMARY KEY (post_id, user_id)
) STRICT, WITHOUT ROWID;
-- Cascading deletes of a user find their likes through this index.
CREATE INDEX likes_user ON likes (user_id);

CREATE TABLE comments (
    id         INTEGER PRIMARY KEY,
    post_id    INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content    TEXT    NOT NULL,
    created_at INTEGER NOT NULL -- unix milliseconds
) STRICT;
-- A post's comments, oldest first, keyset-paginated.
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

-- +goose Down
DROP TRIGGER comments_count_down;
DROP TRIGGER comments_count_up;
DROP TRIGGER likes_count_down;
DROP TRIGGER likes_count_up;
DROP TABLE comments;
DROP TABLE likes;
ALTER TABLE posts DROP COLUMN comment_count;
ALTER TABLE posts DROP COLUMN like_count;
