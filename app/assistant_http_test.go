package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"moments/app"
	"moments/app/assistant/openaitest"
	"moments/internal/testutil"
)

// The assistant's two operations.
const (
	assistPath       = "/ai/assistant"
	assistStreamPath = "/ai/assistant/stream"
)

var assistPaths = []string{assistPath, assistStreamPath}

const (
	assistModel = "moments-test-model"
	assistKey   = "sk-test-KEY-5f2c9e1d7a"
)

// newAssistEnv starts a Moments server wired to a fresh fake model server.
// The options run after the AI settings are filled in, so they may change them.
func newAssistEnv(t *testing.T, opts ...func(*app.Deps)) (*testEnv, *openaitest.Server) {
	t.Helper()
	fake := openaitest.New(t)
	all := append([]func(*app.Deps){withConfig(func(c *app.Config) {
		c.AIBaseURL = fake.BaseURL()
		c.AIModel = assistModel
		c.AIAPIKey = assistKey
	})}, opts...)
	return newEnv(t, all...), fake
}

// withAssistantLimit sets the assistant's bucket size (refilled per minute),
// for tests that send more requests than the production limit allows.
func withAssistantLimit(burst int) func(*app.Deps) {
	return func(d *app.Deps) {
		limits := app.DefaultLimits()
		limits.Auth = app.Limit{Burst: 100_000, Per: time.Minute}
		limits.Assistant = app.Limit{Burst: burst, Per: time.Minute}
		d.Limits = &limits
	}
}

// withClock makes clock the server's clock (and so the rate limiter's).
func withClock(clock *testutil.Clock) func(*app.Deps) {
	return func(d *app.Deps) { d.Now = clock.Now }
}

// sseEvent is one server-sent event.
type sseEvent struct {
	Event string
	Data  string
}

// parseSSE reads a text/event-stream the way a browser's EventSource does:
// fields until a blank line, which dispatches the event; comments skipped;
// several data lines joined by newlines. An event left without its blank
// line at the end of the stream is dropped, as EventSource drops it.
func parseSSE(t *testing.T, r io.Reader) []sseEvent {
	t.Helper()
	var (
		events []sseEvent
		cur    sseEvent
		data   []string
		has    bool
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			if has {
				cur.Data = strings.Join(data, "\n")
				events = append(events, cur)
			}
			cur, data, has = sseEvent{}, nil, false
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			cur.Event = value
		case "data":
			data, has = append(data, value), true
		case "id", "retry":
		default:
			t.Errorf("unexpected SSE field %q in line %q", field, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading the event stream: %v", err)
	}
	return events
}

// deltaTexts checks that events are delta events with a text each, then
// exactly one done event at the end (when wantDone), and returns the texts.
func deltaTexts(t *testing.T, events []sseEvent, wantDone bool) []string {
	t.Helper()
	var texts []string
	for i, ev := range events {
		switch ev.Event {
		case "delta":
			var d struct {
				Text *string `json:"text"`
			}
			if err := json.Unmarshal([]byte(ev.Data), &d); err != nil || d.Text == nil {
				t.Fatalf("event %d: delta data %q is not {\"text\"}: %v", i, ev.Data, err)
			}
			if *d.Text == "" {
				t.Errorf("event %d: empty delta", i)
			}
			texts = append(texts, *d.Text)
		case "done":
			if !wantDone {
				t.Fatalf("event %d: done after a failed reply: %+v", i, events)
			}
			if i != len(events)-1 {
				t.Fatalf("event %d: done is not the last event: %+v", i, events)
			}
			if !json.Valid([]byte(ev.Data)) {
				t.Errorf("done data %q is not JSON", ev.Data)
			}
		default:
			t.Fatalf("event %d: unexpected event %+v", i, ev)
		}
	}
	if wantDone && (len(events) == 0 || events[len(events)-1].Event != "done") {
		t.Fatalf("the stream does not end with done: %+v", events)
	}
	return texts
}

// assistBody is a request body for the assistant.
func assistBody(prompt, draft string) map[string]string {
	b := map[string]string{"prompt": prompt}
	if draft != "" {
		b["draft"] = draft
	}
	return b
}

// wantNoUpstream fails when the fake model server received any request.
func wantNoUpstream(t *testing.T, fake *openaitest.Server) {
	t.Helper()
	if reqs := fake.Requests(); len(reqs) != 0 {
		t.Errorf("the model server received %d request(s); want none: %+v", len(reqs), reqs[0].Body)
	}
}

// wantRateLimitHeaders checks the RateLimit-* headers, with remaining
// unchecked when it is negative.
func wantRateLimitHeaders(t *testing.T, res *response, remaining int) {
	t.Helper()
	if got := res.Header.Get("RateLimit-Limit"); got != "10" {
		t.Errorf("%s: RateLimit-Limit = %q, want 10", res.Request.URL.Path, got)
	}
	if got := res.Header.Get("RateLimit-Remaining"); remaining >= 0 && got != strconv.Itoa(remaining) {
		t.Errorf("%s: RateLimit-Remaining = %q, want %d", res.Request.URL.Path, got, remaining)
	} else if _, err := strconv.Atoi(got); err != nil {
		t.Errorf("%s: RateLimit-Remaining = %q", res.Request.URL.Path, got)
	}
	if got := res.Header.Get("RateLimit-Reset"); got == "" {
		t.Errorf("%s: no RateLimit-Reset", res.Request.URL.Path)
	} else if _, err := strconv.Atoi(got); err != nil {
		t.Errorf("%s: RateLimit-Reset = %q", res.Request.URL.Path, got)
	}
}

// wantNoSecret fails when the response's body or any header holds one of the secrets.
func wantNoSecret(t *testing.T, res *response, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(res.text(), s) {
			t.Errorf("%s: the response body holds %q: %s", res.Request.URL.Path, s, res.text())
		}
		for name, values := range res.Header {
			for _, v := range values {
				if strings.Contains(v, s) {
					t.Errorf("%s: header %s holds %q: %s", res.Request.URL.Path, name, s, v)
				}
			}
		}
	}
}

