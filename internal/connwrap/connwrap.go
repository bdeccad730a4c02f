// Package connwrap is the base of the server's connection wrappers: what
// every wrapper must pass through to the connection it wraps, so that
// net/http sees what it would see on a bare TCP connection.
package connwrap

import (
	"io"
	"net"
)

// Conn wraps a net.Conn. A wrapper embeds it and overrides what it changes.
type Conn struct{ net.Conn }

// ReadFrom lets net/http send files with sendfile, as it does through a
// bare TCP connection: io.Copy reaches the wrapped connection's ReadFrom.
func (c Conn) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(c.Conn, r)
}

// CloseWrite half-closes the connection, which net/http does before closing
// it so that the client reads the whole response.
func (c Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
