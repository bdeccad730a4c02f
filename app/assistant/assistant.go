// Package assistant owns Moments' AI writing helper: a small, bounded client
// for any OpenAI-compatible chat-completions server (OpenAI, Ollama,
// llama.cpp, vLLM …) and the prompt that turns a user's instruction and draft
// into a post.
//
// It is written on net/http rather than the official SDK: the SDK added about
// 19 MB to the stripped binary for the one endpoint used here.
//
// Only the user's instruction and draft are sent upstream. Every call is
// bounded in time (Config.Timeout) and in bytes read (Config.MaxResponseBytes).
// Errors wrap the sentinels below and their text carries at most the upstream
// status code or a transport failure — never the upstream body, its headers or
// the API key — so callers may log them.
package assistant

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout          = 60 * time.Second
	DefaultMaxTokens        = 600
	DefaultMaxResponseBytes = 256 << 10
)

// temperature leaves room for a warm, varied wording without drifting off
// the user's draft.
const temperature = 0.7

// OpenAI's reasoning models (the o-series, gpt-5) count their hidden
// reasoning in the token cap. Writing a short post needs little of it, so
// they are asked for reasoningEffort, and the cap gives reasoning an
// allowance on top of the reply's own, so that it cannot use up the reply's.
const (
	reasoningEffort    = "low"
	reasoningAllowance = 2000
)

// A dialect is what a server needs different from the classic
// chat-completions body. The client starts with the classic body, which
// every compatible server takes, and learns the rest from the server's
// refusals: an OpenAI-style 400 naming the parameter (see learnFrom).
type dialect uint32

const (
	// completionTokens: the cap goes in max_completion_tokens, with the
	// reasoning allowance, and reasoning_effort is sent.
	completionTokens dialect = 1 << iota
	// noTemperature: temperature is left out (the model has its own).
	noTemperature
	// noReasoningEffort: reasoning_effort is left out.
	noReasoningEffort
)

var (
	// ErrNotConfigured: no base URL or model (or an unusable base URL) is
	// configured; no request was made.
	ErrNotConfigured = errors.New("assistant: not configured")
	// ErrUpstream: the server failed, answered a non-2xx status, or answered
	// something that is not a usable completion.
	ErrUpstream = errors.New("assistant: upstream error")
	// ErrTimeout: the call ran past Config.Timeout.
	ErrTimeout = errors.New("assistant: upstream timed out")
	// ErrTooLarge: the upstream response passed Config.MaxResponseBytes.
	// From Stream it may come after some deltas were delivered.
	ErrTooLarge = errors.New("assistant: upstream response too large")
)

// Config is the server operator's choice of model server; it is never
// settable through the API.
type Config struct {
	// BaseURL is the API root, e.g. https://api.openai.com/v1 or
	// http://127.0.0.1:11434/v1; a trailing slash is fine, and so is the
	// full …/chat/completions URL.
	BaseURL string
	Model   string
	// APIKey is sent as "Authorization: Bearer <key>"; without one the header
	// is left out (local servers need none).
	APIKey string
	// Timeout bounds a whole call, streaming included. Zero means DefaultTimeout.
	Timeout time.Duration
	// MaxTokens caps the generated tokens (max_tokens; for a reasoning model,
	// max_completion_tokens with an allowance for reasoning on top). Zero
	// means DefaultMaxTokens.
	MaxTokens int
	// MaxResponseBytes caps the bytes read from the upstream response.
	// Zero means DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// HTTPClient, when set, is used as is. The default client follows no
	// redirects: a redirected POST would reach another URL (or turn into a
	// GET), so a redirect is reported as an upstream error naming its status.
	HTTPClient *http.Client
}

// Validate reports a half-made or unusable configuration, for failing at
// start-up. An empty configuration is valid: the assistant is just off.
func (cfg Config) Validate() error {
	if cfg.BaseURL == "" && cfg.Model == "" {
		return nil
	}
	if cfg.BaseURL == "" {
		return errors.New("assistant: a model is set but no base URL")
	}
	if cfg.Model == "" {
		return errors.New("assistant: a base URL is set but no model")
	}
	if _, err := endpoint(cfg.BaseURL); err != nil {
		return err
	}
	return nil
}

// Request is what the user asked for.
type Request struct {
	// Prompt says what the user wants ("make it shorter", "a post about our hike").
	Prompt string
	// Draft is the composer's current text, if any.
	Draft string
}

// Client calls one chat-completions server. It is safe for concurrent use.
type Client struct {
	endpoint   string // empty when the configuration is unusable
	model      string
	apiKey     string
	timeout    time.Duration
	maxTokens  int
	maxBytes   int64
	httpClient *http.Client
	dialect    atomic.Uint32 // a dialect, learned once for the client's life
}