func TestAssistantSendsPromptDraftModelAndKey(t *testing.T) {
	t.Parallel()
	for _, key := range []struct{ name, apiKey string }{{"with key", assistKey}, {"without key", ""}} {
		t.Run(key.name, func(t *testing.T) {
			t.Parallel()
			e, fake := newAssistEnv(t, withConfig(func(c *app.Config) { c.AIAPIKey = key.apiKey }))
			alice := e.signUp("alice")
			for _, tc := range []struct {
				name   string
				path   string
				prompt string
				draft  string
			}{
				{"plain with draft", assistPath, "make it cheerful", "we went up the hill today"},
				{"plain without draft", assistPath, "a caption for our hike", ""},
				{"stream with draft", assistStreamPath, "shorter please", "the lake was cold but we swam anyway"},
				{"stream without draft", assistStreamPath, "a post about grandma's birthday", ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					reply := "Up the hill we went (" + tc.name + "), and the view was worth every step."
					fake.SetReply(openaitest.Reply{Text: reply})
					before := len(fake.Requests())

					res := e.do("POST", tc.path, alice.Token, assistBody(tc.prompt, tc.draft)).wantStatus(t, http.StatusOK)
					stream := tc.path == assistStreamPath
					if stream {
						got := strings.Join(deltaTexts(t, parseSSE(t, bytes.NewReader(res.body)), true), "")
						if got != reply {
							t.Errorf("streamed text = %q, want %q", got, reply)
						}
					} else {
						if ct := res.Header.Get("Content-Type"); ct != "application/json" {
							t.Errorf("Content-Type = %q", ct)
						}
						var out map[string]any
						res.json(t, &out)
						if len(out) != 1 || out["text"] != reply {
							t.Errorf("body = %s, want {\"text\": %q}", res.body, reply)
						}
					}

					reqs := fake.Requests()
					if len(reqs) != before+1 {
						t.Fatalf("the model server received %d requests, want 1", len(reqs)-before)
					}
					up := reqs[len(reqs)-1]
					if up.Method != "POST" || up.Path != "/v1/chat/completions" || up.Query != "" {
						t.Errorf("upstream request %s %s?%s", up.Method, up.Path, up.Query)
					}
					if up.Body.Model != assistModel {
						t.Errorf("model = %q, want %q", up.Body.Model, assistModel)
					}
					if up.Body.Stream != stream {
						t.Errorf("stream = %v, want %v", up.Body.Stream, stream)
					}
					if key.apiKey != "" {
						if up.Authorization != "Bearer "+key.apiKey {
							t.Errorf("Authorization = %q, want Bearer <key>", up.Authorization)
						}
					} else if up.HasAuth {
						t.Errorf("an Authorization header (%q) was sent with no key configured", up.Authorization)
					}
					if len(up.Body.Messages) != 2 || up.Body.Messages[0].Role != "system" || up.Body.Messages[1].Role != "user" {
						t.Fatalf("messages = %+v, want system then user", up.Body.Messages)
					}
					if sys := up.Body.Content("system"); !strings.Contains(sys, "You help people write posts for Moments") {
						t.Errorf("system prompt = %q", sys)
					}
					user := up.Body.Content("user")
					if !strings.Contains(user, tc.prompt) {
						t.Errorf("the user message lacks the prompt %q: %q", tc.prompt, user)
					}
					if tc.draft != "" && !strings.Contains(user, tc.draft) {
						t.Errorf("the user message lacks the draft %q: %q", tc.draft, user)
					}
					if tc.draft == "" && strings.Contains(user, "Draft") {
						t.Errorf("the user message has a draft section with no draft: %q", user)
					}
					if strings.Contains(up.Body.Content("system"), tc.prompt) {
						t.Errorf("the prompt leaked into the system message")
					}
				})
			}
		})
	}
}

// The reply is ready for the composer: surrounding quotes and white space
// that models like to add are gone.
func TestAssistantTidiesTheReply(t *testing.T) {
	t.Parallel()
	e, fake := newAssistEnv(t)
	alice := e.signUp("alice")
	fake.SetReply(openaitest.Reply{Text: "\n  \u201cWhat a day at the lake!\u201d  \n"})
	var out struct{ Text string }
	e.do("POST", assistPath, alice.Token, assistBody("cheerful", "")).wantStatus(t, 200).json(t, &out)
	if out.Text != "What a day at the lake!" {
		t.Errorf("text = %q", out.Text)
	}
}

