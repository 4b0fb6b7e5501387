package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/courier-chat/courier/api"
	"github.com/courier-chat/courier/web"
)

// newServer mounts the page on a real API server, as cmd/courier does, so
// the tests see the routing a deployment has.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := api.NewServer(api.Config{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	web.Mount(s, api.NotFound)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv
}

func TestServe(t *testing.T) {
	srv := newServer(t)
	for _, tc := range []struct {
		method, path string
		status       int
		contentType  string // prefix
		body         string // substring
	}{
		{"GET", "/", 200, "text/html", `<script type="module" src="/app.js">`},
		{"HEAD", "/", 200, "text/html", ""},
		{"GET", "/app.js", 200, "text/javascript", "import"},
		{"GET", "/store.js", 200, "text/javascript", "indexedDB"},
		{"GET", "/style.css", 200, "text/css", "body"},
		{"GET", "/icon.svg", 200, "image/svg+xml", "<svg"},
		{"GET", "/sw.js", 200, "text/javascript", "caches"},
		// index.html only at /, no listing, no escape from static/.
		{"GET", "/index.html", 404, "application/json", `"not_found"`},
		{"GET", "/nope.js", 404, "application/json", `"not_found"`},
		{"GET", "/../web.go", 404, "application/json", `"not_found"`},
		// The API keeps its own answers.
		{"GET", "/v1/nope", 404, "application/json", `"not_found"`},
		{"POST", "/", 404, "application/json", `"not_found"`},
		{"GET", "/healthz", 200, "", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type %q, want %q…", ct, tc.contentType)
			}
			if !strings.Contains(string(b), tc.body) {
				t.Errorf("body %.200q lacks %q", b, tc.body)
			}
			if tc.status == 200 && tc.contentType != "" {
				for h, want := range map[string]string{
					"Content-Security-Policy": web.ContentSecurityPolicy,
					"Cache-Control":           "no-cache",
					"X-Content-Type-Options":  "nosniff",
				} {
					if got := resp.Header.Get(h); got != want {
						t.Errorf("%s %q, want %q", h, got, want)
					}
				}
			}
		})
	}
}

// TestServeETag: every load revalidates (Cache-Control: no-cache), and
// an unchanged file answers 304 without a body.
func TestServeETag(t *testing.T) {
	srv := newServer(t)
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	etag := resp.Header.Get("ETag")
	resp.Body.Close()
	if etag == "" {
		t.Fatal("no ETag on /")
	}
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", resp.StatusCode)
	}
}

// TestCSPForbidsInline: the policy allows no inline script or style and
// no other origin; the page must work under it (the browser tests run
// with it).
func TestCSPForbidsInline(t *testing.T) {
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*", "http:", "https:"} {
		for _, d := range strings.Split(web.ContentSecurityPolicy, ";") {
			for _, src := range strings.Fields(d)[1:] {
				if strings.Trim(src, "'") == bad {
					t.Errorf("CSP directive %q allows %s", strings.TrimSpace(d), bad)
				}
			}
		}
	}
}
