// Package onewrite lets a handler send a response it holds whole in memory
// with one write system call.
//
// net/http puts a response's header and the start of its body in a 4 kB
// buffer and writes the rest past it, so a 9 kB page of posts leaves in two
// writes: two trips through the kernel's TCP stack and two wake-ups of the
// client. Serve through Listener and set http.Server.ConnContext to
// ConnContext; Write then holds the connection's writes while the body goes
// through net/http's buffers, and sends header and body together.
//
// Anything else is written as net/http writes it: through a connection that
// did not come from Listener (a test server, a TLS connection) Write is a
// plain write, and files keep sendfile through Conn.ReadFrom.
package onewrite

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"

	"moments/internal/connwrap"
)

// Listener hands out its connections wrapped so that Write can hold them.
type Listener struct{ net.Listener }

// Accept waits for the next connection.
func (l Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: connwrap.Conn{Conn: c}}, nil
}

// Conn is a connection from Listener. While Write holds it, what net/http
// writes to it collects in a buffer instead.
//
// An HTTP/1 connection is written by the goroutine serving its current
// request and by no other, so held needs no lock: Write sets and clears it
// on that goroutine.
type Conn struct {
	connwrap.Conn
	held *[]byte // non-nil while a response is held
}

// Write writes p, or adds it to the held response.
func (c *Conn) Write(p []byte) (int, error) {
	if c.held != nil {
		*c.held = append(*c.held, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// ReadFrom lets net/http send files with sendfile, as it does through a
// bare TCP connection, unless a response is being held.
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if c.held != nil {
		return io.Copy(struct{ io.Writer }{c}, r)
	}
	return c.Conn.ReadFrom(r)
}

type connKey struct{}

// ConnContext is http.Server.ConnContext: it puts a Conn where Write finds it.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if oc, ok := c.(*Conn); ok {
		return context.WithValue(ctx, connKey{}, oc)
	}
	return ctx
}

// heldBuffers are the buffers held responses collect in.
var heldBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// maxPooled bounds the buffers kept for reuse, so that one large response
// does not stay in memory for good.
const maxPooled = 256 << 10

// Write sends w's response: its header with status and Content-Length
// added, then body. The two go in one write when the request's connection
// came from Listener. ctx is the request's context. Nothing may have been
// written to w before.
func Write(ctx context.Context, w http.ResponseWriter, status int, body []byte) error {
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(body))}
	c, _ := ctx.Value(connKey{}).(*Conn)
	if c == nil || c.held != nil {
		w.WriteHeader(status)
		_, err := w.Write(body)
		return err
	}
	bp := heldBuffers.Get().(*[]byte)
	*bp = (*bp)[:0]
	c.held = bp
	w.WriteHeader(status)
	_, err := w.Write(body)
	if err == nil {
		// The body is all there is, so flushing ends the response; with
		// Content-Length set it does not turn it into chunks.
		err = http.NewResponseController(w).Flush()
	}
	c.held = nil
	if len(*bp) > 0 {
		if _, werr := c.Conn.Write(*bp); werr != nil {
			// net/http did not see this write fail, so it must not go on
			// to the next request on this connection: closing it makes its
			// next read fail.
			c.Conn.Close()
			err = werr
		}
	}
	if cap(*bp) <= maxPooled {
		heldBuffers.Put(bp)
	}
	return err
}
