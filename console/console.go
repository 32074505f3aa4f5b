// Package console is the web console for regulators and platform staff: a
// small page application (plain ES modules, no framework) embedded in the
// binary and served at /console/. It holds no data and no secret: it calls
// the same /v1 routes with the API key its user signs in with, kept in the
// tab's sessionStorage, so every role decision stays with the routes.
//
// The chart bundle (static/vendor/charts.js: Apache ECharts' core with the
// Sankey series and the canvas renderer) is built from package.json and
// src/ by `make console` with esbuild and committed, so building the
// service never needs Node; `make lint` rebuilds it and fails when the
// committed bundle differs.
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var files embed.FS

// Prefix is where the console is served.
const Prefix = "/console/"

// policy is the console's Content-Security-Policy: its own scripts, styles
// and API only; no inline script or style, no framing, no form posting
// elsewhere, no plugins. The chart draws on a canvas, so it needs no
// inline styles either.
const policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the console's files under Prefix with a strict policy;
// every path that is not a file is the page itself (its views live in the
// URL's fragment, so a shared link opens the same view).
func Handler() http.Handler {
	root, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", policy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(r.URL.Path, Prefix)), "/")
		if name == "" || name == "." {
			name = "index.html"
		}
		b, err := fs.ReadFile(root, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", contentType(name))
		if r.Method == http.MethodHead {
			return
		}
		w.Write(b) //nolint:errcheck // the client went away
	})
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	}
	return "application/octet-stream"
}
