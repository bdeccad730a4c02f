package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestCircleMemberLimit(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	owner := mustCreate(t, s, "owner")
	c, err := s.CreateCircle(ctx, owner.ID, "Everyone")
	if err != nil {
		t.Fatal(err)
	}
	for i := range MaxCircleMembers {
		name := fmt.Sprintf("member%d", i)
		mustCreate(t, s, name)
		if err := s.AddCircleMember(ctx, owner.ID, c.ID, name); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, s, "late")
	if err := s.AddCircleMember(ctx, owner.ID, c.ID, "late"); !errors.Is(err, ErrTooMany) {
		t.Fatalf("member %d: %v, want ErrTooMany", MaxCircleMembers+1, err)
	}
	// Adding one who is in already is no addition, even when full.
	if err := s.AddCircleMember(ctx, owner.ID, c.ID, "MEMBER7"); err != nil {
		t.Fatal(err)
	}
	circles, err := s.Circles(ctx, owner.ID)
	if err != nil || len(circles) != 1 || circles[0].MemberCount != MaxCircleMembers {
		t.Fatalf("circles %+v, %v", circles, err)
	}
}

// Deleting a circle rewrites what the posts that named it show their
// author, and a post hidden from it alone is for all members again.
func TestDeleteCircleUpdatesPosts(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	owner := mustCreate(t, s, "owner")
	a, _ := s.CreateCircle(ctx, owner.ID, "A")
	b, _ := s.CreateCircle(ctx, owner.ID, "B")
	shown, err := s.CreatePost(ctx, owner.ID, PostInput{Content: "x", Audience: Circles, CircleIDs: []int64{b.ID, a.ID}})
	if err != nil {
		t.Fatal(err)
	}
	hidden, err := s.CreatePost(ctx, owner.ID, PostInput{Content: "y", Audience: Members, HiddenFrom: []int64{a.ID}})
	if err != nil || hidden.Audience != MembersHidden {
		t.Fatalf("hidden: %+v, %v", hidden, err)
	}
	if err := s.DeleteCircle(ctx, owner.ID, a.ID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id                int64
		audience          Audience
		circles, hiddenBy string
	}{{shown.ID, Circles, fmt.Sprintf("[%d]", b.ID), "[]"}, {hidden.ID, Members, "[]", "[]"}} {
		p, err := s.Post(ctx, tc.id, owner.ID)
		if err != nil || p.Audience != tc.audience || p.CircleIDsJSON != tc.circles || p.HiddenFromJSON != tc.hiddenBy {
			t.Errorf("post %d after the delete: %v %s %s, %v; want %v %s %s", tc.id, p.Audience, p.CircleIDsJSON,
				p.HiddenFromJSON, err, tc.audience, tc.circles, tc.hiddenBy)
		}
	}
	other := mustCreate(t, s, "other")
	if err := s.DeleteCircle(ctx, other.ID, b.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting another's circle: %v", err)
	}
	if _, err := s.CreatePost(ctx, other.ID, PostInput{Content: "z", Audience: Circles, CircleIDs: []int64{b.ID}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("naming another's circle: %v", err)
	}
}
