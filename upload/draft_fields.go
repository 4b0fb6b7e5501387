package upload

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
)

// Problem types the draft registers (RFC 9457 problem details).
const (
	problemOffset    = "https://iana.org/assignments/http-problem-types#mismatching-upload-offset"
	problemCompleted = "https://iana.org/assignments/http-problem-types#completed-upload"
	problemLength    = "https://iana.org/assignments/http-problem-types#inconsistent-upload-length"
)

// writeProblem answers with an application/problem+json body.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, typ, detail string, extra map[string]any) {
	body := map[string]any{"title": http.StatusText(status), "detail": detail}
	if typ != "" {
		body["type"] = typ
	}
	for k, v := range extra {
		body[k] = v
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		json.NewEncoder(w).Encode(body)
	}
}

// sfBool parses a Structured Field Boolean (RFC 8941 3.3.6: ?0 or ?1).
// No draft defines parameters on the completeness header, so none are
// taken.
func sfBool(v string) (value, ok bool) {
	switch v {
	case "?1":
		return true, true
	case "?0":
		return false, true
	}
	return false, false
}

// A Structured Field Integer has at most 15 digits (RFC 8941 3.3.1), which
// keeps every offset and length, and their sums, inside int64.
const (
	maxSFDigits  = 15
	maxSFInteger = 999_999_999_999_999
)

// sfNonNegative parses a non-negative Structured Field Integer: 1 to 15
// ASCII digits. strconv alone would also take a sign ("+5", "-0") and 19
// digits, which Upload-Offset and Upload-Length do not allow.
func sfNonNegative(v string) (int64, bool) {
	if len(v) == 0 || len(v) > maxSFDigits {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// declaredLength finds the upload length a request declares: Upload-Length
// (in versions that have it), or with the request completing the upload
// the offset plus Content-Length. When both are present they must agree.
func declaredLength(r *http.Request, d *draft, complete bool, offset int64) (length int64, known bool, err error) {
	if v := r.Header.Get("Upload-Length"); v != "" && d.uploadLength {
		length, known = sfNonNegative(v)
		if !known && !d.ignoreInvalid {
			return 0, false, errors.New("Upload-Length must be a non-negative integer")
		}
	}
	if complete && r.ContentLength >= 0 {
		if r.ContentLength > maxSFInteger-offset {
			return 0, false, errors.New("Content-Length past the largest upload length")
		}
		if known && length != offset+r.ContentLength {
			return 0, false, errors.New("Upload-Length and Content-Length disagree")
		}
		length, known = offset+r.ContentLength, true
	}
	return length, known, nil
}

// storeContext is the context stores run in: it outlives the request by
// GracefulCompletion, so an interrupted request still saves what it got,
// exactly as tusd's delayed context does.
func (h *Handler) storeContext(r *http.Request) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	stop := context.AfterFunc(r.Context(), func() { time.AfterFunc(h.cfg.GracefulCompletion, cancel) })
	return ctx, func() { stop(); cancel() }
}

func hookEvent(ctx context.Context, r *http.Request, info handler.FileInfo) handler.HookEvent {
	return handler.HookEvent{Context: ctx, Upload: info, HTTPRequest: handler.HTTPRequest{
		Method: r.Method, URI: r.RequestURI, RemoteAddr: r.RemoteAddr, Header: r.Header.Clone(),
	}}
}

// heldLock is an upload lock taken through the shared locker. The holder
// learns what to stop (the body being read) only after taking the lock, so
// a release request that came first is replayed then.
type heldLock struct {
	lock     handler.Lock
	mu       sync.Mutex
	released bool
	stop     func()
}

func (h *Handler) lock(r *http.Request, id string) (*heldLock, error) {
	l, err := h.locker.NewLock(id)
	if err != nil {
		return nil, lockError(err)
	}
	hl := &heldLock{lock: l}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.AcquireLockTimeout)
	defer cancel()
	if err := l.Lock(ctx, hl.requestRelease); err != nil {
		return nil, lockError(err)
	}
	return hl, nil
}

// lockUpload takes the upload's lock and loads it; the caller unlocks.
func (h *Handler) lockUpload(ctx context.Context, r *http.Request, id string) (*heldLock, handler.Upload, handler.FileInfo, error) {
	lock, err := h.lock(r, id)
	if err != nil {
		return nil, nil, handler.FileInfo{}, err
	}
	up, err := h.store.GetUpload(ctx, id)
	if err == nil {
		var info handler.FileInfo
		if info, err = up.GetInfo(ctx); err == nil {
			return lock, up, info, nil
		}
	}
	lock.unlock()
	return nil, nil, handler.FileInfo{}, err
}

func (l *heldLock) requestRelease() {
	l.mu.Lock()
	l.released = true
	stop := l.stop
	l.mu.Unlock()
	if stop != nil {
		stop()
	}
}

func (l *heldLock) onRelease(stop func()) {
	l.mu.Lock()
	l.stop = stop
	released := l.released
	l.mu.Unlock()
	if released {
		stop()
	}
}

func (l *heldLock) unlock() { l.lock.Unlock() }
