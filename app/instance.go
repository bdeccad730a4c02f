package app

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// instanceBody is what a client needs to know before anyone signs in: what
// to offer on the first screen and what the server will take.
type instanceBody struct {
	Name            string `json:"name" example:"Moments" doc:"The instance's name (MOMENTS_NAME)"`
	Version         string `json:"version" example:"1.4.0"`
	Registration    string `json:"registration" enum:"open,closed" doc:"open: anyone may create an account; closed: only the first account registers itself"`
	PublicPosts     bool   `json:"public_posts" doc:"Whether visitors without an account may read"`
	Assistant       bool   `json:"assistant" doc:"Whether the AI assistant is configured"`
	MemberInvites   bool   `json:"member_invites" doc:"Whether members other than admins may invite"`
	MaxUploadBytes  int64  `json:"max_upload_bytes" example:"10485760" doc:"The largest photo upload, in bytes"`
	MaxUploadPixels int64  `json:"max_upload_pixels" example:"40000000" doc:"The most pixels (width × height) a photo may have"`
	PublicURL       string `json:"public_url" example:"https://moments.example.com" doc:"The address links are built from (MOMENTS_PUBLIC_URL)"`
	SetupNeeded     bool   `json:"setup_needed" doc:"true until the first account exists; that account becomes the admin, whatever the registration setting"`
}

type instanceOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         instanceBody
}

func (s *server) registerInstance() {
	register(s, huma.Operation{
		OperationID: "getInstance",
		Method:      http.MethodGet,
		Path:        "/instance",
		Summary:     "What this instance offers, before signing in",
		Tags:        []string{"Operations"},
	}, s.instance)
}

func (s *server) instance(ctx context.Context, _ *struct{}) (*instanceOutput, error) {
	exists, err := s.store.HasUsers(ctx)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &instanceOutput{
		CacheControl: "no-cache",
		Body: instanceBody{
			Name:            s.cfg.Name,
			Version:         s.version,
			Registration:    s.cfg.Registration,
			PublicPosts:     s.cfg.PublicPosts,
			Assistant:       s.assistant.Configured(),
			MaxUploadBytes:  s.cfg.MaxUpload,
			MaxUploadPixels: s.media.MaxPixels(),
			PublicURL:       s.cfg.PublicURL,
			SetupNeeded:     !exists,
		},
	}, nil
}
