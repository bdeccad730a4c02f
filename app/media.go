package app

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"moments/media"
)

// multipartOverhead is room for the form's boundaries and part headers on
// top of the file itself.
const multipartOverhead = 64 << 10

// uploadInput takes the request itself: the upload is streamed into the
// media library part by part, never buffered whole or parsed into a
// temporary form by Huma.
type uploadInput struct {
	ContentType string `header:"Content-Type"`
	req         *http.Request
	w           http.ResponseWriter
}

func (in *uploadInput) Resolve(ctx huma.Context) []error {
	in.req, in.w = humago.Unwrap(ctx)
	return nil
}

type uploadOutput struct {
	Location string `header:"Location"`
	Body     struct {
		URL          string `json:"url" example:"/media/k3x7q2m4n5p6r7s2t3u4v5w6x2.jpg" doc:"Use in a post's media_urls"`
		ThumbnailURL string `json:"thumbnail_url" example:"/media/k3x7q2m4n5p6r7s2t3u4v5w6x2.jpg?size=thumb"`
		ContentType  string `json:"content_type" example:"image/jpeg"`
		Width        int    `json:"width" example:"2560"`
		Height       int    `json:"height" example:"1920"`
		Bytes        int64  `json:"bytes" example:"734003"`
	}
}

type mediaInput struct {
	Name        string `path:"name" maxLength:"40" doc:"The name from an upload's url" example:"k3x7q2m4n5p6r7s2t3u4v5w6x2.jpg"`
	Size        string `query:"size" enum:"thumb" doc:"thumb for the thumbnail (at most 480 px on the long side)"`
	IfNoneMatch string `header:"If-None-Match" doc:"Revalidation; answered 304"`
	Range       string `header:"Range" doc:"Byte ranges are supported"`
}

func (s *server) registerMedia() {
	binary := &huma.Schema{Type: "string", Format: "binary"}
	images := map[string]*huma.MediaType{"image/jpeg": {Schema: binary}, "image/png": {Schema: binary}, "image/gif": {Schema: binary}}
	register(s, huma.Operation{
		OperationID: "uploadMedia",
		Method:      http.MethodPost,
		Path:        "/media",
		Summary:     "Upload a photo",
		Description: "multipart/form-data with the image in the field `file`. JPEG, PNG, GIF (animation kept) and WebP are " +
			"accepted, decided by the content, never the file name. Photos are re-encoded: EXIF orientation is applied, then " +
			"all metadata (EXIF, GPS, XMP) is dropped; the long side is capped at 2560 px and a 480 px thumbnail is made. " +
			"Put the answer's url in a post's media_urls.",
		Tags:          []string{"Media"},
		Security:      needsToken,
		DefaultStatus: http.StatusCreated,
		Errors: []int{http.StatusBadRequest, http.StatusRequestTimeout, http.StatusRequestEntityTooLarge,
			http.StatusUnsupportedMediaType},
	}, s.upload)
	// Documented after registering: declared before, Huma would read and
	// parse the whole body itself instead of letting upload stream it.
	s.api.OpenAPI().Paths["/media"].Post.RequestBody = &huma.RequestBody{
		Required: true,
		Content: map[string]*huma.MediaType{"multipart/form-data": {
			Schema: &huma.Schema{
				Type:     "object",
				Required: []string{"file"},
				Properties: map[string]*huma.Schema{
					"file": {Type: "string", Format: "binary", Description: "The image"},
				},
			},
		}},
	}

	register(s, huma.Operation{
		OperationID: "getMedia",
		Method:      http.MethodGet,
		Path:        "/media/{name}",
		Summary:     "A stored photo or its thumbnail",
		Description: "No token needed: names are random and unguessable, so links work in <img>. Served with " +
			"long-lived immutable caching, an ETag, Range support and a sandboxing Content-Security-Policy.",
		Tags:   []string{"Media"},
		Errors: []int{http.StatusNotFound},
		Responses: map[string]*huma.Response{
			"200": {Description: "The image", Content: images},
			"206": {Description: "The byte ranges asked for with Range", Content: images},
			"304": {Description: "Not modified since the ETag given in If-None-Match"},
			"416": {Description: "The Range asked for lies outside the file"},
		},
	}, s.serveMedia)
}

func (s *server) upload(ctx context.Context, in *uploadInput) (*uploadOutput, error) {
	mt, params, err := mime.ParseMediaType(in.ContentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, huma.Error415UnsupportedMediaType("Send the photo as multipart/form-data in the field `file`.")
	}
	// The slot is taken before a byte of the body is read, so an account's
	// uploads beyond its share wait holding nothing but a goroutine.
	me, _ := currentUser(ctx)
	release, err := s.uploads.acquire(ctx, me.ID)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	defer release()

	in.req.Body = http.MaxBytesReader(in.w, in.req.Body, s.cfg.MaxUpload+multipartOverhead)
	parts := multipart.NewReader(in.req.Body, params["boundary"])
	up, err := s.receivePhoto(ctx, parts)
	if err != nil {
		return nil, err
	}
	defer up.Close()
	if err := readRest(parts, in.req.Body); err != nil {
		return nil, err
	}
	clearReadDeadline(in.w)

	info, err := up.Save(ctx)
	switch {
	case err == nil:
	case errors.Is(err, media.ErrTooManyPixels):
		return nil, huma.Error413RequestEntityTooLarge("The image's dimensions are too large to process " +
			"(at most 40 megapixels; animated GIFs at most 2560 px on a side).")
	case errors.Is(err, media.ErrUnsupported):
		return nil, huma.Error415UnsupportedMediaType("That is not a JPEG, PNG, GIF or WebP image, or it is damaged.")
	default:
		return nil, s.fail(ctx, err)
	}
	out := &uploadOutput{Location: "/media/" + info.Name}
	out.Body.URL = "/media/" + info.Name
	out.Body.ThumbnailURL = "/media/" + info.Name + "?size=thumb"
	out.Body.ContentType = info.ContentType
	out.Body.Width = info.Width
	out.Body.Height = info.Height
	out.Body.Bytes = info.Bytes
	return out, nil
}

