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
)

// ErrInvalid means a value breaks one of the limits above; the wrapped
// message says which.
var ErrInvalid = errors.New("invalid")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// checkLine checks one-line text of at most most characters.
func checkLine(field, s string, most int) error {
	if !textclean.Line(s) || utf8.RuneCountInString(s) > most {
		return invalid("%s must be one line of at most %d characters without control or bidirectional override characters", field, most)
	}
	return nil
}

// checkText checks text of least to most characters after trimming.
func checkText(field, s string, least, most int) error {
	n := utf8.RuneCountInString(strings.TrimSpace(s))
	if !textclean.Text(s) || n < least || n > most {
		return invalid("%s must be %d to %d characters without control or bidirectional override characters", field, least, most)
	}
	return nil
}

func checkNewUser(nu NewUser) error {
	if !account.ValidUsername(nu.Username) {
		return invalid("username must be 3 to %d characters of a-z, A-Z, 0-9 and _", account.MaxUsernameChars)
	}
	if nu.PasswordHash == "" {
		return invalid("an account needs a password hash")
	}
	return checkLine("display_name", nu.DisplayName, MaxDisplayNameChars)
}

func checkProfile(p ProfileUpdate) error {
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
	if err := checkText("content", content, 1, MaxPostChars); err != nil {
		return err
	}
	if len(mediaURLs) > MaxMediaPerPost {
		return invalid("a post has at most %d photos", MaxMediaPerPost)
	}
	for _, u := range mediaURLs {
		if u == "" {
			return invalid("a media URL is empty")
		}
		if err := checkLine("media_urls", u, MaxURLChars); err != nil {
			return err
		}
	}
	return nil
}
