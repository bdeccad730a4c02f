package app

import (
	"encoding/json"
	"testing"
	"time"

	"moments/store"
)

// FuzzAppendString: the hand-written string encoder produces byte for byte
// what encoding/json produces, for any input, valid UTF-8 or not.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{
		"", "plain", `"quoted" \ back`, "<script>&</script>", "line\nbreak\ttab\r", "\x00\x01\x1f\x7f",
		"ünïcödé 🎉", "\u2028\u2029", "\xff\xfe invalid", "a\xc3", "\xed\xa0\x80 surrogate",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); string(got) != string(want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

// appendPost writes what encoding/json writes for the documented postBody,
// for the author (who sees the circles a post names) and for anyone else.
func TestAppendPostMatchesSchema(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 19, 4, 5, 120_000_000, time.UTC)
	edited := at.Add(90 * time.Minute)
	for _, tc := range []struct {
		name   string
		post   store.Post
		viewer int64
		want   postBody
	}{
		{
			name: "a reader",
			post: store.Post{
				ID:            42,
				Author:        store.Author{ID: 7, Username: "alice", DisplayName: "Alice <L>", AvatarURL: "/media/x.jpg"},
				Content:       "hi \"there\"\n<b>",
				MediaJSON:     `["https://a.example/1.jpg?a=1\u0026b=2"]`,
				CreatedAt:     at,
				Audience:      store.MembersHidden,
				CircleIDsJSON: "[]", HiddenFromJSON: "[3]",
				LikeCount:    3,
				CommentCount: 1,
				LikedByMe:    true,
			},
			viewer: 8,
			want: postBody{
				ID:           42,
				Author:       authorBody{ID: 7, Username: "alice", DisplayName: "Alice <L>", AvatarURL: "/media/x.jpg"},
				Content:      "hi \"there\"\n<b>",
				MediaURLs:    []string{"https://a.example/1.jpg?a=1&b=2"},
				CreatedAt:    apiTime(at),
				Audience:     "members",
				LikeCount:    3,
				CommentCount: 1,
				LikedByMe:    true,
			},
		},
		{
			name: "the author of an edited post",
			post: store.Post{
				ID: 43, Author: store.Author{ID: 7, Username: "alice"},
				MediaJSON: `["/media/a.jpg"]`, CreatedAt: at, EditedAt: edited,
				Audience: store.Circles, CircleIDsJSON: "[2,5]", HiddenFromJSON: "[]",
			},
			viewer: 7,
			want: postBody{
				ID: 43, Author: authorBody{ID: 7, Username: "alice"},
				MediaURLs: []string{"/media/a.jpg"}, CreatedAt: apiTime(at), EditedAt: ptr(apiTime(edited)),
				Audience: "circles", CircleIDs: &[]int64{2, 5}, HiddenFrom: &[]int64{},
			},
		},
	} {
		want, err := json.Marshal(tc.want)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendPost(nil, &tc.post, tc.viewer); string(got) != string(want) {
			t.Errorf("%s: appendPost:\n%s\nencoding/json:\n%s", tc.name, got, want)
		}
	}
	if got := string(appendTime(nil, at)); got != `"2026-11-26T19:04:05.120Z"` {
		t.Errorf("appendTime = %s", got)
	}
}

func ptr[T any](v T) *T { return &v }

func FuzzAppendTime(f *testing.F) {
	for _, ms := range []int64{0, 1, 999, 1_700_000_000_123, 253_402_300_799_999, -1, -62_135_596_800_000} {
		f.Add(ms)
	}
	f.Fuzz(func(t *testing.T, ms int64) {
		tm := time.UnixMilli(ms)
		want := `"` + tm.UTC().Format("2006-01-02T15:04:05.000Z07:00") + `"`
		if got := string(appendTime(nil, tm)); got != want {
			t.Fatalf("appendTime(%d) = %s, want %s", ms, got, want)
		}
	})
}