func TestAssistantStream(t *testing.T) {
	t.Parallel()
	e, fake := newAssistEnv(t, withAssistantLimit(100))
	alice := e.signUp("alice")
	for _, tc := range []struct {
		name     string
		reply    openaitest.Reply
		want     string
		minDelta int
	}{
		{"word by word", openaitest.Reply{Text: "Up the hill we went, and the view was worth it."}, "Up the hill we went, and the view was worth it.", 5},
		{"multi-byte text in odd pieces", openaitest.Reply{Text: "Grüße aus 東京 🎉 — bis bald!", Chunks: 7}, "Grüße aus 東京 🎉 — bis bald!", 7},
		// Newlines in the text cannot end an event or forge one.
		{"text that looks like SSE", openaitest.Reply{Text: "Line one.\n\nevent: done\ndata: {}\n\nLine two.", Chunks: 1},
			"Line one.\n\nevent: done\ndata: {}\n\nLine two.", 1},
		// A server that ignores "stream" answers one JSON completion: it
		// comes through as a single delta.
		{"upstream answers JSON", openaitest.Reply{
			ContentType: "application/json",
			Body:        `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"All in one go."},"finish_reason":"stop"}]}`,
		}, "All in one go.", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.SetReply(tc.reply)
			res := e.do("POST", assistStreamPath, alice.Token, assistBody("make it cheerful", "hike")).wantStatus(t, http.StatusOK)
			if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
				t.Errorf("Content-Type = %q, want text/event-stream", ct)
			}
			events := parseSSE(t, bytes.NewReader(res.body))
			texts := deltaTexts(t, events, true)
			if len(texts) < tc.minDelta {
				t.Errorf("%d delta events, want at least %d: %q", len(texts), tc.minDelta, texts)
			}
			if got := strings.Join(texts, ""); got != tc.want {
				t.Errorf("concatenated deltas = %q, want %q", got, tc.want)
			}
			if n := strings.Count("\n"+res.text(), "\nevent: done\n"); n != 1 {
				t.Errorf("%d done events, want 1:\n%s", n, res.body)
			}
			if res.Header.Get("RateLimit-Remaining") == "" {
				t.Error("no RateLimit-Remaining")
			}
		})
	}
}

// The stream is delivered as it is generated, not buffered until the end.
func TestAssistantStreamIsIncremental(t *testing.T) {
	t.Parallel()
	e, fake := newAssistEnv(t)
	const gap = 200 * time.Millisecond
	fake.SetReply(openaitest.Reply{Text: "one two three four", ChunkDelay: gap})
	alice := e.signUp("alice")

	body, _ := json.Marshal(assistBody("count", ""))
	req, _ := http.NewRequest("POST", e.srv.URL+assistStreamPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+alice.Token)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	// Read line by line, noting when each event arrives.
	var arrivals []time.Time
	var events []string
	rd := bufio.NewReader(res.Body)
	for {
		line, err := rd.ReadString('\n')
		if strings.HasPrefix(line, "event: ") {
			events = append(events, strings.TrimSpace(strings.TrimPrefix(line, "event: ")))
			arrivals = append(arrivals, time.Now())
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"delta", "delta", "delta", "delta", "done"}; !slices.Equal(events, want) {
		t.Fatalf("events = %q, want %q", events, want)
	}
	// Three gaps separate the four words upstream; the first word must
	// reach us well before the last.
	if spread := arrivals[len(arrivals)-1].Sub(arrivals[0]); spread < 2*gap {
		t.Errorf("the first delta arrived only %v before done: the stream is buffered", spread)
	}
}

func TestAssistantNotConfigured(t *testing.T) {
	t.Parallel()
	fake := openaitest.New(t) // exists, but the server is not told about it
	e := newEnv(t)
	alice := e.signUp("alice")
	for _, path := range assistPaths {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			res := e.do("POST", path, alice.Token, assistBody("make it cheerful", "draft"))
			p := res.wantProblem(t, http.StatusServiceUnavailable, "")
			for _, s := range []string{"MOMENTS_AI_BASE_URL", "MOMENTS_AI_MODEL"} {
				if !strings.Contains(p.Detail, s) {
					t.Errorf("detail %q does not name %s", p.Detail, s)
				}
			}
			// The rate limit runs first, so even this carries its headers.
			wantRateLimitHeaders(t, res, -1)
		})
	}
	wantNoUpstream(t, fake)
}

func TestAssistantUpstreamFailureLeaksNoSecrets(t *testing.T) {
	t.Parallel()
	const secret = "db-password=hunter2-TOPSECRET"
	secrets := []string{assistKey, secret, "hunter2", "Incorrect API key"}
	leaky := `{"error":{"message":"Incorrect API key provided: ` + assistKey + `; internal ` + secret + `","type":"invalid_request_error"}}`
	e, fake := newAssistEnv(t, withAssistantLimit(100))
	alice := e.signUp("alice")
	for _, tc := range []struct {
		name  string
		reply openaitest.Reply
	}{
		{"500 echoing the key", openaitest.Reply{Status: 500, Body: leaky}},
		{"401 echoing the key", openaitest.Reply{Status: 401, Body: leaky}},
		{"429", openaitest.Reply{Status: 429, Body: leaky}},
		{"302 redirect", openaitest.Reply{Status: 302, Body: leaky}},
		{"200 with an error object", openaitest.Reply{Status: 200, Body: leaky, ContentType: "application/json"}},
		{"200 without words", openaitest.Reply{Status: 200, Body: "data: [DONE]\n\n"}},
		{"200 not JSON", openaitest.Reply{Status: 200, Body: "<html>" + secret + " " + assistKey + "</html>", ContentType: "application/json"}},
	} {
		for _, path := range assistPaths {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				fake.SetReply(tc.reply)
				before, logged := len(fake.Requests()), len(e.logs.String())
				res := e.do("POST", path, alice.Token, assistBody("make it cheerful", "a draft"))
				// The stream answers a problem document too: the model
				// failed before its first word.
				p := res.wantProblem(t, http.StatusBadGateway, "")
				if p.Detail == "" {
					t.Error("empty detail")
				}
				wantNoSecret(t, res, secrets...)
				if n := len(fake.Requests()) - before; n != 1 {
					t.Errorf("the model server received %d requests, want 1", n)
				}
				logs := e.logs.String()[logged:]
				for _, s := range secrets {
					if strings.Contains(logs, s) {
						t.Errorf("the log holds %q:\n%s", s, logs)
					}
				}
				if !strings.Contains(logs, "assistant failed") {
					t.Errorf("the failure was not logged:\n%s", logs)
				}
			})
		}
	}
}

