package store

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestFeedPlans runs EXPLAIN QUERY PLAN on every feed and timeline page
// query, first page and after a cursor, with the arguments Feed binds, and
// checks what SQLite says of each table it reads:
//   - the cached page (pageQuery) walks the covering index posts_feed, or
//     posts_user_timeline for a timeline, to choose its posts (alias p), and
//     the same index, not the table, for the posts outside the cache's
//     window (alias r);
//   - the plain page of a member (plainQuery) walks the same index;
//   - the plain page of a visitor walks posts_public (plainQuery names it:
//     left to itself, SQLite walked posts_feed for the first page, every
//     post of it), a timeline posts_user_timeline;
//   - no plan sorts in a temporary B-tree (USE TEMP B-TREE FOR ORDER BY):
//     the index gives the order, so a page stops at its limit;
//   - every other table (authors, likes, circles) is read by SEARCH, an
//     index lookup, never by SCAN.
//
// It asserts on the lines of the plan that name a table, "SCAN|SEARCH alias
// [USING [COVERING] INDEX name]", the part of SQLite's output that says
// which index is used, and not on their order or numbering.
func TestFeedPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), Options{Migrations: os.DirFS("../migrations"), PublicPosts: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	author, member := planUser(t, s, "alice"), planUser(t, s, "bob")
	circle, err := s.CreateCircle(ctx, author, "family")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddCircleMember(ctx, author, circle.ID, "bob"); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		in := PostInput{Content: fmt.Sprint(i)}
		switch i % 5 {
		case 1:
			in.Audience, in.CircleIDs = Circles, []int64{circle.ID}
		case 2:
			in.Audience = OnlyMe
		case 3:
			in.HiddenFrom = []int64{circle.ID}
		case 4:
			in.Audience = Public
		}
		if _, err := s.CreatePost(ctx, author, in); err != nil {
			t.Fatal(err)
		}
	}
	first, err := s.Feed(ctx, FeedQuery{Viewer: 0, Limit: 2})
	if err != nil || first.Next == nil {
		t.Fatalf("%+v, %v", first, err)
	}

	type planCase struct {
		name  string
		query string
		args  []any
		index string // the one the scan of p walks, and that of r
		// cached: pageQuery, whose scan of p is covering and which reads
		// the posts outside the window as r.
		cached bool
	}
	var cases []planCase
	for _, timeline := range []bool{false, true} {
		for _, after := range []bool{false, true} {
			name := fmt.Sprintf("timeline=%v,after=%v", timeline, after)
			q := FeedQuery{Viewer: member, Limit: 20}
			index, visitorIndex := "posts_feed", "posts_public"
			if timeline {
				q.AuthorID = &author
				index, visitorIndex = "posts_user_timeline", "posts_user_timeline"
			}
			if after {
				q.After = first.Next
			}
			visitor := q
			visitor.Viewer = 0
			cases = append(cases,
				// The liked range of an empty window, as readPage binds it.
				planCase{"page," + name, pageQuery(timeline, after), s.pageArgs(q, &window{}, 1, 0), index, true},
				planCase{"plain," + name, plainQuery(timeline, after, false), s.pageArgs(q, &window{}, 0, 0), index, false},
				planCase{"visitor," + name, plainQuery(timeline, after, true), s.pageArgs(visitor, &window{}, 0, 0), visitorIndex, false})
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan := explain(t, s, c.query, c.args)
			scans := map[string]int{}
			for _, line := range plan {
				if strings.Contains(line, "TEMP B-TREE") {
					t.Errorf("sorts in a temporary B-tree: %q", line)
				}
				m := tableRead.FindStringSubmatch(line)
				if m == nil {
					continue
				}
				verb, alias, covering, index := m[1], m[2], m[3] != "", m[4]
				switch {
				case alias == "p" || alias == "r":
					scans[alias]++
					if index != c.index || alias == "p" && c.cached && !covering {
						t.Errorf("%q: want the posts read through the index %s (covering: %v)", line, c.index, c.cached)
					}
				case alias == "page" || alias == "low" || alias == "CONSTANT" || strings.HasPrefix(alias, "("):
					// The query's own tables: its CTEs, a constant row, a subquery.
				default:
					if verb != "SEARCH" {
						t.Errorf("%q: want an index lookup", line)
					}
				}
			}
			if want := b2i(c.cached); scans["p"] != 1 || scans["r"] != want {
				t.Errorf("%d reads of p and %d of r, want 1 and %d:\n%q", scans["p"], scans["r"], want, plan)
			}
		})
	}
}

// tableRead is a plan line that reads a table: verb, alias, COVERING, index.
var tableRead = regexp.MustCompile(`^(SCAN|SEARCH) (\S+)(?: USING (COVERING )?INDEX (\S+))?`)

// explain returns the detail column of EXPLAIN QUERY PLAN, one line each,
// run through the store's read pool as Feed runs the query.
func explain(t *testing.T, s *Store, query string, args []any) []string {
	t.Helper()
	rows, err := s.reader.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

func planUser(t *testing.T, s *Store, name string) int64 {
	t.Helper()
	u, err := s.CreateUser(context.Background(), NewUser{Username: name, PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}
