package app

import (
	"io/fs"
	"net/http"
	"strings"

	swagger "github.com/swaggest/swgui/v5/static"
)

// routes lists the whole HTTP surface. API operations are registered by
// the register function of their resource, next to their input and output
// types and their named handlers, one file per resource; nothing else
// registers one (TestRoutesListTheWholeAPI).
func (s *server) routes(mux *http.ServeMux, web fs.FS) {
	s.registerHealth()
	s.registerInstance()
	s.registerAccounts()
	s.registerUsers()
	s.registerAdmin()
	s.registerPosts()
	s.registerComments()
	s.registerCircles()
	s.registerMedia()
	s.registerAssistant()

	// Everything else is files: the API docs and the web UI.
	ui := newStaticFiles(web, "no-cache", uiPolicy)
	docs := newStaticFiles(web, "no-cache", docsPolicy)
	swaggerUI := newStaticFiles(swagger.FS, "public, max-age=86400", docsPolicy)
	mux.HandleFunc("GET /docs", func(w http.ResponseWriter, r *http.Request) {
		docs.serve(w, r, "docs/index.html")
	})
	mux.HandleFunc("GET /docs/{file}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if name == "index.html" {
			http.Redirect(w, r, "/docs", http.StatusMovedPermanently)
			return
		}
		if docs.exists("docs/" + name) {
			docs.serve(w, r, "docs/"+name)
			return
		}
		swaggerUI.serve(w, r, name)
	})
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			name = "index.html"
		}
		ui.serve(w, r, name)
	})
}