// An error in the middle of a stream, after some text went out, ends the
// stream without done, and its text reaches neither the client nor the log.
func TestAssistantStreamErrorMidway(t *testing.T) {
	t.Parallel()
	const secret = "internal-trace-SECRET-4471"
	chunk := func(text string) string {
		b, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": text}}}})
		return "data: " + string(b) + "\n\n"
	}
	e, fake := newAssistEnv(t, withAssistantLimit(100))
	alice := e.signUp("alice")
	for _, tc := range []struct {
		name  string
		reply openaitest.Reply
		want  string
	}{
		{"error object", openaitest.Reply{
			Body: chunk("Hello ") + chunk("there") + `data: {"error":{"message":"` + secret + ` ` + assistKey + `"}}` + "\n\n",
		}, "Hello there"},
		{"error event", openaitest.Reply{
			Body: chunk("Hello ") + "event: error\ndata: {\"message\":\"" + secret + "\"}\n\n",
		}, "Hello "},
		{"error field", openaitest.Reply{
			Body: chunk("Hello ") + "error: " + secret + "\n\n",
		}, "Hello "},
		{"malformed chunk", openaitest.Reply{
			Body: chunk("Hello ") + "data: {" + secret + "\n\n",
		}, "Hello "},
		{"fake's own mid-stream error", openaitest.Reply{Text: "one two three four", StreamErrorAfter: 2}, "one two "},
		{"cut off without [DONE]", openaitest.Reply{Body: chunk("Hello ") + chunk("the")}, "Hello the"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake.SetReply(tc.reply)
			logged := len(e.logs.String())
			res := e.do("POST", assistStreamPath, alice.Token, assistBody("greet", "")).wantStatus(t, http.StatusOK)
			texts := deltaTexts(t, parseSSE(t, bytes.NewReader(res.body)), false)
			if got := strings.Join(texts, ""); got != tc.want {
				t.Errorf("delivered %q, want %q", got, tc.want)
			}
			wantNoSecret(t, res, secret, assistKey)
			logs := e.logs.String()[logged:]
			if strings.Contains(logs, secret) || strings.Contains(logs, assistKey) {
				t.Errorf("the log holds upstream text:\n%s", logs)
			}
			if !strings.Contains(logs, "assistant stream cut off") {
				t.Errorf("the cut-off was not logged:\n%s", logs)
			}
		})
	}
}

func TestAssistantUpstreamTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	e, fake := newAssistEnv(t, withConfig(func(c *app.Config) { c.AITimeout = timeout }))
	fake.SetReply(openaitest.Reply{Hang: true})
	alice := e.signUp("alice")
	for _, path := range assistPaths {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			res := e.do("POST", path, alice.Token, assistBody("make it cheerful", ""))
			elapsed := time.Since(start)
			res.wantProblem(t, http.StatusGatewayTimeout, "")
			if elapsed < timeout || elapsed > timeout+2*time.Second {
				t.Errorf("answered after %v, want about %v", elapsed, timeout)
			}
			wantNoSecret(t, res, assistKey, fake.URL())
			if len(fake.Requests()) == 0 {
				t.Error("the model server was never asked")
			}
		})
	}
	// A stream that stalls after its first words is cut at the deadline:
	// the client keeps the words and gets no done.
	t.Run("stream stalls midway", func(t *testing.T) {
		t.Parallel()
		e, fake := newAssistEnv(t, withConfig(func(c *app.Config) { c.AITimeout = timeout }))
		fake.SetReply(openaitest.Reply{Text: "one two three", ChunkDelay: 5 * time.Second})
		alice := e.signUp("alice")
		start := time.Now()
		res := e.do("POST", assistStreamPath, alice.Token, assistBody("count", "")).wantStatus(t, http.StatusOK)
		if elapsed := time.Since(start); elapsed > timeout+2*time.Second {
			t.Errorf("the stream ended after %v, want about %v", elapsed, timeout)
		}
		if got := strings.Join(deltaTexts(t, parseSSE(t, bytes.NewReader(res.body)), false), ""); got != "one " {
			t.Errorf("delivered %q, want %q", got, "one ")
		}
	})
}

func TestAssistantOversizedUpstreamAnswer(t *testing.T) {
	t.Parallel()
	const over = 300 << 10 // the client reads at most 256 KiB
	e, fake := newAssistEnv(t, withAssistantLimit(100))
	alice := e.signUp("alice")

	t.Run("plain", func(t *testing.T) {
		fake.SetReply(openaitest.Reply{Text: "short", Pad: over})
		e.do("POST", assistPath, alice.Token, assistBody("hi", "")).wantProblem(t, http.StatusBadGateway, "")
	})
	t.Run("stream, before the first word", func(t *testing.T) {
		fake.SetReply(openaitest.Reply{Body: "data: " + strings.Repeat("x", over) + "\n\n"})
		e.do("POST", assistStreamPath, alice.Token, assistBody("hi", "")).wantProblem(t, http.StatusBadGateway, "")
	})
	t.Run("stream, after some words", func(t *testing.T) {
		// The padding comes after the words: they are sent, then the
		// stream ends without done.
		fake.SetReply(openaitest.Reply{Text: "one two three", Pad: over})
		res := e.do("POST", assistStreamPath, alice.Token, assistBody("hi", "")).wantStatus(t, http.StatusOK)
		if got := strings.Join(deltaTexts(t, parseSSE(t, bytes.NewReader(res.body)), false), ""); got != "one two three" {
			t.Errorf("delivered %q", got)
		}
	})
	t.Run("plain, just under the cap", func(t *testing.T) {
		fake.SetReply(openaitest.Reply{Text: "fits", Pad: 200 << 10})
		var out struct{ Text string }
		e.do("POST", assistPath, alice.Token, assistBody("hi", "")).wantStatus(t, 200).json(t, &out)
		if out.Text != "fits" {
			t.Errorf("text = %q", out.Text)
		}
	})
	// Nothing crashed: the server still answers.
	fake.SetReply(openaitest.Reply{})
	e.do("POST", assistPath, alice.Token, assistBody("hi", "")).wantStatus(t, http.StatusOK)
	e.do("POST", assistStreamPath, alice.Token, assistBody("hi", "")).wantStatus(t, http.StatusOK)
	if logs := e.logs.String(); strings.Contains(logs, "panic") {
		t.Errorf("the server panicked:\n%s", logs)
	}
}

