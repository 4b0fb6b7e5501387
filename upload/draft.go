package upload

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/courier-chat/courier"
)

// The IETF "Resumable Uploads for HTTP" draft, interop versions 7 (drafts
// -06 to -08) and 8 (-09 and later), which tusd 2.9 does not know: it would
// take such a request for a tus request without Tus-Resumable. Versions 3–6
// stay with tusd. This handler is thin: it speaks the draft's headers and
// drives the same store, locker and hooks tusd uses, so an upload is the
// same upload whichever protocol touches it.

// newDraftVersion returns "7" or "8" for requests this file serves, or "".
func newDraftVersion(r *http.Request) string {
	switch v := r.Header.Get("Upload-Draft-Interop-Version"); v {
	case "7", "8":
		return v
	}
	return ""
}

func (h *Handler) serveDraft(w http.ResponseWriter, r *http.Request, id, version string) {
	w.Header().Set("Upload-Draft-Interop-Version", version)
	switch {
	case r.Method == http.MethodOptions:
		w.Header().Set("Accept-Patch", "application/partial-upload")
		w.Header().Set("Upload-Limit", h.limits(max(h.cfg.MaxPlain, h.cfg.MaxE2E)))
		w.WriteHeader(http.StatusNoContent)
	case id == "" && r.Method == http.MethodPost:
		h.draftCreate(w, r, version)
	case id != "" && r.Method == http.MethodHead:
		h.draftHead(w, r, id, version)
	case id != "" && r.Method == http.MethodPatch:
		h.draftAppend(w, r, id, version)
	case id != "" && r.Method == http.MethodDelete:
		h.draftCancel(w, r, id)
	default:
		writeError(w, r, courier.Errorf(courier.EINVALID, "method %s not allowed here", r.Method))
	}
}

// limits is the Upload-Limit value: max-age replaced -05's "expires".
func (h *Handler) limits(maxSize int64) string {
	return "max-size=" + strconv.FormatInt(maxSize, 10) + ", max-age=" + strconv.Itoa(int(h.cfg.Expiry.Seconds()))
}

