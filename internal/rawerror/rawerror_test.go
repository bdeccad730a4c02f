package rawerror

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"strings"
	"testing"

	"moments/internal/connwrap"
)

func TestOnlyNetHTTPsOwnErrorsAreChanged(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, written string
		own           bool
	}{
		{"431", "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large", true},
		{"400 with a reason", "HTTP/1.1 400 Bad Request: missing required Host header\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: missing required Host header", true},
		{"501", "HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nUnsupported transfer encoding", true},
		{"a handler's 400", "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nDate: Fri, 04 Dec 2026 18:00:00 GMT\r\n\r\nbad", false},
		{"a handler's 200", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false},
		{"a body that looks like one", "HTTP/1.1 404 Not Found\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := net.Pipe()
			c := &conn{Conn: connwrap.Conn{Conn: server}, lines: headerLines(http.Header{"X-Content-Type-Options": {"nosniff"}, "X-Frame-Options": {"DENY"}})}
			go func() {
				n, err := c.Write([]byte(tc.written))
				if err != nil || n != len(tc.written) {
					t.Errorf("Write = %d, %v", n, err)
				}
				server.Close()
			}()
			var got bytes.Buffer
			got.ReadFrom(client)
			if !tc.own {
				if got.String() != tc.written {
					t.Errorf("changed %q to %q", tc.written, got.String())
				}
				return
			}
			res, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got.String())), nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" || res.Header.Get("X-Frame-Options") != "DENY" ||
				res.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("headers %v from %q", res.Header, got.String())
			}
		})
	}
}
