package upload

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strconv"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/courier-chat/courier"
)

// The IETF "Resumable Uploads for HTTP" draft, every interop version iOS
// sends (3 to 8; draft_versions.go has where they differ). tusd serves
// tus 1.0 only: its draft support follows none of the versions closely
// enough (no 201 on partial appends, no Upload-Offset on 409, no version 7
// or 8). This handler is thin: it speaks the draft's headers and drives
// the same store, locker and hooks tusd uses, so an upload is the same
// upload whichever protocol touches it.

func (h *Handler) serveDraft(w http.ResponseWriter, r *http.Request, id string, d *draft) {
	w.Header().Set("Upload-Draft-Interop-Version", d.version)
	switch {
	case r.Method == http.MethodOptions:
		if d.acceptPatch {
			w.Header().Set("Accept-Patch", "application/partial-upload")
		}
		d.setLimit(w.Header(), max(h.cfg.MaxPlain, h.cfg.MaxE2E), h.cfg.Expiry.Seconds())
		w.WriteHeader(http.StatusNoContent)
	case id == "" && r.Method == http.MethodPost:
		h.draftCreate(w, r, d)
	case id != "" && r.Method == http.MethodHead:
		h.draftHead(w, r, id, d)
	case id != "" && r.Method == http.MethodPatch:
		h.draftAppend(w, r, id, d)
	case id != "" && r.Method == http.MethodDelete:
		h.draftCancel(w, r, id, d)
	default:
		w.Header().Set("Allow", "OPTIONS, POST, HEAD, PATCH, DELETE")
		writeError(w, r, courier.Errorf(courier.EINVALID, "method %s not allowed here", r.Method))
	}
}

