package api

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"regexp"
	"time"

	"github.com/courier-chat/courier"
)

// validRequestID accepts a client's X-Request-ID only when it is short and
// plain, so logs cannot be polluted through it.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// withRequestContext gives every request an ID (echoed as X-Request-ID), a
// logger carrying it, an access log line, metrics, and panic recovery.
func (s *Server) withRequestContext(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-ID")
		if !validRequestID.MatchString(id) {
			id = courier.NewID()
		}
		w.Header().Set("X-Request-ID", id)
		logger := s.logger.With("request_id", id)
		r = r.WithContext(courier.NewContextWithLogger(r.Context(), logger))

		rc := http.NewResponseController(w)
		s.startDeadlines(rc, r)
		rec := &statusRecorder{ResponseWriter: w, rc: rc, writeTimeout: s.cfg.WriteTimeout}
		defer func() {
			// net/http flushes what the handler buffered after it returns:
			// a handler that read a long upload before answering still
			// gets WriteTimeout for that. A hijacked connection is the
			// WebSocket's, deadlines and all.
			if rec.status != http.StatusSwitchingProtocols {
				rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
			}
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.Error("panic serving request", "panic", v, "path", r.URL.Path)
				if rec.status == 0 {
					Error(rec, r, errors.New("panic"))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			elapsed := time.Since(start)
			s.metrics.observe(route, r.Method, rec.code(), elapsed)
			if r.URL.Path != "/metrics" && r.URL.Path != "/healthz" {
				logger.Info("request", "method", r.Method, "path", r.URL.Path, "route", route,
					"status", rec.code(), "bytes", rec.bytes, "duration_ms", elapsed.Milliseconds())
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// statusRecorder remembers the status and size of a response. It passes
// Flush and Hijack through: tus streams and WebSockets need them.
// Each write and status first moves the connection's write deadline
// (Config.WriteTimeout; see deadline.go).
type statusRecorder struct {
	http.ResponseWriter
	status       int
	bytes        int64
	rc           *http.ResponseController
	writeTimeout time.Duration
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 || code < 200 {
		// 1xx informational responses (104 Upload Resumption Supported) may
		// precede the final status.
		if code >= 200 {
			w.status = code
		}
	}
	w.rc.SetWriteDeadline(time.Now().Add(w.writeTimeout))
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.rc.SetWriteDeadline(time.Now().Add(w.writeTimeout))
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusRecorder) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the underlying writer
// (tusd sets read deadlines through it).
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijack not supported")
	}
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}
