// Package rawerror gives the answers net/http writes by itself the headers
// every other answer of the server carries.
//
// When net/http cannot read a request (a malformed request line, headers
// over MaxHeaderBytes, an unknown transfer coding), it answers 400, 431 or
// 501 straight to the connection, with a Content-Type and
// "Connection: close" and nothing else: no handler runs, so neither does
// the middleware that sets nosniff, a Content-Security-Policy and the rest.
// Listener's connections recognise such an answer, which is written in one
// Write and, unlike every answer of a handler, has no Date header, and put
// the headers in after its status line.
package rawerror

import (
	"bytes"
	"net"
	"net/http"
	"slices"
	"strings"

	"moments/internal/connwrap"
)

// netHTTPHeaders is what net/http writes after the status line of the
// answers it makes itself (server.go, errorHeaders).
var netHTTPHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

// Listener wraps the connections of a listener so that net/http's own error
// answers carry Header.
type Listener struct {
	net.Listener
	Header http.Header
}

// Accept waits for the next connection.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &conn{Conn: connwrap.Conn{Conn: c}, lines: headerLines(l.Header)}, nil
}

// headerLines writes h as header lines, each ended by CRLF, in a fixed order.
func headerLines(h http.Header) []byte {
	var b bytes.Buffer
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			if strings.ContainsAny(k+v, "\r\n") {
				continue // a header value never spans lines
			}
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	return b.Bytes()
}

type conn struct {
	connwrap.Conn
	lines []byte
}

// Write writes p, adding the headers to it if it is one of net/http's own
// error answers.
func (c *conn) Write(p []byte) (int, error) {
	if !isOwnError(p) {
		return c.Conn.Write(p)
	}
	status := bytes.Index(p, []byte("\r\n")) + 2
	out := make([]byte, 0, len(p)+len(c.lines))
	out = append(out, p[:status]...)
	out = append(out, c.lines...)
	out = append(out, p[status:]...)
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// isOwnError reports whether p is a whole answer net/http made itself: a
// 4xx or 5xx status line followed by exactly net/http's two error headers.
func isOwnError(p []byte) bool {
	if !bytes.HasPrefix(p, []byte("HTTP/1.1 4")) && !bytes.HasPrefix(p, []byte("HTTP/1.1 5")) {
		return false
	}
	end := bytes.Index(p, []byte("\r\n"))
	return end > 0 && bytes.HasPrefix(p[end:], netHTTPHeaders)
}
