// Package storetest fills a Moments database with realistic data for tests
// and benchmarks, through the store's own API.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"moments/store"
)

// Audiences says whom a data set's posts are for.
type Audiences int

const (
	// AllMembers: every post is for every member, the feed as it was before
	// audiences. No circles.
	AllMembers Audiences = iota
	// Mixed: 60% of the posts are for members, 25% for 1–2 of the author's
	// circles, 10% for the author alone and 5% for members but hidden from
	// one of the author's circles. Every author has 5 circles ("circle 1"
	// to "circle 5") of 5–20 other authors each, and the reader is in 10
	// circles of 10 different authors. The reader sees about 65% of the
	// posts: those for members (but a few hidden from a circle of theirs)
	// and a few for circles.
	Mixed
)

// String is the data set's name, as the benchmarks' environment variables
// and data directories spell it.
func (a Audiences) String() string {
	if a == Mixed {
		return "mixed"
	}
	return "members"
}

// ParseAudiences reads a data set's name: "members" or "mixed"; "" is
// Mixed, the benchmarks' default.
func ParseAudiences(name string) (Audiences, error) {
	switch name {
	case "members":
		return AllMembers, nil
	case "mixed", "":
		return Mixed, nil
	}
	return 0, fmt.Errorf("storetest: unknown data set %q: want members or mixed", name)
}

// The reader is the account the benchmarks read the feed as, by its ID or
// by signing in with this password. It posts nothing, likes and comments as
// the other accounts do, and is in circles of 10 authors in the Mixed data
// set (in none in AllMembers, which has no circles).
const (
	ReaderName     = "reader"
	ReaderPassword = "reader-password"
)

// Size says how much to create.
type Size struct {
	Users, Posts int
	// LikesPerPost and CommentsPerPost are maxima; each post gets a random
	// number up to them.
	LikesPerPost, CommentsPerPost int
	// Audiences is whom the posts are for; the zero value, AllMembers,
	// seeds what Seed did before audiences.
	Audiences Audiences
}

// BenchSize is the benchmarks' data set: 100,000 posts by 1,000 authors
// with 0–9 media each, up to 5 likes and 3 comments, for the audiences a.
func BenchSize(a Audiences) Size {
	return Size{Users: 1000, Posts: 100_000, LikesPerPost: 5, CommentsPerPost: 3, Audiences: a}
}

// Depth is how deep in a seeded feed the post with ID id lies: how many of
// the feed's posts, whoever may see them, are as new as it or newer. Seed
// gives the posts the IDs 1 to Posts, oldest first.
func (s Size) Depth(id int64) int { return s.Posts - int(id) + 1 }

// BenchData returns the data directory of BenchSize(a), seeding it on first
// use. Each data set has a subdirectory of its own, named after it, of
// $MOMENTS_BENCH_DATA, which keeps them between runs, or of a new temporary
// directory when that is not set. Seeding takes minutes; it fills a
// directory of its own that is renamed when complete, so an interrupted run
// leaves no half a data set to be taken for a whole one.
func BenchData(ctx context.Context, migrations fs.FS, a Audiences) (string, error) {
	root := os.Getenv("MOMENTS_BENCH_DATA")
	if root == "" {
		var err error
		if root, err = os.MkdirTemp("", "moments-bench-"); err != nil {
			return "", err
		}
	}
	dir := filepath.Join(root, a.String())
	if _, err := os.Stat(filepath.Join(dir, store.DBFile)); err == nil {
		return dir, nil
	}
	partial := dir + ".partial"
	if err := os.RemoveAll(partial); err != nil {
		return "", err
	}
	if _, err := Seed(ctx, partial, migrations, BenchSize(a)); err != nil {
		return "", err
	}
	return dir, os.Rename(partial, dir)
}