// New returns a client for cfg, filling in defaults. It never fails: an
// unusable configuration makes Configured false and every call
// ErrNotConfigured (see Config.Validate for the reason).
func New(cfg Config) *Client {
	c := &Client{
		model:      cfg.Model,
		apiKey:     cfg.APIKey,
		timeout:    cfg.Timeout,
		maxTokens:  cfg.MaxTokens,
		maxBytes:   cfg.MaxResponseBytes,
		httpClient: cfg.HTTPClient,
	}
	if ep, err := endpoint(cfg.BaseURL); err == nil {
		c.endpoint = ep
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxTokens <= 0 {
		c.maxTokens = DefaultMaxTokens
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxResponseBytes
	}
	if c.httpClient == nil {
		c.httpClient = &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return c
}

// endpoint turns a base URL into the chat-completions URL. Its errors never
// quote the URL, which may hold credentials.
func endpoint(base string) (string, error) {
	base = strings.TrimSpace(base)
	u, err := url.Parse(base)
	if base == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: the base URL must be an absolute http or https URL", ErrNotConfigured)
	}
	// Join on the parsed path so a query (Azure's ?api-version=…) stays a query.
	if path := strings.TrimRight(u.Path, "/"); strings.HasSuffix(path, "/chat/completions") {
		u.Path, u.RawPath = path, strings.TrimRight(u.RawPath, "/")
	} else {
		u = u.JoinPath("chat", "completions")
	}
	return u.String(), nil
}

// Configured reports whether a usable base URL and a model are set.
func (c *Client) Configured() bool {
	return c.endpoint != "" && c.model != ""
}

// Complete asks for the whole reply at once and returns its text, trimmed of
// surrounding whitespace and of the quotation marks models like to add.
func (c *Client) Complete(ctx context.Context, req Request) (string, error) {
	if !c.Configured() {
		return "", ErrNotConfigured
	}
	callCtx, cancel := context.WithTimeoutCause(ctx, c.timeout, ErrTimeout)
	defer cancel()

	resp, err := c.post(callCtx, req, false)
	if err != nil {
		return "", c.failure(ctx, callCtx, err)
	}
	defer resp.Body.Close()
	text, err := c.readCompletion(resp.Body)
	if err != nil {
		return "", c.failure(ctx, callCtx, err)
	}
	return tidy(text), nil
}

// Stream asks for the reply as it is generated and calls onDelta with each
// piece of text, in order. Whitespace before the first words is dropped.
// It returns nil once the server says the reply is complete and at least
// some text was delivered. An error from onDelta stops the call and is
// returned as is; any other error may come after some deltas were delivered,
// and the caller decides what to make of the partial text.
func (c *Client) Stream(ctx context.Context, req Request, onDelta func(text string) error) error {
	if !c.Configured() {
		return ErrNotConfigured
	}
	callCtx, cancel := context.WithTimeoutCause(ctx, c.timeout, ErrTimeout)
	defer cancel()

	resp, err := c.post(callCtx, req, true)
	if err != nil {
		return c.failure(ctx, callCtx, err)
	}
	defer resp.Body.Close()

	// A server that ignores "stream" answers one JSON completion: hand it
	// over as a single delta rather than failing.
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
		text, err := c.readCompletion(resp.Body)
		if err != nil {
			return c.failure(ctx, callCtx, err)
		}
		return onDelta(tidy(text))
	}

	s := sseReader{onDelta: onDelta}
	if err := s.read(resp.Body, c.maxBytes); err != nil {
		var cb callbackError
		if errors.As(err, &cb) {
			return cb.err
		}
		return c.failure(ctx, callCtx, err)
	}
	return nil
}

// chatRequest is the request body. stream_options is left out on purpose:
// some compatible servers reject fields they do not know. The fields after
// Messages depend on the server's dialect.
type chatRequest struct {
	Model               string        `json:"model"`
	Messages            []chatMessage `json:"messages"`
	MaxTokens           int           `json:"max_tokens,omitempty"`
	MaxCompletionTokens int           `json:"max_completion_tokens,omitempty"`
	ReasoningEffort     string        `json:"reasoning_effort,omitempty"`
	Temperature         *float64      `json:"temperature,omitempty"`
	Stream              bool          `json:"stream"`
}

