package app

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"moments/internal/textclean"
)

// maxURLLength bounds every URL we store.
const maxURLLength = 2048

// checkText refuses NUL and other control characters except newline and
// tab, and the bidirectional override and isolate characters.
func checkText(prefix *huma.PathBuffer, field, s string) error {
	return textProblem(prefix, field, textclean.Text(s),
		"must not contain control characters other than newline and tab, nor bidirectional overrides (U+202A–U+202E, U+2066–U+2069)")
}

// checkSingleLine refuses every control character, newlines included, and
// the bidirectional override and isolate characters.
func checkSingleLine(prefix *huma.PathBuffer, field, s string) error {
	return textProblem(prefix, field, textclean.Line(s),
		"must be a single line without control characters or bidirectional overrides (U+202A–U+202E, U+2066–U+2069)")
}

// textProblem is the error naming field, unless the text is clean.
func textProblem(prefix *huma.PathBuffer, field string, clean bool, message string) error {
	if clean {
		return nil
	}
	return &huma.ErrorDetail{Location: prefix.With(field), Message: message}
}

// checkLength counts characters after trimming surrounding white space.
func checkLength(prefix *huma.PathBuffer, field, s string, least, most int) error {
	n := utf8.RuneCountInString(strings.TrimSpace(s))
	if n < least || n > most {
		msg := "must not be empty"
		if n > most {
			msg = "is too long"
		}
		return &huma.ErrorDetail{
			Location: prefix.With(field),
			Message:  msg + " (" + strconv.Itoa(least) + "–" + strconv.Itoa(most) + " characters after trimming white space)",
		}
	}
	return nil
}

// webURL reports whether raw is an absolute http(s) URL with a host, of a
// sane length, written exactly as a browser would follow it. Schemes are
// checked here because Huma's format:"uri" accepts javascript:.
func webURL(raw string) bool {
	if len(raw) > maxURLLength || raw != strings.TrimSpace(raw) {
		return false
	}
	for _, r := range raw {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return false
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil {
		return false
	}
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Hostname() != ""
}

// checkMediaURL accepts an absolute http(s) URL or the /media/ path of an
// upload stored here.
func (s *server) checkMediaURL(location, raw string) error {
	if name, ok := strings.CutPrefix(raw, "/media/"); ok {
		if s.media.Exists(name) && !strings.Contains(name, ".thumb.") {
			return nil
		}
		return fieldError(location, "names no photo uploaded here", raw)
	}
	if !webURL(raw) {
		return fieldError(location, "must be an absolute http or https URL (at most 2048 characters) or a /media/ path", raw)
	}
	return nil
}