func (h *Handler) draftCreate(w http.ResponseWriter, r *http.Request, d *draft) {
	complete, ok := d.requestComplete(r)
	if !ok {
		d.problem(w, r, 400, "", d.completeHeader()+" must be ?0 or ?1", nil)
		return
	}
	if r.Header.Get("Upload-Offset") != "" {
		d.problem(w, r, 400, "", "a creation carries no Upload-Offset", nil)
		return
	}
	info := handler.FileInfo{MetaData: handler.MetaData{}}
	if length, known, err := declaredLength(r, d, complete, 0); err != nil {
		d.problem(w, r, 400, problemLength, err.Error(), nil)
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
	hdr := w.Header()
	for k, v := range resp.Header {
		hdr.Set(k, v)
	}
	hdr.Set("Location", absURL(r, h.cfg.BasePath+info.ID))
	d.setLimit(hdr, h.cfg.maxFor(info.MetaData["mode"]), h.cfg.Expiry.Seconds())
	w.WriteHeader(104) // Upload Resumption Supported: the phone may now resume
	// Progress 104s carry no Location; the final response names the
	// upload again.
	final := http.Header{}
	for _, k := range []string{"Location", "Upload-Limit"} {
		if v := hdr.Get(k); v != "" {
			final.Set(k, v)
			hdr.Del(k)
		}
	}
	lock, err := h.lock(r, info.ID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer lock.unlock()
	h.appendBody(w, r, ctx, d, lock, up, info, complete, http.StatusCreated, final)
}

func (h *Handler) draftHead(w http.ResponseWriter, r *http.Request, id string, d *draft) {
	if d.strictHead && h.hasUploadFields(r, d) {
		d.problem(w, r, 400, "", "HEAD carries no Upload-Offset, "+d.completeHeader()+" or Upload-Length", nil)
		return
	}
	lock, _, info, err := h.lockUpload(r.Context(), r, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer lock.unlock()
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("Upload-Offset", strconv.FormatInt(info.Offset, 10))
	d.setComplete(hdr, isComplete(info))
	if !info.SizeIsDeferred && d.uploadLength {
		hdr.Set("Upload-Length", strconv.FormatInt(info.Size, 10))
	}
	d.setLimit(hdr, h.cfg.maxFor(info.MetaData["mode"]), h.cfg.Expiry.Seconds())
	w.WriteHeader(http.StatusNoContent)
}

// hasUploadFields reports whether a HEAD or DELETE carries fields only
// creations and appends may carry.
func (h *Handler) hasUploadFields(r *http.Request, d *draft) bool {
	return r.Header.Get("Upload-Offset") != "" || r.Header.Get(d.completeHeader()) != "" ||
		(d.uploadLength && r.Header.Get("Upload-Length") != "")
}

func (h *Handler) draftAppend(w http.ResponseWriter, r *http.Request, id string, d *draft) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); d.partialType && mt != "application/partial-upload" {
		d.problem(w, r, http.StatusUnsupportedMediaType, "", "appending needs Content-Type: application/partial-upload", nil)
		return
	}
	offset, offsetOK := sfNonNegative(r.Header.Get("Upload-Offset"))
	complete, ok := d.requestComplete(r)
	if !ok && !d.incomplete { // -01: an append without Upload-Incomplete completes the upload
		d.problem(w, r, 400, "", "Upload-Offset and "+d.completeHeader()+" are required", nil)
		return
	} else if !ok {
		complete = true
	}
	if !offsetOK {
		d.problem(w, r, 400, "", "Upload-Offset must be a non-negative integer", nil)
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
	hdr := w.Header()
	if isComplete(info) {
		typ := problemCompleted
		if d.completedLength && r.ContentLength != 0 {
			typ = problemLength // content past the end of a complete upload
		}
		d.problem(w, r, 400, typ, "the upload is complete", nil)
		return
	}
	if offset != info.Offset {
		hdr.Set("Upload-Offset", strconv.FormatInt(info.Offset, 10))
		d.setComplete(hdr, false)
		d.problem(w, r, http.StatusConflict, problemOffset, "Upload-Offset does not match the upload",
			map[string]any{"expected-offset": info.Offset, "provided-offset": offset})
		return
	}
	if length, known, err := declaredLength(r, d, complete, offset); err != nil || (known && !info.SizeIsDeferred && length != info.Size) {
		d.setComplete(hdr, false)
		d.problem(w, r, 400, problemLength, "upload length differs from the one declared before", nil)
		return
	} else if known && info.SizeIsDeferred {
		if length > h.cfg.maxFor(info.MetaData["mode"]) {
			d.setComplete(hdr, false)
			d.problem(w, r, http.StatusRequestEntityTooLarge, "", "upload over the size limit", nil)
			return
		}
		if err := h.store.AsLengthDeclarableUpload(up).DeclareLength(ctx, length); err != nil {
			writeError(w, r, err)
			return
		}
		info.Size, info.SizeIsDeferred = length, false
	}
	status := http.StatusNoContent
	if d.createdAppend {
		status = http.StatusCreated
	}
	h.appendBody(w, r, ctx, d, lock, up, info, complete, status, nil)
}

// appendBody writes the request body at info.Offset and answers, with the
// headers in final: the finished blob when the request completes the
// upload and every byte arrived, otherwise the new offset with okStatus.
func (h *Handler) appendBody(w http.ResponseWriter, r *http.Request, ctx context.Context, d *draft, lock *heldLock, up handler.Upload, info handler.FileInfo, complete bool, okStatus int, final http.Header) {
	hdr := w.Header()
	room := h.cfg.maxFor(info.MetaData["mode"]) - info.Offset
	if !info.SizeIsDeferred {
		room = info.Size - info.Offset
	}
	if r.ContentLength > room {
		d.setComplete(hdr, false)
		if info.SizeIsDeferred {
			d.problem(w, r, http.StatusRequestEntityTooLarge, "", "upload over the size limit", nil)
		} else {
			d.problem(w, r, http.StatusBadRequest, problemLength, "request content goes past the upload length", nil)
		}
		return
	}
	body := newBodyReader(r.Body, room, w, h.cfg.NetworkTimeout)
	lock.onRelease(body.release)
	var stopProgress func()
	if d.progress {
		stopProgress = h.sendProgress(w, d, info.Offset, body)
	}
	n, err := up.WriteChunk(ctx, info.Offset, body)
	if stopProgress != nil {
		stopProgress()
	}
	for k, v := range final {
		hdr[k] = v
	}
	info.Offset += n
	hdr.Set("Upload-Offset", strconv.FormatInt(info.Offset, 10))
	if err != nil {
		// The store failed (S3 down): what it saved is saved.
		d.setComplete(hdr, false)
		writeError(w, r, err)
		return
	}
	if errors.Is(body.Err(), errPastLength) {
		// The drafts: stop at the length, refuse the request, and take the
		// upload out of service; which bytes the client meant is unknown.
		h.discard(ctx, info.ID)
		hdr.Del("Upload-Offset")
		d.setComplete(hdr, false)
		if info.SizeIsDeferred {
			d.problem(w, r, http.StatusRequestEntityTooLarge, "", "upload over the size limit; removed", nil)
		} else {
			d.problem(w, r, http.StatusBadRequest, problemLength, "request content goes past the upload length; the upload was removed", nil)
		}
		return
	}
	if err := body.Err(); err != nil {
		// What arrived is saved; the phone resumes from the new offset.
		courier.Logger(r.Context()).Info("draft upload interrupted", "upload_id", info.ID, "offset", info.Offset, "err", err)
		d.setComplete(hdr, false)
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
		d.setComplete(hdr, false)
		d.problem(w, r, 400, problemLength, d.completeHeader()+" says complete but bytes are missing", nil)
		return
	}
	if !complete || info.Offset != info.Size {
		d.setComplete(hdr, false)
		w.WriteHeader(okStatus)
		return
	}
	h.draftFinish(w, r, ctx, d, up, info)
}

// draftFinish finishes the upload and answers with the blob: the draft's
// final response is what the target resource answers for the whole
// representation.
func (h *Handler) draftFinish(w http.ResponseWriter, r *http.Request, ctx context.Context, d *draft, up handler.Upload, info handler.FileInfo) {
	hdr := w.Header()
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
		writeError(w, r, classify("database", err))
		return
	}
	d.setComplete(hdr, true)
	hdr.Set("Content-Type", "application/json")
	w.WriteHeader(d.finalStatus)
	json.NewEncoder(w).Encode(blob)
}

func (h *Handler) draftCancel(w http.ResponseWriter, r *http.Request, id string, d *draft) {
	if d.strictHead && h.hasUploadFields(r, d) {
		d.problem(w, r, 400, "", "DELETE carries no Upload-Offset, "+d.completeHeader()+" or Upload-Length", nil)
		return
	}
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
