package web

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// all: because the vendored @noble files include names that start with
// an underscore (_md.js), which a plain pattern leaves out.
//
//go:embed all:static
var embedded embed.FS

// static is the embedded tree with "static/" stripped: the page's URL
// space.
var static = mustSub(embedded, "static")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// ContentSecurityPolicy allows the page its own scripts, styles and
// connections (HTTP and the same-origin WebSocket) and nothing else: no
// inline script, no eval, no third-party origin. blob: and data: are for
// images and videos the page decrypts or downloads itself and for the
// blurhash placeholders it paints.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; " +
	"worker-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// contentTypes are set explicitly rather than read from the system's
// MIME database, which differs between machines (a .js served as
// text/plain is refused as a module).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".json": "application/json",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".wasm": "application/wasm",
	".txt":  "text/plain; charset=utf-8",
}

// Registrar is the slice of a mux Mount needs (api.Server and
// http.ServeMux both have it).
type Registrar interface {
	Handle(pattern string, h http.Handler)
}

// Mount registers the page on mux: GET / for index.html, and one pattern
// per top-level file or directory of static/. Patterns name only what
// exists, so every other path keeps the mux's own answer (the API's JSON
// 404 for an unknown /v1 path). notFound answers paths under a static
// directory that name no file, and directories themselves: there are no
// listings.
func Mount(mux Registrar, notFound http.Handler) {
	h := Handler(notFound)
	mux.Handle("GET /{$}", h)
	entries, err := fs.ReadDir(static, ".")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			mux.Handle("GET /"+e.Name()+"/", h)
		} else if e.Name() != "index.html" {
			mux.Handle("GET /"+e.Name(), h)
		}
	}
}

// Handler serves the embedded files: index.html at /, every file at its
// path, notFound for anything else.
func Handler(notFound http.Handler) http.Handler {
	etags := map[string]string{}
	fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(static, p)
			sum := sha256.Sum256(b)
			etags[p] = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		}
		return nil
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		if name == "" {
			name = "index.html"
		}
		etag, ok := etags[name]
		if !ok || strings.HasSuffix(r.URL.Path, "/") && name != "index.html" {
			notFound.ServeHTTP(w, r)
			return
		}
		f, err := static.Open(name)
		if err != nil {
			notFound.ServeHTTP(w, r)
			return
		}
		defer f.Close()
		h := w.Header()
		h.Set("Content-Type", contentType(name))
		// No hashed file names (there is no build step), so every load
		// revalidates; the ETag makes that a 304 without a body.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		// ServeContent answers If-None-Match with 304 and Range requests.
		http.ServeContent(w, r, "", time.Time{}, f.(io.ReadSeeker))
	})
}

func contentType(name string) string {
	if t, ok := contentTypes[path.Ext(name)]; ok {
		return t
	}
	return "application/octet-stream"
}