func TestAssistantRefusesBadInput(t *testing.T) {
	t.Parallel()
	e, fake := newAssistEnv(t, withAssistantLimit(1000))
	alice := e.signUp("alice")
	for _, tc := range []struct {
		name     string
		body     string
		location string
	}{
		{"no prompt", `{}`, "body.prompt"},
		{"empty prompt", `{"prompt":""}`, "body.prompt"},
		{"white-space prompt", `{"prompt":"  \n\t  "}`, "body.prompt"},
		{"prompt of 2001 characters", `{"prompt":"` + strings.Repeat("a", 2001) + `"}`, "body.prompt"},
		{"prompt of 2001 multi-byte characters", `{"prompt":"` + strings.Repeat("ü", 2001) + `"}`, "body.prompt"},
		{"draft of 5001 characters", `{"prompt":"shorter","draft":"` + strings.Repeat("d", 5001) + `"}`, "body.draft"},
		{"draft of 5001 multi-byte characters", `{"prompt":"shorter","draft":"` + strings.Repeat("日", 5001) + `"}`, "body.draft"},
		{"unknown field", `{"prompt":"hi","model":"gpt-4o"}`, "body.model"},
		{"prompt of the wrong type", `{"prompt":42}`, "body.prompt"},
		{"draft of the wrong type", `{"prompt":"hi","draft":["a"]}`, "body.draft"},
		{"NUL in the prompt", `{"prompt":"hi\u0000there"}`, "body.prompt"},
		{"escape character in the prompt", `{"prompt":"hi\u001b[31m"}`, "body.prompt"},
		{"carriage return in the prompt", `{"prompt":"hi\rthere"}`, "body.prompt"},
		{"DEL in the draft", `{"prompt":"hi","draft":"a\u007fb"}`, "body.draft"},
		{"C1 control in the draft", `{"prompt":"hi","draft":"a\u0085b"}`, "body.draft"},
	} {
		for _, path := range assistPaths {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				res := e.do("POST", path, alice.Token, tc.body)
				res.wantProblem(t, http.StatusUnprocessableEntity, tc.location)
			})
		}
	}
	t.Run("not JSON", func(t *testing.T) {
		for _, path := range assistPaths {
			res := e.do("POST", path, alice.Token, `{"prompt":`)
			if res.StatusCode != 400 && res.StatusCode != 422 {
				t.Errorf("%s: status %d, want 400 or 422", path, res.StatusCode)
			}
		}
	})
	wantNoUpstream(t, fake)

	// The limits count characters, not bytes, after trimming.
	for _, tc := range []struct {
		name, prompt, draft string
	}{
		{"2000-character prompt, 5000-character draft", strings.Repeat("a", 2000), strings.Repeat("d", 5000)},
		{"2000 multi-byte characters, 5000 multi-byte characters", strings.Repeat("日", 2000), strings.Repeat("é", 5000)},
		{"2000 emoji", strings.Repeat("🙂", 2000), ""},
		{"newlines and tabs are fine", "make it\tcheerful\nplease", "line one\n\tline two"},
	} {
		for _, path := range assistPaths {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				before := len(fake.Requests())
				e.do("POST", path, alice.Token, assistBody(tc.prompt, tc.draft)).wantStatus(t, http.StatusOK)
				reqs := fake.Requests()
				if len(reqs) != before+1 {
					t.Fatalf("the model server received %d new requests", len(reqs)-before)
				}
				user := reqs[len(reqs)-1].Body.Content("user")
				if !strings.Contains(user, tc.prompt) || !strings.Contains(user, tc.draft) {
					t.Errorf("the prompt or draft did not reach the model whole")
				}
			})
		}
	}
}

func TestAssistantNeedsAToken(t *testing.T) {
	t.Parallel()
	e, fake := newAssistEnv(t)
	for _, tc := range []struct {
		name, token, body, challenge string
	}{
		{"anonymous", "", `{"prompt":"hi"}`, `Bearer realm="moments"`},
		{"anonymous with a bad body", "", `{"prompt":""}`, `Bearer realm="moments"`},
		{"forged token", "not-a-jwt", `{"prompt":"hi"}`, `Bearer realm="moments", error="invalid_token"`},
	} {
		for _, path := range assistPaths {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				res := e.do("POST", path, tc.token, tc.body)
				res.wantProblem(t, http.StatusUnauthorized, "")
				if got := res.Header.Get("WWW-Authenticate"); got != tc.challenge {
					t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
				}
				if !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate = %q", res.Header.Get("WWW-Authenticate"))
				}
			})
		}
	}
	wantNoUpstream(t, fake)

	// Refused requests took no token from the bucket: authentication runs
	// before the rate limit.
	alice := e.signUp("alice")
	res := e.do("POST", assistPath, alice.Token, assistBody("hi", "")).wantStatus(t, http.StatusOK)
	wantRateLimitHeaders(t, res, 9)
}