// body is the request for req in dialect d.
func (c *Client) body(req Request, stream bool, d dialect) chatRequest {
	r := chatRequest{
		Model: c.model,
		Messages: []chatMessage{
			{Role: "system", Content: systemPrompt},
			{Role: "user", Content: userMessage(req)},
		},
		Stream: stream,
	}
	if d&completionTokens != 0 {
		r.MaxCompletionTokens = c.maxTokens + reasoningAllowance
		if d&noReasoningEffort == 0 {
			r.ReasoningEffort = reasoningEffort
		}
	} else {
		r.MaxTokens = c.maxTokens
	}
	if d&noTemperature == 0 {
		t := temperature
		r.Temperature = &t
	}
	return r
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// post sends the request and returns a 2xx response; any other status is
// ErrUpstream naming only the status code. A refusal that teaches the
// client its server's dialect is retried in that dialect; each of the few
// things to learn is learned once, so the retries are bounded.
func (c *Client) post(ctx context.Context, req Request, stream bool) (*http.Response, error) {
	for {
		d := dialect(c.dialect.Load())
		resp, err := c.send(ctx, c.body(req, stream, d), stream)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
			return resp, nil
		}
		var learned dialect
		if resp.StatusCode == http.StatusBadRequest {
			learned = learnFrom(resp.Body)
		}
		// Drain a little so the connection can be reused; the body itself
		// (which may echo our key) is never read into an error.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		if !d.changedBy(learned) {
			return nil, fmt.Errorf("%w: status %d", ErrUpstream, resp.StatusCode)
		}
		c.dialect.Or(uint32(learned))
	}
}

// changedBy reports whether learning l changes the body sent in dialect d:
// whether d sends the parameter that taught l.
func (d dialect) changedBy(l dialect) bool {
	switch l {
	case completionTokens:
		return d&completionTokens == 0
	case noTemperature:
		return d&noTemperature == 0
	case noReasoningEffort:
		return d&completionTokens != 0 && d&noReasoningEffort == 0
	}
	return false
}

// learnFrom reads an OpenAI-style error document of at most 4 kB, {"error":
// {"param": …}}, and returns what the parameter it names teaches, or 0.
// Nothing of the document goes further.
func learnFrom(body io.Reader) dialect {
	var doc struct {
		Error struct {
			Param *string `json:"param"`
		} `json:"error"`
	}
	data, _ := io.ReadAll(io.LimitReader(body, 4<<10))
	if json.Unmarshal(data, &doc) != nil || doc.Error.Param == nil {
		return 0
	}
	switch *doc.Error.Param {
	case "max_tokens":
		return completionTokens
	case "temperature":
		return noTemperature
	case "reasoning_effort":
		return noReasoningEffort
	}
	return 0
}

// send posts one request body and returns the response, whatever its status.
func (c *Client) send(ctx context.Context, r chatRequest, stream bool) (*http.Response, error) {
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: the base URL must be an absolute http or https URL", ErrNotConfigured)
	}
	hreq.Header.Set("Content-Type", "application/json")
	if stream {
		hreq.Header.Set("Accept", "text/event-stream")
	} else {
		hreq.Header.Set("Accept", "application/json")
	}
	hreq.Header.Set("User-Agent", "moments-assistant")
	if c.apiKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	return c.httpClient.Do(hreq)
}

