package app

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A read deadline left on the connection after the body has been read
// cancels the request's context when it passes (net/http's background
// read fails); clearReadDeadline lifts it, so work that outlasts it keeps
// its context. net/http lifts the deadline of the server's ReadTimeout
// itself when the body reaches its end, so the stale deadline here is one
// set after that, as any later SetReadDeadline would be (Huma sets one for
// operations with a body).
// The work is a wait many times the deadline, so no machine is fast enough
// to finish it in time; the control case shows the test sees the bug.
func TestClearReadDeadlineLiftsAStaleDeadline(t *testing.T) {
	t.Parallel()
	const stale = 50 * time.Millisecond
	for _, tt := range []struct {
		name      string
		clear     bool
		wantAlive bool
	}{
		{"Cleared", true, true},
		{"LeftInPlace", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			alive := make(chan bool, 1)
			srv := &http.Server{
				Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					http.NewResponseController(w).SetReadDeadline(time.Now().Add(stale))
					if tt.clear {
						clearReadDeadline(w)
					}
					select { // a decode that outlasts the deadline
					case <-r.Context().Done():
						alive <- false
					case <-time.After(20 * stale):
						alive <- true
					}
				}),
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })

			res, err := http.Post("http://"+ln.Addr().String(), "image/jpeg", strings.NewReader("a photo"))
			if err == nil {
				res.Body.Close()
			}
			if got := <-alive; got != tt.wantAlive {
				t.Errorf("context alive after the work: %v, want %v", got, tt.wantAlive)
			}
		})
	}
}
