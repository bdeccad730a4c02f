package app_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

type apiCircle struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	MemberCount int    `json:"member_count"`
	CreatedAt   string `json:"created_at"`
}

func (e *testEnv) circle(token, name string) apiCircle {
	e.t.Helper()
	var c apiCircle
	e.do("POST", "/circles", token, map[string]string{"name": name}).wantStatus(e.t, 201).json(e.t, &c)
	return c
}

func TestCircles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	e.signUp("bob")
	e.signUp("carol")

	family := e.circle(alice.Token, "  Family  ")
	if family.Name != "Family" || family.MemberCount != 0 || family.CreatedAt == "" {
		t.Errorf("new circle: %+v", family)
	}
	e.circle(alice.Token, "Climbing club")
	// Unique per owner, ignoring case, in any script.
	e.do("POST", "/circles", alice.Token, map[string]string{"name": "FAMILY"}).wantProblem(t, 409, "body.name")
	e.circle(alice.Token, "Ärzte")
	e.do("POST", "/circles", alice.Token, map[string]string{"name": "äRZTE"}).wantProblem(t, 409, "body.name")
	for _, bad := range []string{"", "   ", strings.Repeat("x", 51), "two\nlines", "evil\u202e"} {
		e.do("POST", "/circles", alice.Token, map[string]string{"name": bad}).wantProblem(t, 422, "body.name")
	}
	e.do("POST", "/circles", alice.Token, map[string]any{"name": "x", "color": "red"}).wantProblem(t, 422, "")

	var list struct {
		Items []apiCircle `json:"items"`
	}
	e.do("GET", "/circles", alice.Token, nil).wantStatus(t, 200).json(t, &list)
	var names []string
	for _, c := range list.Items {
		names = append(names, c.Name)
	}
	if fmt.Sprint(names) != "[Climbing club Family Ärzte]" {
		t.Errorf("circles by name: %v", names)
	}

	// Members: idempotent, any letter case of the name, unknown names 404.
	path := fmt.Sprintf("/circles/%d/members/", family.ID)
	for _, name := range []string{"bob", "BOB", "carol"} {
		e.do("PUT", path+name, alice.Token, nil).wantStatus(t, 204)
	}
	e.do("PUT", path+"nobody", alice.Token, nil).wantProblem(t, 404, "")
	e.do("PUT", path+"no%20body", alice.Token, nil).wantProblem(t, 422, "path.username")
	var members authorPage
	e.do("GET", fmt.Sprintf("/circles/%d/members?limit=1", family.ID), alice.Token, nil).wantStatus(t, 200).json(t, &members)
	if len(members.Items) != 1 || members.Items[0].Username != "carol" || members.NextCursor == nil {
		t.Errorf("first page of members: %+v", members)
	}
	e.do("GET", fmt.Sprintf("/circles/%d/members?limit=1&cursor=%s", family.ID, *members.NextCursor), alice.Token, nil).
		wantStatus(t, 200).json(t, &members)
	if len(members.Items) != 1 || members.Items[0].Username != "bob" || members.NextCursor != nil {
		t.Errorf("second page of members: %+v", members)
	}
	var got apiCircle
	e.do("PATCH", fmt.Sprintf("/circles/%d", family.ID), alice.Token, map[string]string{"name": "Family and friends"}).
		wantStatus(t, 200).json(t, &got)
	if got.Name != "Family and friends" || got.MemberCount != 2 {
		t.Errorf("renamed: %+v", got)
	}
	// Renaming to its own name in another case is fine; to another's is not.
	e.do("PATCH", fmt.Sprintf("/circles/%d", family.ID), alice.Token, map[string]string{"name": "FAMILY AND FRIENDS"}).wantStatus(t, 200)
	e.do("PATCH", fmt.Sprintf("/circles/%d", family.ID), alice.Token, map[string]string{"name": "climbing CLUB"}).wantProblem(t, 409, "body.name")
	e.do("DELETE", path+"bob", alice.Token, nil).wantStatus(t, 204)
	e.do("DELETE", path+"bob", alice.Token, nil).wantStatus(t, 204)
	e.do("GET", fmt.Sprintf("/circles/%d/members", family.ID), alice.Token, nil).wantStatus(t, 200).json(t, &members)
	if len(members.Items) != 1 || members.Items[0].Username != "carol" {
		t.Errorf("after removing bob: %+v", members)
	}

	// Another member's circle is not there for bob, on every path.
	bob := e.login("bob", "password-bob")
	for _, op := range []struct {
		method, path string
		body         any
	}{
		{"PATCH", fmt.Sprintf("/circles/%d", family.ID), map[string]string{"name": "mine"}},
		{"DELETE", fmt.Sprintf("/circles/%d", family.ID), nil},
		{"GET", fmt.Sprintf("/circles/%d/members", family.ID), nil},
		{"PUT", path + "bob", nil},
		{"DELETE", path + "carol", nil},
	} {
		e.do(op.method, op.path, bob, op.body).wantProblem(t, 404, "")
	}
	e.do("GET", "/circles", bob, nil).wantStatus(t, 200).json(t, &list)
	if len(list.Items) != 0 {
		t.Errorf("bob sees circles: %+v", list.Items)
	}
	// Nor can bob's posts name it.
	e.do("POST", "/posts", bob, map[string]any{"content": "x", "audience": "circles", "circle_ids": []int64{family.ID}}).
		wantProblem(t, 422, "body.circle_ids")
	e.do("POST", "/posts", bob, map[string]any{"content": "x", "hidden_from": []int64{family.ID}}).
		wantProblem(t, 422, "body.hidden_from")
	for _, path := range []string{"/circles", "/circles/1/members"} {
		e.do("GET", path, "", nil).wantStatus(t, 401)
	}

	e.do("DELETE", fmt.Sprintf("/circles/%d", family.ID), alice.Token, nil).wantStatus(t, 204)
	e.do("DELETE", fmt.Sprintf("/circles/%d", family.ID), alice.Token, nil).wantProblem(t, 404, "")
	e.do("GET", fmt.Sprintf("/circles/%d/members", family.ID), alice.Token, nil).wantProblem(t, 404, "")
}

func TestCircleLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	for i := range 100 {
		e.circle(alice.Token, fmt.Sprint("circle ", i))
	}
	e.do("POST", "/circles", alice.Token, map[string]string{"name": "one too many"}).wantProblem(t, 409, "")
	// A post names 1–20 circles, of its own audience.
	var list struct {
		Items []apiCircle `json:"items"`
	}
	e.do("GET", "/circles", alice.Token, nil).wantStatus(t, 200).json(t, &list)
	var ids []int64
	for _, c := range list.Items[:21] {
		ids = append(ids, c.ID)
	}
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"content": "x", "audience": "circles"}, "body.circle_ids"},
		{map[string]any{"content": "x", "audience": "circles", "circle_ids": []int64{}}, "body.circle_ids"},
		{map[string]any{"content": "x", "audience": "circles", "circle_ids": ids}, "body.circle_ids"},
		{map[string]any{"content": "x", "hidden_from": ids}, "body.hidden_from"},
		{map[string]any{"content": "x", "audience": "members", "circle_ids": ids[:1]}, "body.circle_ids"},
		{map[string]any{"content": "x", "audience": "circles", "circle_ids": ids[:1], "hidden_from": ids[1:2]}, "body.hidden_from"},
		{map[string]any{"content": "x", "audience": "only_me", "circle_ids": ids[:1]}, "body.audience"},
		{map[string]any{"content": "x", "audience": "everyone"}, "body.audience"},
		{map[string]any{"content": "x", "audience": ""}, "body.audience"},
		{map[string]any{"content": "x", "audience": "public"}, "body.audience"}, // public posts are off here
		{map[string]any{"content": "x", "audience": "circles", "circle_ids": []int64{0}}, "body.circle_ids"},
	} {
		e.do("POST", "/posts", alice.Token, tc.body).wantProblem(t, 422, tc.field)
	}
	p := e.postWith(alice.Token, map[string]any{"content": "x", "audience": "circles", "circle_ids": append(ids[:19:19], ids[0])})
	if p.CircleIDs == nil || len(*p.CircleIDs) != 19 {
		t.Errorf("19 circles, one named twice: %v", p.CircleIDs)
	}
}

func TestSearchMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.signUp("alice")
	for _, name := range []string{"albert", "bob", "al_x", "alx"} {
		e.signUp(name)
	}
	bob := e.login("bob", "password-bob")
	e.do("PATCH", "/users/me", bob, map[string]string{"display_name": "Bob Alvarez"}).wantStatus(t, 200)
	find := func(q string) string {
		t.Helper()
		var page authorPage
		e.do("GET", "/users?q="+url.QueryEscape(q), alice.Token, nil).wantStatus(t, 200).json(t, &page)
		var names []string
		for _, a := range page.Items {
			names = append(names, a.Username)
		}
		return strings.Join(names, " ")
	}
	for q, want := range map[string]string{
		"al":  "al_x albert alice alx bob", // bob by his display name
		"AL":  "al_x albert alice alx bob",
		"al_": "al_x", // _ is a character, not a wildcard
		"%":   "",
		"alv": "bob",
		"zed": "",
	} {
		if got := find(q); got != want {
			t.Errorf("q=%q: %q, want %q", q, got, want)
		}
	}
	// A disabled account is nobody to add.
	albert, err := e.store.UserByUsername(context.Background(), "albert")
	if err != nil {
		t.Fatal(err)
	}
	e.do("PATCH", fmt.Sprintf("/admin/users/%d", albert.ID), alice.Token, map[string]bool{"disabled": true}).wantStatus(t, 200)
	if got := find("alb"); got != "" {
		t.Errorf("a disabled account found: %q", got)
	}
	e.do("GET", "/users?q=", alice.Token, nil).wantProblem(t, 422, "query.q")
	e.do("GET", "/users", alice.Token, nil).wantProblem(t, 422, "query.q")
	e.do("GET", "/users?q=al&limit=21", alice.Token, nil).wantProblem(t, 422, "query.limit")
	e.do("GET", "/users?q=al", "", nil).wantStatus(t, 401)
}
