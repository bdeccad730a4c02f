// Package openaitest is a fake OpenAI-compatible chat-completions server for
// tests: a real HTTP server on loopback that speaks the protocol (a JSON
// chat.completion, or a text/event-stream of chat.completion.chunk objects
// ending with "data: [DONE]"), records every request it receives, and can be
// scripted to fail in the ways real servers do — an error status, a hang, a
// slow or oversized answer, an error in the middle of a stream.
//
// It is used by the assistant package's tests and by the app's HTTP tests.
package openaitest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultText is the reply when a Reply sets no Text.
const DefaultText = "What a lovely day at the lake with everyone!"

// Reply scripts how the server answers. The zero Reply answers DefaultText
// successfully, as JSON or as a stream, whichever the request asked for.
type Reply struct {
	// Text is the assistant's reply.
	Text string
	// Chunks splits Text into this many stream chunks of about equal length
	// (never inside a UTF-8 sequence). Zero: one chunk per word.
	Chunks int

	// Status, when not 2xx, is answered with Body (an OpenAI-style error
	// document when Body is empty) instead of a completion.
	Status int
	// Body, with a 2xx Status or none, replaces the whole response body
	// verbatim, sent with ContentType (default application/json for a plain
	// request, text/event-stream for a streaming one). Use it for malformed
	// answers and hand-written event streams.
	Body        string
	ContentType string

	// Delay waits before answering (returning early if the client gives up).
	Delay time.Duration
	// ChunkDelay waits between stream chunks.
	ChunkDelay time.Duration
	// Hang never answers: the handler returns only when the client gives up
	// or the server is closed.
	Hang bool

	// Pad makes the answer this many bytes larger: a "padding" field in a
	// JSON completion, or 1 KiB comment lines after the content chunks of a
	// stream (before [DONE]).
	Pad int
	// StreamErrorAfter, when positive, ends a stream after that many content
	// chunks with an error object in a data line, as OpenAI and vLLM do.
	StreamErrorAfter int

	// Reasoning answers as OpenAI's reasoning models (the o-series, gpt-5)
	// do: a request with max_tokens, or with a temperature other than 1, is
	// refused with 400 and an error naming the parameter, worded as OpenAI
	// words it; max_completion_tokens and reasoning_effort are accepted.
	Reasoning bool
}

// Request is one request the server received.
type Request struct {
	Method        string
	Path          string
	Query         string // the raw query string
	Authorization string // the header as sent; empty when absent
	HasAuth       bool   // whether an Authorization header was present at all
	ContentType   string
	Accept        string
	Body          ChatRequest
	RawBody       []byte
}

// ChatRequest is the decoded request body. Pointer fields are nil when the
// client left them out.
type ChatRequest struct {
	Model     string    `json:"model"`
	Messages  []Message `json:"messages"`
	MaxTokens *int      `json:"max_tokens"`
	// MaxCompletionTokens is the newer name of max_tokens, which OpenAI's
	// reasoning models require.
	MaxCompletionTokens *int           `json:"max_completion_tokens"`
	ReasoningEffort     *string        `json:"reasoning_effort"`
	Temperature         *float64       `json:"temperature"`
	Stream              bool           `json:"stream"`
	StreamOptions       *StreamOptions `json:"stream_options"`
}

// StreamOptions is the optional stream_options object.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// Message is one chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Content returns the content of the first message with the given role.
func (r ChatRequest) Content(role string) string {
	for _, m := range r.Messages {
		if m.Role == role {
			return m.Content
		}
	}
	return ""
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	srv  *httptest.Server
	done chan struct{} // closed at cleanup, releases hanging handlers

	mu       sync.Mutex
	reply    Reply
	requests []Request
}

// New starts a fake server on 127.0.0.1 and closes it when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{done: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		close(s.done)
		s.srv.Close()
	})
	return s
}

// URL is the server's root, e.g. http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.srv.URL }

// BaseURL is the API root to configure a client with: URL()+"/v1", as with
// OpenAI, Ollama and llama.cpp. Chat completions answer at BaseURL()+"/chat/completions".
func (s *Server) BaseURL() string { return s.srv.URL + "/v1" }

// SetReply scripts the answer to every request from now on.
func (s *Server) SetReply(r Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reply = r
}