// completion is the part of a chat completion (or of a stream chunk) we use.
type completion struct {
	Choices []struct {
		Message struct {
			Content *string `json:"content"`
		} `json:"message"`
		Delta struct {
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	// Error is set by servers that report a failure inside a 200 response
	// or mid-stream. Its content is never copied into our errors.
	Error json.RawMessage `json:"error"`
}

func (cp *completion) failed() bool {
	return len(cp.Error) > 0 && !bytes.Equal(cp.Error, []byte("null"))
}

// readCompletion reads one JSON completion of at most maxBytes and returns
// its text untrimmed.
func (c *Client) readCompletion(body io.Reader) (string, error) {
	data, err := io.ReadAll(io.LimitReader(body, c.maxBytes+1))
	if err != nil {
		return "", err
	}
	if int64(len(data)) > c.maxBytes {
		return "", fmt.Errorf("%w: over %d bytes", ErrTooLarge, c.maxBytes)
	}
	var cp completion
	if err := json.Unmarshal(data, &cp); err != nil {
		return "", fmt.Errorf("%w: malformed JSON response", ErrUpstream)
	}
	if cp.failed() {
		return "", fmt.Errorf("%w: the server reported an error", ErrUpstream)
	}
	if len(cp.Choices) == 0 {
		return "", fmt.Errorf("%w: no choices in the response", ErrUpstream)
	}
	text := cp.Choices[0].Message.Content
	if text == nil || strings.TrimSpace(*text) == "" {
		return "", fmt.Errorf("%w: empty reply", ErrUpstream)
	}
	return *text, nil
}

// failure turns a failed call into the error we return. A cancelled or
// expired parent context is the caller's doing and comes back as is; our own
// deadline is ErrTimeout; anything else is ErrUpstream (or already one of
// our sentinels).
func (c *Client) failure(parent, callCtx context.Context, err error) error {
	if perr := parent.Err(); perr != nil {
		return perr
	}
	if callCtx.Err() != nil && errors.Is(context.Cause(callCtx), ErrTimeout) {
		return fmt.Errorf("%w after %s", ErrTimeout, c.timeout)
	}
	if errors.Is(err, ErrUpstream) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrNotConfigured) {
		return err
	}
	// net/http's *url.Error quotes the request URL, which may carry
	// credentials in its userinfo or query; keep only the cause
	// ("dial tcp …: connection refused").
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return fmt.Errorf("%w: %w", ErrUpstream, err)
}

// tidy trims whitespace and one pair of quotation marks around the whole
// reply. A pair is only removed when the quote does not occur inside, so
// `"Yes," she said, "we did"` keeps its quotes.
func tidy(text string) string {
	text = strings.TrimSpace(text)
	for _, q := range [][2]string{{`"`, `"`}, {"“", "”"}, {"„", "“"}, {"«", "»"}, {"「", "」"}, {"'", "'"}, {"‘", "’"}} {
		inner, ok := strings.CutPrefix(text, q[0])
		if !ok {
			continue
		}
		inner, ok = strings.CutSuffix(inner, q[1])
		if !ok || strings.Contains(inner, q[0]) || strings.Contains(inner, q[1]) {
			continue
		}
		return strings.TrimSpace(inner)
	}
	return text
}

// callbackError carries an error returned by onDelta through the reader, so
// Stream can hand it back unwrapped.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }
func (e callbackError) Unwrap() error { return e.err }

// sseReader parses a text/event-stream of chat.completion.chunk objects.
type sseReader struct {
	onDelta   func(string) error
	delivered bool // some text has gone to onDelta
	finished  bool // a choice carried a finish_reason
}

// read consumes the stream until "data: [DONE]". At most maxBytes are read
// in all; a single line may use the whole allowance, and no more, so a
// server cannot make us buffer without bound.
func (s *sseReader) read(body io.Reader, maxBytes int64) error {
	limited := &io.LimitedReader{R: body, N: maxBytes + 1}
	sc := bufio.NewScanner(limited)
	sc.Buffer(make([]byte, 0, 4<<10), int(min(maxBytes, 1<<30)))
	tooLarge := func() error { return fmt.Errorf("%w: stream over %d bytes", ErrTooLarge, maxBytes) }

	var (
		event string
		data  []byte
		has   bool // a data field was seen in the current event
	)
	dispatch := func() (bool, error) {
		done, err := s.event(event, data)
		event, data, has = "", data[:0], false
		return done, err
	}
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			if !has {
				event = ""
				continue
			}
			if done, err := dispatch(); err != nil || done {
				return err
			}
			continue
		}
		if line[0] == ':' {
			continue // a comment, used by some servers as a keep-alive
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "data":
			if has {
				data = append(data, '\n')
			}
			data = append(data, value...)
			has = true
		case "event":
			event = string(value)
		case "error":
			// llama.cpp's server reports a failure as an "error:" field.
			return fmt.Errorf("%w: the server reported an error mid-stream", ErrUpstream)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return tooLarge()
		}
		return err
	}
	if limited.N <= 0 {
		return tooLarge()
	}
	// The stream ended without [DONE]. Some servers omit the blank line after
	// the last event; accept that, and a reply that had finished.
	if has {
		done, err := dispatch()
		if err != nil || done {
			return err
		}
	}
	if s.finished && s.delivered {
		return nil
	}
	return fmt.Errorf("%w: the stream ended early", ErrUpstream)
}

// event handles one server-sent event and reports whether the stream is done.
func (s *sseReader) event(event string, data []byte) (bool, error) {
	if event == "error" {
		return false, fmt.Errorf("%w: the server reported an error mid-stream", ErrUpstream)
	}
	if string(bytes.TrimSpace(data)) == "[DONE]" {
		if !s.delivered {
			return false, fmt.Errorf("%w: empty reply", ErrUpstream)
		}
		return true, nil
	}
	var chunk completion
	if err := json.Unmarshal(data, &chunk); err != nil {
		return false, fmt.Errorf("%w: malformed stream chunk", ErrUpstream)
	}
	if chunk.failed() {
		return false, fmt.Errorf("%w: the server reported an error mid-stream", ErrUpstream)
	}
	// A role-only first chunk, a finish_reason chunk and a usage chunk
	// without choices all carry no text.
	if len(chunk.Choices) == 0 {
		return false, nil
	}
	choice := chunk.Choices[0]
	if choice.FinishReason != nil && *choice.FinishReason != "" {
		s.finished = true
	}
	if choice.Delta.Content == nil {
		return false, nil
	}
	text := *choice.Delta.Content
	if !s.delivered {
		text = strings.TrimLeftFunc(text, unicode.IsSpace)
	}
	if text == "" {
		return false, nil
	}
	s.delivered = true
	if err := s.onDelta(text); err != nil {
		return false, callbackError{err}
	}
	return false, nil
}
