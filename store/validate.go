package store

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"moments/internal/account"
	"moments/internal/textclean"
)

// The limits of what the store keeps. The HTTP layer checks the same limits
// first, with a message naming the field; the store checks again, so that
// no path into it (a command, a handler written later, a decoder that
// merged keys) can write what the API refuses.
const (
	MaxDisplayNameChars = 64
	MaxBioChars         = 500
	MaxURLChars         = 2048
	MaxPostChars        = 5000
	MaxMediaPerPost     = 9
	MaxCommentChars     = 1000
	MaxPostCircles      = 20 // circles a post is shown to, or hidden from
	MaxCircles          = 100
	MaxCircleMembers    = 1000
	MaxCircleNameChars  = 50
	MaxHistoryDays      = 3650
)

// ErrInvalid means a value breaks one of the limits above; the wrapped
// message says which.
var ErrInvalid = errors.New("invalid")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// FieldError is an ErrInvalid about one field of what a caller sent, for
// the checks only the store can make (whether circles are the author's
// own, whether a post keeps a photo): the API names the field.
type FieldError struct {
	Field   string // as the API names it: "circle_ids"
	Message string // what is wrong, without the value
}

func (e *FieldError) Error() string        { return ErrInvalid.Error() + ": " + e.Field + " " + e.Message }
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func invalidField(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// checkLine checks one-line text of at most most characters.
func checkLine(field, s string, most int) error {
	if !textclean.Line(s) || utf8.RuneCountInString(s) > most {
		return invalidField(field, "must be one line of at most %d characters without control or bidirectional override characters", most)
	}
	return nil
}

// checkText checks text of least to most characters after trimming.
func checkText(field, s string, least, most int) error {
	n := utf8.RuneCountInString(strings.TrimSpace(s))
	if !textclean.Text(s) || n < least || n > most {
		return invalidField(field, "must be %d to %d characters without control or bidirectional override characters", least, most)
	}
	return nil
}

func checkNewUser(nu NewUser) error {
	if !account.ValidUsername(nu.Username) {
		return invalidField("username", "must be 3 to %d characters of a-z, A-Z, 0-9 and _", account.MaxUsernameChars)
	}
	if nu.PasswordHash == "" {
		return invalid("an account needs a password hash")
	}
	return checkLine("display_name", nu.DisplayName, MaxDisplayNameChars)
}

func (s *Store) checkProfile(p ProfileUpdate) error {
	if d := p.HistoryVisibleDays; d != nil && (*d < 0 || *d > MaxHistoryDays) {
		return invalidField("history_visible_days", "must be 0 (all) or 1 to %d", MaxHistoryDays)
	}
	if a := p.DefaultAudience; a != nil {
		switch *a {
		case Members, OnlyMe:
		case Public:
			if !s.publicPosts {
				return invalidField("default_audience", "cannot be public: this instance does not allow public posts")
			}
		default:
			return invalidField("default_audience", "must be members, only_me or public")
		}
	}
	if p.DisplayName != nil {
		if err := checkLine("display_name", *p.DisplayName, MaxDisplayNameChars); err != nil {
			return err
		}
	}
	if p.Bio != nil {
		if err := checkText("bio", *p.Bio, 0, MaxBioChars); err != nil {
			return err
		}
	}
	if p.AvatarURL != nil {
		if err := checkLine("avatar_url", *p.AvatarURL, MaxURLChars); err != nil {
			return err
		}
	}
	return nil
}

func checkPost(content string, mediaURLs []string) error {
	least := 1
	if len(mediaURLs) > 0 {
		least = 0 // a photo-only post
	}
	if err := checkText("content", content, least, MaxPostChars); err != nil {
		return err
	}
	if len(mediaURLs) > MaxMediaPerPost {
		return invalidField("media_urls", "has at most %d photos", MaxMediaPerPost)
	}
	for _, u := range mediaURLs {
		if u == "" {
			return invalidField("media_urls", "must not hold an empty URL")
		}
		if err := checkLine("media_urls", u, MaxURLChars); err != nil {
			return err
		}
	}
	return nil
}
