package store

import (
	"fmt"
	"strings"
)

// Audience says who may see a post. Its values are the codes the posts
// table stores (migrations/00005_audiences.sql).
type Audience int

const (
	Members       Audience = 0 // every signed-in member
	MembersHidden Audience = 1 // every signed-in member but those in its hidden_from circles
	Circles       Audience = 2 // the members of its circles
	OnlyMe        Audience = 3 // its author alone
	Public        Audience = 4 // everyone, visitors without an account too

	// DefaultAudience, in a PostInput, is the author's default_audience;
	// Public falls back to Members on an instance that no longer allows
	// public posts. It is never stored.
	DefaultAudience Audience = -1
)

// Name is the audience as the API writes it: members with hidden_from are
// "members" (the circles they hide from are the author's business).
func (a Audience) Name() string {
	switch a {
	case Members, MembersHidden:
		return "members"
	case Circles:
		return "circles"
	case OnlyMe:
		return "only_me"
	case Public:
		return "public"
	}
	return fmt.Sprintf("audience(%d)", int(a))
}

// ParseAudience reads the API's name of an audience. "members" is Members;
// a post with hidden_from circles stores MembersHidden.
func ParseAudience(name string) (Audience, bool) {
	switch name {
	case "members":
		return Members, true
	case "circles":
		return Circles, true
	case "only_me":
		return OnlyMe, true
	case "public":
		return Public, true
	}
	return 0, false
}

// Viewer is who reads: the one input of the audience rule besides the post.
type Viewer struct {
	ID int64 // 0: a visitor without an account
}

// The audience rule. Whoever can see a post can see its likes and comments
// and may like and comment on it; everything else is as if the post did
// not exist. It is written here once, as SQL, and every query that can
// reach a post includes it:
//
//   - the author sees the post;
//   - everyone else sees it while it is inside the author's history window
//     (history_days, 0 for all), and if
//   - it is for members and the viewer is signed in;
//   - it is for members and the viewer is signed in and in none of the
//     author's circles it is hidden from;
//   - it is for circles and the viewer is in one of them;
//
// (circle_reach, who has whom in any circle, settles the last two for an
// author who has the viewer in no circle at all, most authors, with one
// lookup: the post's own circles are looked at only otherwise.)
//   - it is public and the viewer is signed in, or the instance lets
//     visitors read public posts.
//
// Admins follow the same rule: they may delete any post, not read it.
//
// The rule's parameters are numbered, so that every query binds the same
// three first: ?1 the viewer's ID (0 for a visitor), ?2 the time now in
// unix milliseconds, ?3 whether visitors may read public posts. A query's
// own parameters start at ?4 (ruleParams).
const ruleParams = 3

// visibleTo returns the rule for the post row aliased p.
func visibleTo(p string) string {
	r := strings.NewReplacer("p.", p+".")
	return r.Replace(`(p.user_id = ?1 OR (
	(p.history_days = 0 OR p.created_at >= ?2 - p.history_days * 86400000) AND CASE p.audience
		WHEN 0 THEN ?1 <> 0
		WHEN 1 THEN ?1 <> 0 AND (NOT EXISTS (SELECT 1 FROM circle_reach cr WHERE cr.owner_id = p.user_id AND cr.member_id = ?1)
			OR NOT EXISTS (SELECT 1 FROM post_circles pc JOIN circle_members cm
				ON cm.circle_id = pc.circle_id AND cm.user_id = ?1 WHERE pc.post_id = p.id AND pc.hidden = 1))
		WHEN 2 THEN ?1 <> 0 AND EXISTS (SELECT 1 FROM circle_reach cr WHERE cr.owner_id = p.user_id AND cr.member_id = ?1)
			AND EXISTS (SELECT 1 FROM post_circles pc JOIN circle_members cm
				ON cm.circle_id = pc.circle_id AND cm.user_id = ?1 WHERE pc.post_id = p.id AND pc.hidden = 0)
		WHEN 4 THEN ?1 <> 0 OR ?3
		ELSE 0 END))`)
}

// ruleArgs are the rule's three parameters, to which a query appends its own.
func (s *Store) ruleArgs(v Viewer, extra ...any) []any {
	args := make([]any, 0, ruleParams+len(extra))
	args = append(args, v.ID, millis(s.now()), s.publicPosts)
	return append(args, extra...)
}