// Requests returns a copy of every request received so far, in order of arrival.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// LastRequest returns the latest request, failing the test if there is none.
func (s *Server) LastRequest(t testing.TB) Request {
	t.Helper()
	reqs := s.Requests()
	if len(reqs) == 0 {
		t.Fatal("openaitest: the server received no request")
	}
	return reqs[len(reqs)-1]
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	rec := Request{
		Method:        r.Method,
		Path:          r.URL.Path,
		Query:         r.URL.RawQuery,
		Authorization: r.Header.Get("Authorization"),
		ContentType:   r.Header.Get("Content-Type"),
		Accept:        r.Header.Get("Accept"),
		RawBody:       raw,
	}
	_, rec.HasAuth = r.Header["Authorization"]
	decodeErr := json.Unmarshal(raw, &rec.Body)

	s.mu.Lock()
	s.requests = append(s.requests, rec)
	reply := s.reply
	s.mu.Unlock()

	// Answer protocol mistakes the way OpenAI does, so a broken client
	// fails its tests instead of passing against a lenient fake.
	mt, _, _ := mime.ParseMediaType(rec.ContentType)
	switch {
	case r.URL.Path != "/v1/chat/completions":
		writeError(w, http.StatusNotFound, "invalid_request_error", "Unknown request URL: "+r.Method+" "+r.URL.Path)
		return
	case r.Method != http.MethodPost:
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "Only POST is allowed.")
		return
	case err != nil || mt != "application/json" || decodeErr != nil:
		writeError(w, http.StatusBadRequest, "invalid_request_error", "We could not parse the JSON body of your request.")
		return
	case rec.Body.Model == "":
		writeError(w, http.StatusBadRequest, "invalid_request_error", "You must provide a model parameter.")
		return
	case len(rec.Body.Messages) == 0:
		writeError(w, http.StatusBadRequest, "invalid_request_error", "'messages' must contain at least one message.")
		return
	}

	if reply.Reasoning {
		switch {
		case rec.Body.MaxTokens != nil:
			writeParamError(w, "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
				"max_tokens", "unsupported_parameter")
			return
		case rec.Body.Temperature != nil && *rec.Body.Temperature != 1:
			writeParamError(w, fmt.Sprintf("Unsupported value: 'temperature' does not support %v with this model. Only the default (1) value is supported.", *rec.Body.Temperature),
				"temperature", "unsupported_value")
			return
		case rec.Body.ReasoningEffort != nil && !slices.Contains([]string{"minimal", "low", "medium", "high"}, *rec.Body.ReasoningEffort):
			writeParamError(w, fmt.Sprintf("Invalid value: '%s'. Supported values are: 'minimal', 'low', 'medium', and 'high'.", *rec.Body.ReasoningEffort),
				"reasoning_effort", "invalid_value")
			return
		}
	}

	ctx := r.Context()
	if reply.Hang {
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		return
	}
	if !s.wait(r, reply.Delay) {
		return
	}
	if reply.Status != 0 && (reply.Status < 200 || reply.Status > 299) {
		if reply.Body == "" {
			writeError(w, reply.Status, "server_error", "The fake server was told to fail.")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(reply.Status)
		io.WriteString(w, reply.Body)
		return
	}
	if reply.Text == "" {
		reply.Text = DefaultText
	}
	if reply.Body != "" {
		ct := reply.ContentType
		if ct == "" {
			ct = "application/json"
			if rec.Body.Stream {
				ct = "text/event-stream"
			}
		}
		w.Header().Set("Content-Type", ct)
		io.WriteString(w, reply.Body)
		return
	}
	if rec.Body.Stream {
		s.stream(w, r, rec.Body, reply)
		return
	}
	plain(w, rec.Body, reply)
}

// wait sleeps for d unless the client gives up or the server closes first,
// and reports whether to go on.
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-r.Context().Done():
	case <-s.done:
	}
	return false
}

func plain(w http.ResponseWriter, req ChatRequest, reply Reply) {
	body := map[string]any{
		"id":      "chatcmpl-fake",
		"object":  "chat.completion",
		"created": time.Now().Unix(),
		"model":   req.Model,
		"choices": []any{map[string]any{
			"index":         0,
			"message":       map[string]any{"role": "assistant", "content": reply.Text},
			"finish_reason": "stop",
		}},
		"usage": map[string]int{"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
	}
	if reply.Pad > 0 {
		body["padding"] = strings.Repeat("x", reply.Pad)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

func (s *Server) stream(w http.ResponseWriter, r *http.Request, req ChatRequest, reply Reply) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	flusher, _ := w.(http.Flusher)
	created := time.Now().Unix()
	send := func(delta map[string]any, finish any) {
		chunk := map[string]any{
			"id":      "chatcmpl-fake",
			"object":  "chat.completion.chunk",
			"created": created,
			"model":   req.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}},
		}
		b, _ := json.Marshal(chunk)
		fmt.Fprintf(w, "data: %s\n\n", b)
		if flusher != nil {
			flusher.Flush()
		}
	}

	// OpenAI's first chunk carries the role and empty content.
	send(map[string]any{"role": "assistant", "content": ""}, nil)
	for i, piece := range split(reply.Text, reply.Chunks) {
		if reply.StreamErrorAfter > 0 && i == reply.StreamErrorAfter {
			break
		}
		if i > 0 && !s.wait(r, reply.ChunkDelay) {
			return
		}
		send(map[string]any{"content": piece}, nil)
	}
	if reply.StreamErrorAfter > 0 {
		fmt.Fprint(w, `data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`+"\n\n")
		return
	}
	line := ": " + strings.Repeat("x", 1021) + "\n" // 1 KiB with its prefix and newline
	for n := 0; n < reply.Pad; n += len(line) {
		if _, err := io.WriteString(w, line); err != nil {
			return
		}
	}
	send(map[string]any{}, "stop")
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		b, _ := json.Marshal(map[string]any{
			"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created, "model": req.Model,
			"choices": []any{}, "usage": map[string]int{"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
		})
		fmt.Fprintf(w, "data: %s\n\n", b)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
}

// split cuts text into n pieces of about equal rune count, or into words
// (each keeping its trailing space) when n is zero.
func split(text string, n int) []string {
	if n <= 0 {
		return strings.SplitAfter(text, " ")
	}
	runes := []rune(text)
	n = max(1, min(n, len(runes)))
	pieces := make([]string, 0, n)
	for i := range n {
		pieces = append(pieces, string(runes[i*len(runes)/n:(i+1)*len(runes)/n]))
	}
	return pieces
}

// writeParamError refuses a request over one parameter, as OpenAI does.
func writeParamError(w http.ResponseWriter, msg, param, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{"message": msg, "type": "invalid_request_error", "param": param, "code": code},
	})
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": nil},
	})
}
