package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/sse"

	"moments/app/assistant"
)

type assistantInput struct {
	Body assistantRequest
}

type assistantRequest struct {
	Prompt string `json:"prompt" minLength:"1" maxLength:"2000" doc:"What you want, e.g. \"make it cheerful\" or \"a caption for our hike\"" example:"make it cheerful"`
	Draft  string `json:"draft,omitempty" maxLength:"5000" doc:"The composer's current text, if any" example:"we went up the hill today"`
}

func (r *assistantRequest) Resolve(_ huma.Context, prefix *huma.PathBuffer) []error {
	var errs []error
	if err := checkLength(prefix, "prompt", r.Prompt, 1, 2000); err != nil {
		errs = append(errs, err)
	}
	if err := checkText(prefix, "prompt", r.Prompt); err != nil {
		errs = append(errs, err)
	}
	if err := checkText(prefix, "draft", r.Draft); err != nil {
		errs = append(errs, err)
	}
	return errs
}

type assistantOutput struct {
	Body struct {
		Text string `json:"text" doc:"Post text, ready to use" example:"What a day: we made it up the hill and the view was worth every step!"`
	}
}

// The stream's events.
type deltaEvent struct {
	Text string `json:"text" doc:"The next piece of the text"`
}

type doneEvent struct{}

// assistantKey marks the assistant's operations for assistantGate.
const assistantKey = "assistant"

func (s *server) registerAssistant() {
	meta := func() map[string]any {
		m := limited(limitAssistant)
		m[assistantKey] = true
		return m
	}
	const privacy = " Only the prompt and draft you send go to the model server — no other posts, names or data. " +
		"Limited to 10 requests per client address, refilled at 10 per minute, shared with the other assistant endpoint."

	register(s, huma.Operation{
		OperationID:  "assist",
		Method:       http.MethodPost,
		Path:         "/ai/assistant",
		Summary:      "Draft or rework a post with the AI assistant",
		Description:  "Answers with post text ready for the composer." + privacy,
		Tags:         []string{"Assistant"},
		Security:     needsToken,
		Metadata:     meta(),
		MaxBodyBytes: postBodyBytes,
		Errors:       []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout},
	}, s.assist)

	sse.Register(s.api, operation(huma.Operation{
		OperationID: "assistStream",
		Method:      http.MethodPost,
		Path:        "/ai/assistant/stream",
		Summary:     "Same as /ai/assistant, streamed as the text is generated",
		Description: "Server-sent events: `delta` events carry the next piece of text, then one `done`. " +
			"Authentication, validation, the rate limit and the first answer of the model server all happen " +
			"before the stream starts, so failures are ordinary problem documents." + privacy,
		Tags:         []string{"Assistant"},
		Security:     needsToken,
		Metadata:     meta(),
		MaxBodyBytes: postBodyBytes,
		Errors:       []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout},
	}, reflect.TypeFor[assistantInput]()),
		map[string]any{"delta": deltaEvent{}, "done": doneEvent{}}, s.assistStream)
}

func (s *server) assist(ctx context.Context, in *assistantInput) (*assistantOutput, error) {
	text, err := s.assistant.Complete(ctx, assistant.Request{Prompt: in.Body.Prompt, Draft: in.Body.Draft})
	if err != nil {
		return nil, s.assistantError(ctx, err)
	}
	out := &assistantOutput{}
	out.Body.Text = text
	return out, nil
}

// assistStream answers the stream's events; see the operation's description.
func (s *server) assistStream(ctx context.Context, in *assistantInput, send sse.Sender) {
	hctx, _ := ctx.Value(humaContextKey).(huma.Context)
	started := false
	err := s.assistant.Stream(ctx, assistant.Request{Prompt: in.Body.Prompt, Draft: in.Body.Draft},
		func(text string) error {
			started = true
			return send.Data(deltaEvent{Text: text})
		})
	switch {
	case err == nil:
		_ = send.Data(doneEvent{})
	case !started && hctx != nil:
		// Nothing is written yet, so the failure is still an
		// ordinary status and problem document.
		var se huma.StatusError
		if errors.As(s.assistantError(ctx, err), &se) {
			huma.WriteErr(s.api, hctx, se.GetStatus(), se.Error())
		}
	default:
		// Mid-stream: the status is sent. Log it; the client sees
		// the stream end without "done".
		s.log.LogAttrs(ctx, slog.LevelWarn, "assistant stream cut off",
			slog.String("error", err.Error()), slog.String("request_id", requestID(ctx)))
	}
}

// assistantGate runs before the assistant's operations: it answers 503 when
// no model server is configured, and hands the stream handler its Huma
// context so that it can still answer an error status if the model server
// fails before the first word.
func (s *server) assistantGate(ctx huma.Context, next func(huma.Context)) {
	if on, _ := ctx.Operation().Metadata[assistantKey].(bool); !on {
		next(ctx)
		return
	}
	if !s.assistant.Configured() {
		huma.WriteErr(s.api, ctx, http.StatusServiceUnavailable,
			"The assistant is not configured on this server: its operator sets MOMENTS_AI_BASE_URL "+
				"(an OpenAI-compatible API such as https://api.openai.com/v1 or Ollama's http://127.0.0.1:11434/v1) "+
				"and MOMENTS_AI_MODEL, plus MOMENTS_AI_API_KEY if the server needs a key.")
		return
	}
	next(huma.WithValue(ctx, humaContextKey, ctx))
}

// assistantError maps the client's errors to statuses. The client's error
// text holds no upstream body, header or key, so it may be logged.
func (s *server) assistantError(ctx context.Context, err error) error {
	status, detail := 0, ""
	switch {
	case errors.Is(err, assistant.ErrNotConfigured):
		status, detail = http.StatusServiceUnavailable, "The assistant is not configured on this server."
	case errors.Is(err, assistant.ErrTimeout):
		status, detail = http.StatusGatewayTimeout, "The model server took too long to answer; try again."
	case errors.Is(err, assistant.ErrUpstream), errors.Is(err, assistant.ErrTooLarge):
		status, detail = http.StatusBadGateway, "The model server failed to answer; try again later."
	default:
		return s.fail(ctx, err)
	}
	s.log.LogAttrs(ctx, slog.LevelWarn, "assistant failed",
		slog.String("error", err.Error()), slog.String("request_id", requestID(ctx)))
	return huma.NewError(status, detail)
}
