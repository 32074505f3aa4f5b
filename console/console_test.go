package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHandler: the console's files with their types, under a strict
// policy; nothing outside the embedded tree, and nothing but reads.
func TestHandler(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		method, path string
		status       int
		typ, body    string
	}{
		{"GET", "/console/", 200, "text/html; charset=utf-8", `<script type="module" src="/console/app.js">`},
		{"GET", "/console/app.js", 200, "text/javascript; charset=utf-8", "import"},
		{"GET", "/console/pages/flows.js", 200, "text/javascript; charset=utf-8", "sankey"},
		{"GET", "/console/vendor/charts.js", 200, "text/javascript; charset=utf-8", "getInstanceByDom"},
		{"GET", "/console/style.css", 200, "text/css; charset=utf-8", "--ink"},
		{"HEAD", "/console/app.js", 200, "text/javascript; charset=utf-8", ""},
		{"GET", "/console/nothing.js", 404, "", ""},
		{"GET", "/console/../console.go", 404, "", ""},
		{"GET", "/console/%2e%2e/console.go", 404, "", ""},
		{"POST", "/console/", 405, "", ""},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, w.Code, tc.status)
			continue
		}
		csp := w.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s %s: policy %q", tc.method, tc.path, csp)
		}
		if tc.status != http.StatusOK {
			continue
		}
		if got := w.Header().Get("Content-Type"); got != tc.typ {
			t.Errorf("%s: type %q, want %q", tc.path, got, tc.typ)
		}
		if !strings.Contains(w.Body.String(), tc.body) {
			t.Errorf("%s: body lacks %q", tc.path, tc.body)
		}
	}
}