func TestAssistantIsRateLimited(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock(time.Now())
	e, fake := newAssistEnv(t, withClock(clock))
	alice := e.signUp("alice")
	bob := e.signUp("bob")
	ask := func(path string, u user, headers ...string) *response {
		return e.do("POST", path, u.Token, assistBody("make it cheerful", "draft"), headers...)
	}

	// The two endpoints share one bucket of 10 per client address, whoever
	// the user is.
	for i := 1; i <= 10; i++ {
		path, u := assistPaths[i%2], alice
		if i%3 == 0 {
			u = bob
		}
		res := ask(path, u).wantStatus(t, http.StatusOK)
		wantRateLimitHeaders(t, res, 10-i)
		// Each request costs 6 s of refill.
		if got := res.Header.Get("RateLimit-Reset"); got != strconv.Itoa(6*i) {
			t.Errorf("request %d: RateLimit-Reset = %q, want %d", i, got, 6*i)
		}
		if res.Header.Get("Retry-After") != "" {
			t.Errorf("request %d: Retry-After on a success", i)
		}
	}
	if n := len(fake.Requests()); n != 10 {
		t.Fatalf("the model server received %d requests, want 10", n)
	}

	// The 11th is refused, on either endpoint, before the model is asked
	// and before the body is even looked at.
	for _, tc := range []struct {
		name    string
		path    string
		body    any
		headers []string
	}{
		{"plain", assistPath, assistBody("hi", ""), nil},
		{"stream", assistStreamPath, assistBody("hi", ""), nil},
		{"invalid body", assistPath, `{"prompt":""}`, nil},
		{"spoofed X-Forwarded-For", assistStreamPath, assistBody("hi", ""), []string{"X-Forwarded-For", "203.0.113.9"}},
		{"spoofed X-Real-IP", assistPath, assistBody("hi", ""), []string{"X-Real-IP", "203.0.113.10"}},
	} {
		res := e.do("POST", tc.path, alice.Token, tc.body, tc.headers...)
		res.wantProblem(t, http.StatusTooManyRequests, "")
		if ra := res.Header.Get("Retry-After"); ra != "6" {
			t.Errorf("%s: Retry-After = %q, want 6", tc.name, ra)
		}
		wantRateLimitHeaders(t, res, 0)
	}
	if n := len(fake.Requests()); n != 10 {
		t.Fatalf("refused requests reached the model server: %d requests, want 10", n)
	}

	// Half the refill time is not enough.
	clock.Advance(3 * time.Second)
	if res := ask(assistPath, alice); res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "3" {
		t.Errorf("after 3 s: status %d, Retry-After %q; want 429 and 3", res.StatusCode, res.Header.Get("Retry-After"))
	}

	// One token comes back every 6 s: exactly one more passes.
	clock.Advance(3 * time.Second)
	res := ask(assistStreamPath, bob).wantStatus(t, http.StatusOK)
	wantRateLimitHeaders(t, res, 0)
	deltaTexts(t, parseSSE(t, bytes.NewReader(res.body)), true)
	ask(assistPath, alice).wantProblem(t, http.StatusTooManyRequests, "")
	if n := len(fake.Requests()); n != 11 {
		t.Errorf("the model server received %d requests, want 11", n)
	}

	// Other operations are not limited.
	e.do("GET", "/users/me", alice.Token, nil).wantStatus(t, http.StatusOK)

	// A full minute refills the whole bucket.
	clock.Advance(time.Minute)
	wantRateLimitHeaders(t, ask(assistPath, alice).wantStatus(t, http.StatusOK), 9)
}

// Responses that are not successes still take a token and carry the headers.
func TestAssistantRateLimitHeadersOnFailures(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock(time.Now())
	e, fake := newAssistEnv(t, withClock(clock))
	fake.SetReply(openaitest.Reply{Status: 500})
	alice := e.signUp("alice")
	steps := []struct {
		name   string
		body   string
		status int
	}{
		{"invalid", `{"prompt":""}`, http.StatusUnprocessableEntity},
		{"upstream failure", `{"prompt":"hi"}`, http.StatusBadGateway},
	}
	for i, st := range steps {
		res := e.do("POST", assistPaths[i%2], alice.Token, st.body)
		res.wantProblem(t, st.status, "")
		wantRateLimitHeaders(t, res, 9-i)
	}
	// Anonymous requests are refused before the limiter and take no token.
	e.do("POST", assistPath, "", `{"prompt":"hi"}`).wantStatus(t, http.StatusUnauthorized)
	res := e.do("POST", assistPath, alice.Token, `{"prompt":""}`).wantStatus(t, http.StatusUnprocessableEntity)
	wantRateLimitHeaders(t, res, 10-len(steps)-1)
}

func TestAssistantTrustedProxyClientsHaveTheirOwnBuckets(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock(time.Now())
	e, fake := newAssistEnv(t, withClock(clock), withConfig(func(c *app.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}))
	alice := e.signUp("alice")
	try := func(path, client string) *response {
		return e.do("POST", path, alice.Token, assistBody("hi", ""), "X-Forwarded-For", client)
	}
	for i := 1; i <= 10; i++ {
		wantRateLimitHeaders(t, try(assistPaths[i%2], "198.51.100.1").wantStatus(t, http.StatusOK), 10-i)
	}
	try(assistStreamPath, "198.51.100.1").wantProblem(t, http.StatusTooManyRequests, "")
	// The second client starts with a full bucket.
	wantRateLimitHeaders(t, try(assistStreamPath, "198.51.100.2").wantStatus(t, http.StatusOK), 9)
	wantRateLimitHeaders(t, try(assistPath, "198.51.100.2").wantStatus(t, http.StatusOK), 8)
	// The first client cannot escape by prepending an address of its choosing.
	try(assistPath, "10.9.9.9, 198.51.100.1").wantProblem(t, http.StatusTooManyRequests, "")
	// Through a second trusted proxy it is still the same client.
	try(assistPath, "198.51.100.1, 127.0.0.2").wantProblem(t, http.StatusTooManyRequests, "")
	if n := len(fake.Requests()); n != 12 {
		t.Errorf("the model server received %d requests, want 12", n)
	}
}

