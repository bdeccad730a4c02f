package app

import (
	"bytes"
	"strconv"
	"time"
	"unicode/utf8"

	"moments/store"
)

// The feed is the hottest path, so posts are encoded by hand into a reused
// buffer instead of through reflection. The output is what encoding/json
// would produce for postBody (tests and a fuzz target compare the two), so
// the documented schema stays exact.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped exactly like
// encoding/json does: quotes, backslashes and control characters; <, > and &
// (HTML-safe); U+2028 and U+2029 (JavaScript-safe); invalid UTF-8 becomes
// U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendTime appends t as an RFC 3339 UTC string with milliseconds,
// "2006-01-02T15:04:05.000Z". Written out by hand: time.AppendFormat was a
// twentieth of a feed page's cost.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	if year < 0 || year > 9999 {
		// Outside what four digits hold; never stored, but stay correct.
		b = append(b, '"')
		b = t.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
		return append(b, '"')
	}
	ms := t.Nanosecond() / 1e6
	b = append(b, '"',
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+min/10), byte('0'+min%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z', '"')
	return b
}

func appendAuthor(b []byte, a store.Author) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, a.ID, 10)
	b = append(b, `,"username":`...)
	b = appendString(b, a.Username)
	b = append(b, `,"display_name":`...)
	b = appendString(b, a.DisplayName)
	b = append(b, `,"avatar_url":`...)
	b = appendString(b, a.AvatarURL)
	return append(b, '}')
}

// appendPost appends a post as the API's Post object, as viewer sees it.
// The stored media array is passed through: CreatePost wrote it with
// encoding/json.
func appendPost(b []byte, p *store.Post, viewer int64) []byte {
	return appendPostCounters(appendPostFixed(b, p), p, viewer)
}

// appendPostFixed appends the fields of a post that only a write changes
// and that every reader sees alike, without the closing brace: everything
// up to the audience. The feed cache keeps this part rendered.
func appendPostFixed(b []byte, p *store.Post) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, p.ID, 10)
	b = append(b, `,"author":`...)
	b = appendAuthor(b, p.Author)
	b = append(b, `,"content":`...)
	b = appendString(b, p.Content)
	b = append(b, `,"media_urls":`...)
	b = append(b, p.MediaJSON...)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, p.CreatedAt)
	b = append(b, `,"edited_at":`...)
	if p.EditedAt.IsZero() {
		b = append(b, "null"...)
	} else {
		b = appendTime(b, p.EditedAt)
	}
	b = append(b, `,"audience":"`...)
	b = append(b, p.Audience.Name()...)
	return append(b, '"')
}

// appendPostCounters appends the rest of a post: what changes between
// reads, what depends on the reader, and the closing brace. Only the
// author learns which circles a post names.
func appendPostCounters(b []byte, p *store.Post, viewer int64) []byte {
	b = append(b, `,"like_count":`...)
	b = strconv.AppendInt(b, p.LikeCount, 10)
	b = append(b, `,"comment_count":`...)
	b = strconv.AppendInt(b, p.CommentCount, 10)
	b = append(b, `,"liked_by_me":`...)
	b = strconv.AppendBool(b, p.LikedByMe)
	if viewer != 0 && viewer == p.Author.ID {
		// Both arrays as CreatePost or UpdatePost wrote them with
		// encoding/json: never null.
		b = append(b, `,"circle_ids":`...)
		b = appendIDs(b, p.CircleIDsJSON)
		b = append(b, `,"hidden_from":`...)
		b = appendIDs(b, p.HiddenFromJSON)
	}
	return append(b, '}')
}

// appendIDs appends a stored JSON array of IDs; none stored is [].
func appendIDs(b []byte, ids string) []byte {
	if ids == "" {
		return append(b, "[]"...)
	}
	return append(b, ids...)
}

// appendPostPage appends {"items": [...], "next_cursor": ...}, as viewer
// sees the posts.
func appendPostPage(b []byte, posts []store.Post, viewer int64, next string) []byte {
	b = append(b, `{"items":[`...)
	for i := range posts {
		if i > 0 {
			b = append(b, ',')
		}
		p := &posts[i]
		if p.Rendered == nil {
			b = appendPost(b, p, viewer)
			continue
		}
		// The unchanging part is rendered once per cached post.
		if fixed := p.Rendered.Load(); fixed != nil {
			b = append(b, fixed...)
		} else {
			start := len(b)
			b = appendPostFixed(b, p)
			p.Rendered.Store(bytes.Clone(b[start:]))
		}
		b = appendPostCounters(b, p, viewer)
	}
	b = append(b, `],"next_cursor":`...)
	if next == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, next)
	}
	return append(b, '}')
}