// receivePhoto reads the form up to the field "file", skipping any other
// field before it, and streams the file into the media library.
func (s *server) receivePhoto(ctx context.Context, parts *multipart.Reader) (*media.Upload, error) {
	for {
		part, err := nextPart(parts)
		if err == io.EOF {
			return nil, fieldError("body.file", "is missing: send the photo in the field `file`", nil)
		}
		if err != nil {
			return nil, err
		}
		if part.FormName() != "file" {
			if err := skipPart(part); err != nil {
				return nil, err
			}
			continue
		}
		body := &readRecorder{r: part}
		up, err := s.media.Receive(body)
		switch {
		case err == nil:
			return up, nil
		case body.err != nil && !errors.Is(body.err, io.EOF):
			return nil, uploadReadError(body.err)
		case errors.Is(err, media.ErrTooLarge):
			return nil, huma.Error413RequestEntityTooLarge("The photo is larger than " + humanBytes(s.cfg.MaxUpload) + ".")
		default:
			return nil, s.fail(ctx, err)
		}
	}
}

// readRest reads what follows the photo to the end of the body: other
// fields, the closing boundary, anything after it. The photo is decoded
// only once the whole request has arrived: then the connection's read
// deadline has nothing left to guard and can be lifted, and a client that
// stops short of the end never holds a decode slot.
func readRest(parts *multipart.Reader, body io.Reader) error {
	for {
		part, err := nextPart(parts)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := skipPart(part); err != nil {
			return err
		}
	}
	if _, err := io.Copy(io.Discard, body); err != nil {
		return uploadReadError(err)
	}
	return nil
}

// nextPart is the form's next part, with its names checked. A bare io.EOF
// comes only after the closing boundary; a wrapped one means the body
// ended early, which is malformed (400).
func nextPart(parts *multipart.Reader) (*multipart.Part, error) {
	part, err := parts.NextPart()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, uploadReadError(err)
	}
	// Names are text: bytes that are not UTF-8 are refused, never rewritten
	// into something the client did not send.
	disposition := part.Header.Get("Content-Disposition")
	_, names, _ := mime.ParseMediaType(disposition)
	switch {
	case !utf8.ValidString(names["name"]):
		return nil, huma.Error400BadRequest("A form field's name is not valid UTF-8.")
	case !utf8.ValidString(names["filename"]):
		return nil, huma.Error400BadRequest("The file name is not valid UTF-8.")
	case !utf8.ValidString(disposition):
		return nil, huma.Error400BadRequest("A part's Content-Disposition header is not valid UTF-8.")
	}
	return part, nil
}

// skipPart reads past a part the upload does not use, within the body's
// limit.
func skipPart(part *multipart.Part) error {
	if _, err := io.Copy(io.Discard, part); err != nil {
		return uploadReadError(err)
	}
	return nil
}

// clearReadDeadline lifts any read deadline left on the connection, once
// an upload's body has been read to its end. A deadline passing during a
// long decode would fail net/http's background read (which watches for
// the client leaving), and that cancels the request's context: a photo
// still being processed would be answered 499 as if its client had gone.
// net/http lifts the deadline of the server's ReadTimeout itself when the
// body reaches its end; lifting it here too keeps the upload safe from any
// deadline set since, whoever set it.
func clearReadDeadline(w http.ResponseWriter) {
	// Writers that cannot (a test's recorder) have no deadline to lift.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
}

// readRecorder remembers the error reading the upload gave, so a broken or
// oversized request body is told apart from a failure of ours.
type readRecorder struct {
	r   io.Reader
	err error
}

func (rr *readRecorder) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	if err != nil && rr.err == nil {
		rr.err = err
	}
	return n, err
}

// uploadReadError answers a request body that could not be read: too long,
// too slow, or not valid multipart.
func uploadReadError(err error) error {
	var tooBig *http.MaxBytesError
	var timeout interface{ Timeout() bool }
	switch {
	case errors.As(err, &tooBig):
		return huma.Error413RequestEntityTooLarge("The upload is larger than " + humanBytes(tooBig.Limit-multipartOverhead) + ".")
	case errors.As(err, &timeout) && timeout.Timeout():
		return huma.Error408RequestTimeout("The upload took too long.")
	}
	return huma.Error400BadRequest("The multipart/form-data body is malformed or was cut off.")
}

func humanBytes(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

func (s *server) serveMedia(ctx context.Context, in *mediaInput) (*huma.StreamResponse, error) {
	thumb := in.Size == "thumb"
	f, ctype, err := s.media.Open(in.Name, thumb)
	if errors.Is(err, media.ErrNotFound) {
		return nil, huma.Error404NotFound("No such photo.")
	}
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		defer f.Close()
		r, w := humago.Unwrap(hctx)
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		etag := `"` + in.Name
		if thumb {
			etag += "-thumb"
		}
		h.Set("ETag", etag+`"`)
		st, err := f.Stat()
		if err != nil {
			writeProblem(w, http.StatusInternalServerError, "Internal error.")
			return
		}
		// The name is the content's identity: files are never rewritten.
		http.ServeContent(w, r, "", st.ModTime(), f)
	}}, nil
}
