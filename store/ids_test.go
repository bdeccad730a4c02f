package store

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// migrationsUpTo is the real migrations folder without the versions above v.
func migrationsUpTo(t *testing.T, v int) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(testMigrations(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".sql") {
			return err
		}
		var n int
		if _, err := fmtSscanVersion(path, &n); err != nil || n > v {
			return err
		}
		data, err := fs.ReadFile(testMigrations(), path)
		out[path] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestIDsNeverReused upgrades a populated database from before
// AUTOINCREMENT and checks that the rebuild kept every row, counter,
// trigger and foreign key, and that no ID comes back after a delete, not
// even across a restart.
func TestIDsNeverReused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	// A database of schema 3, filled the way that version's store filled
	// it: this version's statements need the later schema, so plain SQL.
	old, err := Open(ctx, dir, Options{Migrations: migrationsUpTo(t, 3), SkipMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) int64 {
		t.Helper()
		var id int64
		if err := old.writer.QueryRow(q+` RETURNING id`, args...).Scan(&id); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return id
	}
	user := func(name string) User {
		return User{ID: exec(`INSERT INTO users (username, password_hash, created_at) VALUES (?, 'h', 1)`, name), Username: name}
	}
	alice, bob, carol := user("alice"), user("bob"), user("carol")
	post := func(author int64, content, media string, at int64) Post {
		return Post{ID: exec(`INSERT INTO posts (user_id, content, media_urls, created_at) VALUES (?, ?, ?, ?)`, author, content, media, at)}
	}
	p1 := post(alice.ID, "first", "[]", 1000)
	p2 := post(bob.ID, "second", `["https://example.com/a.jpg"]`, 2000)
	if _, err := old.writer.Exec(`INSERT INTO likes (post_id, user_id, created_at) VALUES (?, ?, 3000)`, p1.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	comment := func(author int64, content string) Comment {
		return Comment{ID: exec(`INSERT INTO comments (post_id, user_id, content, created_at) VALUES (?, ?, ?, 4000)`, p1.ID, author, content)}
	}
	c1, c2 := comment(bob.ID, "nice"), comment(alice.ID, "thanks")
	old.Close()

	// The highest of each is deleted after the upgrade. (Deletes before it
	// left no trace the migration could find.)
	s := openTestIn(t, dir)
	if err := s.DeleteComment(ctx, c2.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePost(ctx, p2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.Exec(`DELETE FROM users WHERE id = ?`, carol.ID); err != nil {
		t.Fatal(err)
	}
	var fk int
	if err := s.writer.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d (%v) after the migration", fk, err)
	}
	if rows, err := s.writer.Query(`PRAGMA foreign_key_check`); err != nil {
		t.Fatal(err)
	} else {
		if rows.Next() {
			t.Error("foreign_key_check reports a violation after the rebuild")
		}
		rows.Close()
	}
	got, err := s.Post(ctx, p1.ID, bob.ID)
	if err != nil || got.Content != "first" || got.LikeCount != 1 || got.CommentCount != 1 || !got.LikedByMe {
		t.Fatalf("post %d after the migration = %+v, %v", p1.ID, got, err)
	}
	comments, _, err := s.Comments(ctx, p1.ID, bob.ID, 10, nil)
	if err != nil || len(comments) != 1 || comments[0].ID != c1.ID {
		t.Fatalf("comments = %+v, %v", comments, err)
	}

	// The counters' triggers are back.
	if err := s.Like(ctx, p1.ID, alice.ID); err != nil {
		t.Fatal(err)
	}
	c3, err := s.CreateComment(ctx, p1.ID, alice.ID, "again")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Post(ctx, p1.ID, bob.ID); got.LikeCount != 2 || got.CommentCount != 2 {
		t.Errorf("counters = %d likes, %d comments; want 2, 2", got.LikeCount, got.CommentCount)
	}
	// No ID comes back: not the deleted post's, comment's or user's.
	p3, err := s.CreatePost(ctx, alice.ID, PostInput{Content: "third"})
	if err != nil {
		t.Fatal(err)
	}
	if p3.ID <= p2.ID || c3.ID <= c2.ID {
		t.Errorf("new post %d after deleted %d, new comment %d after deleted %d", p3.ID, p2.ID, c3.ID, c2.ID)
	}
	dave := mustCreate(t, s, "dave")
	if dave.ID <= carol.ID {
		t.Errorf("new user %d after deleted %d", dave.ID, carol.ID)
	}
	// The foreign keys still cascade.
	if _, err := s.writer.Exec(`DELETE FROM users WHERE id = ?`, bob.ID); err != nil {
		t.Fatal(err)
	}
	var likes, bobComments int
	s.writer.QueryRow(`SELECT count(*) FROM likes WHERE user_id = ?`, bob.ID).Scan(&likes)
	s.writer.QueryRow(`SELECT count(*) FROM comments WHERE user_id = ?`, bob.ID).Scan(&bobComments)
	if likes != 0 || bobComments != 0 {
		t.Errorf("bob's %d likes and %d comments outlived him", likes, bobComments)
	}

	// Across a restart too: the highest post is deleted, and its ID stays spent.
	if err := s.DeletePost(ctx, p3.ID); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openTestIn(t, dir)
	p4, err := s.CreatePost(ctx, alice.ID, PostInput{Content: "fourth"})
	if err != nil {
		t.Fatal(err)
	}
	if p4.ID <= p3.ID {
		t.Errorf("after a restart, post %d reuses deleted %d", p4.ID, p3.ID)
	}
}

// fmtSscanVersion reads the version number a goose file name starts with.
func fmtSscanVersion(name string, v *int) (int, error) {
	return fmt.Sscanf(name, "%05d_", v)
}