func (h *Handler) draftCreate(w http.ResponseWriter, r *http.Request, version string) {
	complete, ok := sfBool(r.Header.Get("Upload-Complete"))
	if !ok {
		writeProblem(w, r, 400, "", "Upload-Complete must be ?0 or ?1", nil)
		return
	}
	info := handler.FileInfo{MetaData: handler.MetaData{}}
	if length, known, err := declaredLength(r, complete, 0); err != nil {
		writeProblem(w, r, 400, problemLength, err.Error(), nil)
		return
	} else if known {
		info.Size = length
	} else {
		info.SizeIsDeferred = true
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		info.MetaData["filetype"] = ct
	}
	if cd := r.Header.Get("Content-Disposition"); cd != "" {
		if _, params, err := mime.ParseMediaType(cd); err == nil && params["filename"] != "" {
			info.MetaData["filename"] = params["filename"]
		}
	}
	ctx, done := h.storeContext(r)
	defer done()
	resp, changes, err := h.preCreate(hookEvent(ctx, r, info))
	if err != nil {
		writeError(w, r, err)
		return
	}
	info.ID, info.MetaData = changes.ID, changes.MetaData
	up, err := h.store.NewUpload(ctx, info)
	if err != nil {
		writeError(w, r, err)
		return
	}
	location := absURL(r, h.cfg.BasePath+info.ID)
	limit := h.limits(h.cfg.maxFor(info.MetaData["mode"]))
	hdr := w.Header()
	for k, v := range resp.Header {
		hdr.Set(k, v)
	}
	hdr.Set("Location", location)
	hdr.Set("Upload-Limit", limit)
	w.WriteHeader(104) // Upload Resumption Supported: the phone may now resume
	lock, err := h.lock(r, info.ID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer lock.unlock()
	h.appendBody(w, r, ctx, lock, up, info, complete, http.StatusCreated)
}

func (h *Handler) draftHead(w http.ResponseWriter, r *http.Request, id, version string) {
	lock, _, info, err := h.lockUpload(r.Context(), r, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer lock.unlock()
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Upload-Offset", strconv.FormatInt(info.Offset, 10))
	setComplete(hdr, version, isComplete(info))
	if !info.SizeIsDeferred {
		hdr.Set("Upload-Length", strconv.FormatInt(info.Size, 10))
	}
	hdr.Set("Upload-Limit", h.limits(h.cfg.maxFor(info.MetaData["mode"])))
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) draftAppend(w http.ResponseWriter, r *http.Request, id, version string) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/partial-upload" {
		writeProblem(w, r, http.StatusUnsupportedMediaType, "", "appending needs Content-Type: application/partial-upload", nil)
		return
	}
	offset, err := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
	complete, ok := sfBool(r.Header.Get("Upload-Complete"))
	if err != nil || offset < 0 || !ok {
		writeProblem(w, r, 400, "", "Upload-Offset and Upload-Complete are required", nil)
		return
	}
	ctx, done := h.storeContext(r)
	defer done()
	lock, up, info, err := h.lockUpload(ctx, r, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer lock.unlock()
	if isComplete(info) {
		writeProblem(w, r, 400, problemCompleted, "the upload is complete", nil)
		return
	}
	if offset != info.Offset {
		w.Header().Set("Upload-Offset", strconv.FormatInt(info.Offset, 10))
		writeProblem(w, r, http.StatusConflict, problemOffset, "Upload-Offset does not match the upload",
			map[string]any{"expected-offset": info.Offset, "provided-offset": offset})
		return
	}
	if length, known, err := declaredLength(r, complete, offset); err != nil || (known && !info.SizeIsDeferred && length != info.Size) {
		writeProblem(w, r, 400, problemLength, "upload length differs from the one declared before", nil)
		return
	} else if known && info.SizeIsDeferred {
		if length > h.cfg.maxFor(info.MetaData["mode"]) {
			writeProblem(w, r, http.StatusRequestEntityTooLarge, "", "upload over the size limit", nil)
			return
		}
		if err := h.store.AsLengthDeclarableUpload(up).DeclareLength(ctx, length); err != nil {
			writeError(w, r, err)
			return
		}
		info.Size, info.SizeIsDeferred = length, false
	}
	h.appendBody(w, r, ctx, lock, up, info, complete, http.StatusNoContent)
}

// appendBody writes the request body at info.Offset and answers: the
// finished blob when Upload-Complete was true and every byte arrived,
// otherwise the new offset with okStatus.
func (h *Handler) appendBody(w http.ResponseWriter, r *http.Request, ctx context.Context, lock *heldLock, up handler.Upload, info handler.FileInfo, complete bool, okStatus int) {
	room := h.cfg.maxFor(info.MetaData["mode"]) - info.Offset
	if !info.SizeIsDeferred {
		room = info.Size - info.Offset
	}
	if r.ContentLength > room {
		writeProblem(w, r, http.StatusRequestEntityTooLarge, problemLength, "request content goes past the upload length", nil)
		return
	}
	body := &bodyReader{r: io.LimitReader(r.Body, room), rc: http.NewResponseController(w), timeout: h.cfg.NetworkTimeout}
	lock.onRelease(body.release)
	n, err := up.WriteChunk(ctx, info.Offset, body)
	info.Offset += n
	if err == nil {
		err = body.Err()
	}
	hdr := w.Header()
	hdr.Set("Upload-Offset", strconv.FormatInt(info.Offset, 10))
	if err != nil {
		// What arrived is saved; the phone resumes from the new offset.
		courier.Logger(r.Context()).Info("draft upload interrupted", "upload_id", info.ID, "offset", info.Offset, "err", err)
		writeError(w, r, handler.ErrUploadInterrupted)
		return
	}
	if complete && info.SizeIsDeferred {
		if err := h.store.AsLengthDeclarableUpload(up).DeclareLength(ctx, info.Offset); err != nil {
			writeError(w, r, err)
			return
		}
		info.Size, info.SizeIsDeferred = info.Offset, false
	}
	if complete && info.Offset != info.Size {
		writeProblem(w, r, 400, problemLength, "Upload-Complete: ?1 but bytes are missing", nil)
		return
	}
	if !complete || info.Offset != info.Size {
		setComplete(hdr, "8", false)
		w.WriteHeader(okStatus)
		return
	}
	if err := up.FinishUpload(ctx); err != nil {
		writeError(w, r, err)
		return
	}
	resp, err := h.preFinish(hookEvent(ctx, r, info))
	if err != nil {
		writeError(w, r, err)
		return
	}
	for k, v := range resp.Header {
		hdr.Set(k, v)
	}
	blob, err := h.blobs.Blob(ctx, info.ID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	// The draft's final response is what the target resource answers
	// for the whole representation: here, the new blob.
	setComplete(hdr, "8", true)
	hdr.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(blob)
}

func (h *Handler) draftCancel(w http.ResponseWriter, r *http.Request, id string) {
	lock, up, info, err := h.lockUpload(r.Context(), r, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer lock.unlock()
	if _, err := h.preTerminate(hookEvent(r.Context(), r, info)); err != nil {
		writeError(w, r, err)
		return
	}
	if err := h.store.AsTerminatableUpload(up).Terminate(r.Context()); err != nil {
		writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func isComplete(info handler.FileInfo) bool { return !info.SizeIsDeferred && info.Offset == info.Size }

// bodyReader reads a request body with tusd's network timeout, and stops
// at once when another request asks for the upload's lock.
//
// A body that breaks (the phone lost its network, a newer request took the
// upload over) ends, for the store, in a clean io.EOF, and the cause is
// kept in err for the response. s3store must see EOF: it has already
// fetched and deleted the upload's .part tail and put it in front of the
// body, and on a read error it would drop the tail and everything read
// after it, moving the offset back. tusd's own body reader does the same.
type bodyReader struct {
	r        io.Reader
	rc       *http.ResponseController
	timeout  time.Duration
	released atomic.Bool
	mu       sync.Mutex // err is read by the handler while s3store may still read
	err      error
}

var errReleased = errors.New("upload taken over by a newer request")

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.Err() != nil {
		return 0, io.EOF
	}
	if b.released.Load() {
		b.fail(errReleased)
		return 0, io.EOF
	}
	b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.fail(err)
		err = io.EOF // what was read before the break is stored
	}
	return n, err
}

func (b *bodyReader) fail(err error) {
	b.mu.Lock()
	b.err = err
	b.mu.Unlock()
}

// Err is why the body ended early, or nil when it was read to its end.
func (b *bodyReader) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// release unblocks a Read in progress by moving the deadline to now.
func (b *bodyReader) release() {
	b.released.Store(true)
	b.rc.SetReadDeadline(time.Now())
}