// Seed opens the database in dir (creating and migrating it), which must
// hold no posts yet, and fills it: size.Users authors, then the reader
// (ReaderName), then size.Posts posts by random authors, with 0–9 media URLs
// each and random likes and comments from random accounts, the reader's
// included. The posts' audiences, and the circles they need, follow
// size.Audiences. A like or comment drawn for someone who may not see the
// post is left out. The posts are created a second apart, the newest at
// about the time Seed was called; likes and comments at the time of their post, accounts and
// circles at that of the first post.
//
// The data depends on size alone: the same size seeds the same data. Both
// audience mixes have the same posts, likes and comments (less those left
// out), as the audiences draw their random numbers from a stream of their
// own. Seed returns the authors' usernames, the first being the admin.
func Seed(ctx context.Context, dir string, migrations fs.FS, size Size) ([]string, error) {
	start := time.Now().Add(-time.Duration(size.Posts) * time.Second)
	var posted atomic.Int64
	now := func() time.Time { return start.Add(time.Duration(posted.Load()) * time.Second) }
	st, err := store.Open(ctx, dir, store.Options{Migrations: migrations, Now: now})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	audiences := rand.New(rand.NewPCG(3, 4))

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
	hash, err := bcrypt.GenerateFromPassword([]byte(ReaderPassword), bcrypt.MinCost)
	if err != nil {
		return nil, err
	}
	reader, err := st.CreateUser(ctx, store.NewUser{Username: ReaderName, PasswordHash: string(hash), DisplayName: "Reader"})
	if err != nil {
		return nil, err
	}
	accounts := append(slices.Clone(ids), reader.ID) // who likes and comments
	var circles [][]int64
	if size.Audiences == Mixed {
		if circles, err = seedCircles(ctx, st, audiences, names, ids); err != nil {
			return nil, err
		}
	}

	words := strings.Fields("the garden was full of light today and we walked along the river " +
		"with grandma before dinner at the old place near the station while it rained")
	for i := range size.Posts {
		posted.Store(int64(i))
		author := rng.IntN(len(ids))
		n := 5 + rng.IntN(40)
		text := make([]string, n)
		for j := range text {
			text[j] = words[rng.IntN(len(words))]
		}
		media := make([]string, rng.IntN(10))
		for j := range media {
			media[j] = fmt.Sprintf("https://photos.example.com/%d/%d.jpg", i, j)
		}
		in := store.PostInput{Content: strings.Join(text, " "), MediaURLs: media}
		if size.Audiences == Mixed {
			mixAudience(&in, audiences, circles[author])
		}
		p, err := st.CreatePost(ctx, ids[author], in)
		if err != nil {
			return nil, err
		}
		for range rng.IntN(size.LikesPerPost + 1) {
			if err := st.Like(ctx, p.ID, accounts[rng.IntN(len(accounts))]); err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
		for range rng.IntN(size.CommentsPerPost + 1) {
			if _, err := st.CreateComment(ctx, p.ID, accounts[rng.IntN(len(accounts))], "So lovely!"); err != nil &&
				!errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
	}
	return names, nil
}

// seedCircles gives every author (ids, named names) 5 circles of 5–20 other
// authors each, and puts the reader into one circle each of 10 different
// authors. It returns each author's circles, in the order of ids.
func seedCircles(ctx context.Context, st *store.Store, rng *rand.Rand, names []string, ids []int64) ([][]int64, error) {
	circles := make([][]int64, len(ids))
	for i, owner := range ids {
		for c := range 5 {
			circle, err := st.CreateCircle(ctx, owner, fmt.Sprintf("circle %d", c+1))
			if err != nil {
				return nil, err
			}
			circles[i] = append(circles[i], circle.ID)
			n := min(5+rng.IntN(16), len(ids)-1)
			for _, m := range rng.Perm(len(ids)) {
				if n == 0 {
					break
				}
				if m == i {
					continue
				}
				if err := st.AddCircleMember(ctx, owner, circle.ID, names[m]); err != nil {
					return nil, err
				}
				n--
			}
		}
	}
	for _, a := range rng.Perm(len(ids))[:min(10, len(ids))] {
		if err := st.AddCircleMember(ctx, ids[a], circles[a][rng.IntN(len(circles[a]))], ReaderName); err != nil {
			return nil, err
		}
	}
	return circles, nil
}

// mixAudience draws a post's audience for the Mixed data set: members
// (60%), 1–2 of the author's circles (25%), only the author (10%), members
// but one of the author's circles (5%).
func mixAudience(in *store.PostInput, rng *rand.Rand, circles []int64) {
	switch r := rng.IntN(100); {
	case r < 60:
		in.Audience = store.Members
	case r < 85:
		in.Audience, in.CircleIDs = store.Circles, pick(rng, circles, 1+rng.IntN(2))
	case r < 95:
		in.Audience = store.OnlyMe
	default:
		in.Audience, in.HiddenFrom = store.Members, pick(rng, circles, 1)
	}
}

// pick returns n different IDs of ids, at random.
func pick(rng *rand.Rand, ids []int64, n int) []int64 {
	out := make([]int64, n)
	for i, j := range rng.Perm(len(ids))[:n] {
		out[i] = ids[j]
	}
	return out
}
