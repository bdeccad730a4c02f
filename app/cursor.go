package app

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"moments/store"
)

// Cursors are opaque to clients and signed by the server: a position
// (two integers, e.g. created_at and id) plus an HMAC over the list it
// belongs to. A forged, damaged or borrowed cursor fails the MAC and is a
// 422 before it gets anywhere near SQL.
type cursors struct {
	key  []byte
	macs sync.Pool // of HMAC-SHA256 keyed with key, reset before use
}

const (
	cursorVersion = 1
	cursorMACSize = 12
	// maxCursorLength bounds what decode will look at; ours are ~30 bytes.
	maxCursorLength = 64
)

var errBadCursor = errors.New("bad cursor")

func newCursors(secret []byte) *cursors {
	// A key of its own, derived from the token secret, so cursors and
	// tokens can never be confused for each other.
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("moments cursor key v1"))
	c := &cursors{key: m.Sum(nil)}
	c.macs.New = func() any { return hmac.New(sha256.New, c.key) }
	return c
}

func (c *cursors) mac(list string, payload []byte) []byte {
	m := c.macs.Get().(hash.Hash)
	defer c.macs.Put(m)
	m.Reset()
	m.Write([]byte(list))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(make([]byte, 0, sha256.Size))[:cursorMACSize]
}

// encode makes the cursor for position (a, b) in the named list.
func (c *cursors) encode(list string, a, b int64) string {
	buf := make([]byte, 1, 1+2*binary.MaxVarintLen64+cursorMACSize)
	buf[0] = cursorVersion
	buf = binary.AppendVarint(buf, a)
	buf = binary.AppendVarint(buf, b)
	buf = append(buf, c.mac(list, buf)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// decode returns the position a cursor of the named list points at.
func (c *cursors) decode(list, s string) (a, b int64, err error) {
	if len(s) > maxCursorLength {
		return 0, 0, errBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	// The decoder skips CR and LF and ignores the unused bits of the last
	// character; only the exact spelling the server issued is a cursor.
	if err != nil || base64.RawURLEncoding.EncodeToString(raw) != s ||
		len(raw) < 1+2+cursorMACSize || raw[0] != cursorVersion {
		return 0, 0, errBadCursor
	}
	payload, sum := raw[:len(raw)-cursorMACSize], raw[len(raw)-cursorMACSize:]
	if !hmac.Equal(sum, c.mac(list, payload)) {
		return 0, 0, errBadCursor
	}
	rest := payload[1:]
	a, n := binary.Varint(rest)
	if n <= 0 {
		return 0, 0, errBadCursor
	}
	b, m := binary.Varint(rest[n:])
	if m <= 0 || n+m != len(rest) {
		return 0, 0, errBadCursor
	}
	return a, b, nil
}

// PageParams is the query of every list operation; their inputs embed it,
// and Huma applies its defaults and limits there as it does to fields of
// the input itself.
type PageParams struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Items per page"`
	Cursor string `query:"cursor" maxLength:"64" doc:"Opaque: the next_cursor of the previous page; leave out for the first page"`
}

// after returns where the page p of the named list starts: nil on the first
// page, and a 422 for a cursor the server did not issue for this list.
func (c *cursors) after(list string, p PageParams) (*store.Key, error) {
	if p.Cursor == "" {
		return nil, nil
	}
	at, id, err := c.decode(list, p.Cursor)
	if err != nil {
		return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{
			Location: "query.cursor",
			Message:  "is not a cursor this server issued for this list; use next_cursor from the previous page",
		})
	}
	return &store.Key{CreatedAt: at, ID: id}, nil
}

// next is the next_cursor of a page whose next page starts after k: nil
// (JSON null) when there is no next page.
func (c *cursors) next(list string, k *store.Key) *string {
	if k == nil {
		return nil
	}
	s := c.encode(list, k.CreatedAt, k.ID)
	return &s
}
