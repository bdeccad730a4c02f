-- +goose Up
-- A feed page reads only (created_at, id) and the two counters of each post
-- from these indexes; the post row itself is read only for posts the
-- in-memory page cache does not hold yet. Covering the counters keeps the
-- hot path off the table.
DROP INDEX posts_feed;
DROP INDEX posts_user_timeline;
CREATE INDEX posts_feed ON posts (created_at DESC, id DESC, like_count, comment_count);
CREATE INDEX posts_user_timeline ON posts (user_id, created_at DESC, id DESC, like_count, comment_count);

-- +goose Down
DROP INDEX posts_feed;
DROP INDEX posts_user_timeline;
CREATE INDEX posts_feed ON posts (created_at DESC, id DESC);
CREATE INDEX posts_user_timeline ON posts (user_id, created_at DESC, id DESC);
