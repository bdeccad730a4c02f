// Package storetest fills a Moments database with realistic data for tests
// and benchmarks, through the store's own API.
package storetest

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"moments/store"
)

// Size says how much to create.
type Size struct {
	Users, Posts int
	// LikesPerPost and CommentsPerPost are maxima; each post gets a random
	// number up to them.
	LikesPerPost, CommentsPerPost int
}

// Seed opens the database in dir (creating and migrating it) and fills it:
// users, posts with 0–9 media URLs each and random likes and comments, with
// created_at one second apart, so the newest post is at roughly now. It
// returns the usernames, the first one being the admin.
func Seed(ctx context.Context, dir string, migrations fs.FS, size Size) ([]string, error) {
	start := time.Now().Add(-time.Duration(size.Posts+size.Users) * time.Second)
	var tick atomic.Int64
	now := func() time.Time { return start.Add(time.Duration(tick.Add(1)) * time.Second) }
	st, err := store.Open(ctx, dir, store.Options{Migrations: migrations, Now: now})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	rng := rand.New(rand.NewPCG(1, 2))

	names := make([]string, size.Users)
	ids := make([]int64, size.Users)
	for i := range names {
		names[i] = fmt.Sprintf("user%04d", i)
		u, err := st.CreateUser(ctx, store.NewUser{
			Username:     names[i],
			PasswordHash: "$2a$04$not-a-real-hash-only-seed-data-not-a-real-hash-only-seed", // nobody signs in as these
			DisplayName:  fmt.Sprintf("User %d", i),
		})
		if err != nil {
			return nil, err
		}
		ids[i] = u.ID
	}
	words := strings.Fields("the garden was full of light today and we walked along the river " +
		"with grandma before dinner at the old place near the station while it rained")
	for i := range size.Posts {
		author := ids[rng.IntN(len(ids))]
		n := 5 + rng.IntN(40)
		text := make([]string, n)
		for j := range text {
			text[j] = words[rng.IntN(len(words))]
		}
		media := make([]string, rng.IntN(10))
		for j := range media {
			media[j] = fmt.Sprintf("https://photos.example.com/%d/%d.jpg", i, j)
		}
		p, err := st.CreatePost(ctx, author, store.PostInput{Content: strings.Join(text, " "), MediaURLs: media})
		if err != nil {
			return nil, err
		}
		for range rng.IntN(size.LikesPerPost + 1) {
			if err := st.Like(ctx, p.ID, ids[rng.IntN(len(ids))]); err != nil {
				return nil, err
			}
		}
		for range rng.IntN(size.CommentsPerPost + 1) {
			if _, err := st.CreateComment(ctx, p.ID, ids[rng.IntN(len(ids))], "So lovely!"); err != nil {
				return nil, err
			}
		}
	}
	return names, nil
}
