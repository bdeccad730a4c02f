package app_test

import (
	"fmt"
	"net/http"
	"testing"
)

// TestPageParamsEverywhere: every list embeds PageParams, and Huma applies
// its default (20) and its limits (1..100) in each of them.
func TestPageParamsEverywhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.signUp("admin")
	var first int64
	for i := range 25 {
		var p struct {
			ID int64 `json:"id"`
		}
		e.do("POST", "/posts", admin.Token, map[string]string{"content": fmt.Sprint("post ", i)}).wantStatus(t, http.StatusCreated).json(t, &p)
		if i == 0 {
			first = p.ID
		}
		e.do("POST", fmt.Sprintf("/posts/%d/comments", first), admin.Token, map[string]string{"content": "c"}).wantStatus(t, http.StatusCreated)
		e.signUp(fmt.Sprint("member", i))
	}
	for _, path := range []string{"/posts", "/users/admin/posts", fmt.Sprintf("/posts/%d/comments", first), "/admin/users"} {
		var page struct {
			Items []any   `json:"items"`
			Next  *string `json:"next_cursor"`
		}
		e.do("GET", path, admin.Token, nil).wantStatus(t, http.StatusOK).json(t, &page)
		if len(page.Items) != 20 || page.Next == nil {
			t.Errorf("%s without a limit: %d items, next %v; want the default 20 and a cursor", path, len(page.Items), page.Next)
		}
		for _, bad := range []string{"0", "101", "-1", "x"} {
			e.do("GET", path+"?limit="+bad, admin.Token, nil).wantProblem(t, http.StatusUnprocessableEntity, "query.limit")
		}
		e.do("GET", path+"?limit=100", admin.Token, nil).wantStatus(t, http.StatusOK)
	}
}