// Only the prompt and the draft go to the model server: no posts, names,
// usernames, tokens or other fields.
func TestAssistantSendsNothingElseUpstream(t *testing.T) {
	t.Parallel()
	e, fake := newAssistEnv(t)
	const (
		displayName = "Zebulon Quixotic-Marchbanks"
		postText    = "Grandma's secret recipe: saffron-cardamom-7731"
		commentText = "Pass the marmalade-tangerine-9012"
		prompt      = "make it cheerful"
		draft       = "we went to the lake"
	)
	res := e.do("POST", "/auth/register", "", map[string]string{
		"username": "zebulon_q", "password": "password-zebulon", "display_name": displayName,
	}).wantStatus(t, http.StatusCreated)
	var zeb struct {
		DisplayName string `json:"display_name"`
	}
	res.json(t, &zeb)
	if zeb.DisplayName != displayName {
		t.Fatalf("display name = %q", zeb.DisplayName)
	}
	zebToken := e.login("zebulon_q", "password-zebulon")
	var post struct {
		ID int64 `json:"id"`
	}
	e.do("POST", "/posts", zebToken, map[string]any{"content": postText}).wantStatus(t, http.StatusCreated).json(t, &post)
	e.do("POST", "/posts/"+strconv.FormatInt(post.ID, 10)+"/comments", zebToken, map[string]any{"content": commentText})
	other := e.signUp("otheruser")

	for _, path := range assistPaths {
		e.do("POST", path, zebToken, assistBody(prompt, draft)).wantStatus(t, http.StatusOK)
		e.do("POST", path, other.Token, assistBody(prompt, draft)).wantStatus(t, http.StatusOK)
	}
	reqs := fake.Requests()
	if len(reqs) != 4 {
		t.Fatalf("the model server received %d requests, want 4", len(reqs))
	}
	for i, r := range reqs {
		raw := string(r.RawBody)
		for _, s := range []string{displayName, "Zebulon", postText, "saffron", commentText, "marmalade", "zebulon_q", "otheruser", zebToken, other.Token, testSecret} {
			if strings.Contains(raw, s) {
				t.Errorf("request %d: the upstream body holds %q: %s", i, s, raw)
			}
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(r.RawBody, &fields); err != nil {
			t.Fatal(err)
		}
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"max_tokens", "messages", "model", "stream", "temperature"}; !slices.Equal(keys, want) {
			t.Errorf("request %d: fields %q, want %q (no user, metadata or the like)", i, keys, want)
		}
		if len(r.Body.Messages) != 2 {
			t.Errorf("request %d: %d messages, want the system prompt and the user's", i, len(r.Body.Messages))
		}
	}
	// Who asks makes no difference to what is sent.
	for _, pair := range [][2]int{{0, 1}, {2, 3}} {
		a, b := reqs[pair[0]], reqs[pair[1]]
		if !bytes.Equal(a.RawBody, b.RawBody) {
			t.Errorf("two users' identical requests differ upstream:\n%s\n%s", a.RawBody, b.RawBody)
		}
	}
	// Plain and streamed requests differ only in "stream".
	if reqs[0].Body.Content("user") != reqs[2].Body.Content("user") || reqs[0].Body.Content("system") != reqs[2].Body.Content("system") {
		t.Error("the plain and the streamed request send different messages")
	}
	user := reqs[0].Body.Content("user")
	rest := strings.NewReplacer(prompt, "", draft, "").Replace(user)
	if strings.ContainsAny(rest, "0123456789") {
		t.Errorf("the user message holds more than the prompt and draft: %q", user)
	}
}

func TestAssistantOpenAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	res := e.do("GET", "/openapi.json", "", nil).wantStatus(t, http.StatusOK)
	type mediaType struct {
		Schema map[string]any `json:"schema"`
	}
	type operation struct {
		OperationID string                `json:"operationId"`
		Tags        []string              `json:"tags"`
		Description string                `json:"description"`
		Security    []map[string][]string `json:"security"`
		RequestBody struct {
			Required bool                 `json:"required"`
			Content  map[string]mediaType `json:"content"`
		} `json:"requestBody"`
		Responses map[string]struct {
			Content map[string]mediaType `json:"content"`
		} `json:"responses"`
	}
	var doc struct {
		Paths      map[string]map[string]operation `json:"paths"`
		Components struct {
			Schemas         map[string]map[string]any `json:"schemas"`
			SecuritySchemes map[string]any            `json:"securitySchemes"`
		} `json:"components"`
	}
	res.json(t, &doc)

	for _, tc := range []struct {
		path, id, success string
	}{
		{assistPath, "assist", "application/json"},
		{assistStreamPath, "assistStream", "text/event-stream"},
	} {
		op, ok := doc.Paths[tc.path]["post"]
		if !ok {
			t.Errorf("POST %s is not documented", tc.path)
			continue
		}
		if len(doc.Paths[tc.path]) != 1 {
			t.Errorf("%s documents more than POST", tc.path)
		}
		if op.OperationID != tc.id {
			t.Errorf("%s: operationId %q, want %q", tc.path, op.OperationID, tc.id)
		}
		if !slices.Contains(op.Tags, "Assistant") {
			t.Errorf("%s: tags %q", tc.path, op.Tags)
		}
		if len(op.Security) == 0 {
			t.Errorf("%s: no security requirement", tc.path)
		}
		for _, req := range op.Security {
			if len(req) == 0 {
				t.Errorf("%s: security allows anonymous calls", tc.path)
			}
			for scheme := range req {
				if doc.Components.SecuritySchemes[scheme] == nil {
					t.Errorf("%s: unknown security scheme %q", tc.path, scheme)
				}
			}
		}
		if !strings.Contains(op.Description, "prompt and draft") {
			t.Errorf("%s: the description does not say what goes to the model: %q", tc.path, op.Description)
		}
		if _, ok := op.Responses["200"].Content[tc.success]; !ok {
			t.Errorf("%s: 200 is not documented as %s: %v", tc.path, tc.success, op.Responses["200"].Content)
		}
		for _, code := range []string{"401", "422", "429", "502", "503", "504"} {
			if _, ok := op.Responses[code]; !ok {
				t.Errorf("%s: response %s is not documented", tc.path, code)
			}
		}
		// The request body: prompt required, both lengths documented.
		rb, ok := op.RequestBody.Content["application/json"]
		if !ok || !op.RequestBody.Required {
			t.Errorf("%s: request body %+v", tc.path, op.RequestBody)
			continue
		}
		schema := rb.Schema
		if ref, ok := schema["$ref"].(string); ok {
			schema = doc.Components.Schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
		}
		props, _ := schema["properties"].(map[string]any)
		prompt, _ := props["prompt"].(map[string]any)
		draft, _ := props["draft"].(map[string]any)
		if prompt["maxLength"] != 2000.0 || prompt["minLength"] != 1.0 || draft["maxLength"] != 5000.0 {
			t.Errorf("%s: prompt %v, draft %v", tc.path, prompt, draft)
		}
		if req, _ := schema["required"].([]any); !slices.Contains(req, any("prompt")) || slices.Contains(req, any("draft")) {
			t.Errorf("%s: required %v, want prompt only", tc.path, schema["required"])
		}
	}

	// The stream's events are described: delta with a text, and done.
	stream := doc.Paths[assistStreamPath]["post"].Responses["200"].Content["text/event-stream"]
	b, _ := json.Marshal(stream.Schema)
	for _, s := range []string{`"delta"`, `"done"`} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("the event stream schema does not name %s: %s", s, b)
		}
	}
}

// A client that goes away releases the model server call at once, rather
// than holding it until the (long) timeout, and it is not an internal error.
func TestAssistantClientGoneReleasesUpstream(t *testing.T) {
	t.Parallel()
	e, fake := newAssistEnv(t, withAssistantLimit(100)) // AITimeout stays at its 60 s default
	fake.SetReply(openaitest.Reply{Hang: true})
	alice := e.signUp("alice")
	for _, path := range assistPaths {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			t.Parallel()
			body, _ := json.Marshal(assistBody("hi", ""))
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "POST", e.srv.URL+path, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+alice.Token)
			if res, err := e.srv.Client().Do(req); err == nil {
				res.Body.Close()
				t.Fatalf("got an answer (%d) from a hanging model server", res.StatusCode)
			}
			// The server finishes the request soon after the client left.
			logged := "path=" + path + " status="
			deadline := time.Now().Add(3 * time.Second)
			for !strings.Contains(e.logs.String(), logged) {
				if time.Now().After(deadline) {
					t.Fatalf("the server still waits on the model server after the client left:\n%s", e.logs.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			for _, line := range strings.Split(e.logs.String(), "\n") {
				if strings.Contains(line, logged) && !strings.Contains(line, "status=499") {
					t.Errorf("logged as %s", line)
				}
			}
			if strings.Contains(e.logs.String(), "internal error") {
				t.Errorf("a client leaving was logged as an internal error:\n%s", e.logs.String())
			}
		})
	}
}

// TestAssistantOutlivesFiveSeconds: a model server that takes 8 s to answer
// is answered, plain and streamed. A read deadline once left on the
// connection by reading the body cancelled every request still working
// after 5 s (499), although MOMENTS_AI_TIMEOUT is 60 s.
func TestAssistantOutlivesFiveSeconds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path  string
		reply openaitest.Reply
	}{
		{assistPath, openaitest.Reply{Text: "Worth the wait.", Delay: 8 * time.Second}},
		{assistStreamPath, openaitest.Reply{Text: "worth the long wait", Delay: 2 * time.Second, ChunkDelay: 2 * time.Second}},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			t.Parallel()
			e, fake := newAssistEnv(t)
			fake.SetReply(tc.reply)
			alice := e.signUp("alice")
			start := time.Now()
			res := e.do("POST", tc.path, alice.Token, assistBody("take your time", ""))
			took := time.Since(start)
			res.wantStatus(t, http.StatusOK)
			if took < 7*time.Second {
				t.Fatalf("the answer came after %s: the fake did not make it wait", took)
			}
			if tc.path == assistStreamPath {
				events := parseSSE(t, bytes.NewReader(res.body))
				if got := strings.Join(deltaTexts(t, events, true), ""); got != tc.reply.Text {
					t.Errorf("streamed %q after %s", got, took)
				}
			} else if !strings.Contains(res.text(), tc.reply.Text) {
				t.Errorf("answer %s after %s", res.body, took)
			}
			t.Logf("answered after %s", took)
		})
	}
}
