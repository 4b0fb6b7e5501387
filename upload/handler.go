package upload

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/courier-chat/courier"
)

// Handler serves /v1/uploads/: tus 1.0 and the IETF resumable upload draft
// (interop versions 3–6 through tusd, 7 and 8 through draft.go), on one
// set of uploads, hooks and locks. Mount it behind authentication: every
// request needs the device in its context.
type Handler struct {
	cfg     Config
	uploads Uploads
	leases  Leases
	store   *store
	blobs   courier.BlobStore
	objects Objects
	jobs    Jobs
	bucket  string
	locker  handler.Locker
	tus     *handler.UnroutedHandler
	tusMux  http.Handler
	log     *slog.Logger
}

// New builds the handler and tusd under it.
func New(cfg Config, deps Deps) (*Handler, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	h := &Handler{
		cfg: cfg, uploads: deps.Uploads, leases: deps.Leases, blobs: deps.Blobs, objects: deps.Objects, jobs: deps.Jobs,
		bucket: deps.S3.Bucket, locker: deps.Locker, log: cfg.Logger.With("component", "upload"),
	}
	h.store = &store{s3: newS3Store(deps.S3, &cfg), uploads: h.uploads, finish: h.finishStored}
	composer := handler.NewStoreComposer()
	h.store.useIn(composer)
	composer.UseLocker(gatedLocker{deps.Locker})
	tus, err := handler.NewUnroutedHandler(handler.Config{
		StoreComposer:                    composer,
		BasePath:                         cfg.BasePath,
		MaxSize:                          max(cfg.MaxPlain, cfg.MaxE2E),
		EnableExperimentalProtocol:       false, // draft.go serves the draft
		DisableDownload:                  true,  // downloads are /v1/media, with access checks
		DisableConcatenation:             true,
		RespectForwardedHeaders:          true,
		PreUploadCreateCallback:          h.preCreate,
		PreFinishResponseCallback:        h.preFinish,
		PreUploadTerminateCallback:       h.preTerminate,
		NetworkTimeout:                   cfg.NetworkTimeout,
		AcquireLockTimeout:               cfg.AcquireLockTimeout,
		GracefulRequestCompletionTimeout: cfg.GracefulCompletion,
		Logger:                           tusdLogger(h.log),
	})
	if err != nil {
		return nil, fmt.Errorf("tusd: %w", err)
	}
	h.tus = tus
	h.tusMux = tus.Middleware(http.HandlerFunc(h.routeTus))
	return h, nil
}

// ServeHTTP checks ownership, answers repeated creations by idempotency
// key, and routes to tusd or to the draft handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := courier.DeviceFromContext(r.Context())
	if d == nil && r.Method != http.MethodOptions {
		writeError(w, r, courier.Errorf(courier.EUNAUTHORIZED, "authentication required"))
		return
	}
	if !h.cfg.trustedProxy(r.RemoteAddr) {
		// Upload URLs follow forwarded headers (here and in tusd) only
		// from a configured proxy.
		r = r.Clone(r.Context())
		for _, k := range []string{"Forwarded", "X-Forwarded-Host", "X-Forwarded-Proto"} {
			r.Header.Del(k)
		}
	}
	id := strings.Trim(strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(h.cfg.BasePath, "/")), "/")
	draft, known := draftOf(r)
	if !known {
		// No 104 for a version Courier does not speak (every draft says
		// so); the client learns which ones it does.
		writeProblem(w, r, http.StatusBadRequest, "", "unsupported Upload-Draft-Interop-Version: Courier speaks 3 to 8", nil)
		return
	}
	if id == "" {
		if r.Method == http.MethodPost && h.answerRepeat(w, r, d, draft) {
			return
		}
	} else {
		if r.Method == http.MethodOptions {
			writeError(w, r, courier.Errorf(courier.ENOTFOUND, "upload not found"))
			return
		}
		// Unknown, someone else's, expired and cancelled uploads all look
		// the same: not found. An active upload past its expiry is expired
		// already, swept or not: a PATCH must not revive what the sweeper
		// is about to delete.
		var u *courier.Upload
		var err error
		if courier.ValidID(id) {
			u, err = h.uploads.Upload(r.Context(), id)
		}
		if err != nil && courier.ErrorCode(err) != courier.ENOTFOUND {
			// The database is down: the upload may well be there, and a
			// 404 would make the phone give it up.
			writeError(w, r, classify("database", err))
			return
		}
		if u == nil || u.OwnerID != d.UserID || (u.State == courier.UploadExpired || u.State == courier.UploadTerminated) ||
			(u.State == courier.UploadActive && !u.ExpiresAt.After(time.Now())) {
			writeError(w, r, courier.Errorf(courier.ENOTFOUND, "upload not found"))
			return
		}
		if u.State == courier.UploadActive && r.Method == http.MethodPatch {
			h.extendExpiry(r.Context(), u)
		}
		r = r.WithContext(withRow(r.Context(), u))
		if u.State == courier.UploadActive {
			w.Header().Set("Upload-Expires", u.ExpiresAt.UTC().Format(http.TimeFormat))
		}
	}
	if draft != nil {
		h.serveDraft(w, r, id, draft)
		return
	}
	// tusd wants the path relative to its base path.
	ctx, body := gateBody(r.Context(), r.Body)
	r2 := r.Clone(ctx)
	r2.Body = body
	r2.URL.Path, r2.URL.RawPath = id, ""
	sw := &safeWriter{ResponseWriter: w, method: r.Method}
	h.tusMux.ServeHTTP(sw, r2)
	sw.finish()
}

// extendExpiry moves an active upload's expiry to Expiry from now on each
// PATCH, so a long upload that keeps going (a video over a slow network,
// resumed many times) never expires under the phone; only one left alone
// for Expiry does. HEADs do not count: a client polling an abandoned
// upload does not keep it. A failure is logged, not fatal: the upload
// still has its old expiry.
func (h *Handler) extendExpiry(ctx context.Context, u *courier.Upload) {
	until := time.Now().Add(h.cfg.Expiry).Truncate(time.Second)
	step := min(h.cfg.Expiry/10, time.Minute)
	if until.Sub(u.ExpiresAt) <= step {
		return
	}
	if ok, err := h.uploads.ExtendUpload(ctx, u.ID, until, step); err != nil {
		courier.Logger(ctx).Warn("upload: extend expiry", "upload_id", u.ID, "err", err)
	} else if ok {
		u.ExpiresAt = until
	}
}

func (h *Handler) routeTus(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "":
		h.tus.PostFile(w, r)
	case r.Method == http.MethodHead && r.URL.Path != "":
		h.tus.HeadFile(w, r)
	case r.Method == http.MethodPatch && r.URL.Path != "":
		h.tus.PatchFile(w, r)
	case r.Method == http.MethodDelete && r.URL.Path != "":
		h.tus.DelFile(w, r)
	default:
		w.Header().Set("Allow", "OPTIONS, POST, HEAD, PATCH, DELETE")
		writeError(w, r, courier.Errorf(courier.EINVALID, "method %s not allowed here", r.Method))
	}
}

// answerRepeat answers a creation whose idempotency key the user has used
// before with the upload it created then: the same Location and its
// current offset, so an iOS background task retried by the system resumes
// instead of starting a second upload. The request body is not read.
func (h *Handler) answerRepeat(w http.ResponseWriter, r *http.Request, d *courier.Device, dr *draft) bool {
	key := r.Header.Get("Idempotency-Key")
	if m, err := ParseMetadataHeader(r.Header.Get("Upload-Metadata")); err == nil && m["idempotency-key"] != "" {
		key = m["idempotency-key"]
	}
	key = strings.Trim(key, `"`)
	if key == "" {
		return false
	}
	u, err := h.uploads.UploadByIdempotencyKey(r.Context(), d.UserID, key)
	if err != nil && courier.ErrorCode(err) != courier.ENOTFOUND {
		writeError(w, r, classify("database", err))
		return true
	}
	if err != nil || (u.State == courier.UploadExpired || u.State == courier.UploadTerminated) {
		return false // new, or the earlier one is gone: create afresh
	}
	ctx := withRow(r.Context(), u)
	// Loading finishes an upload whose finish was cut short.
	up, err := h.store.GetUpload(ctx, u.ID)
	if isNotFound(err) {
		return false // its creation failed half-way: create afresh
	} else if err != nil {
		writeError(w, r, err)
		return true
	}
	if u, err = h.uploads.Upload(ctx, u.ID); err != nil {
		writeError(w, r, classify("database", err))
		return true
	}
	info, err := up.GetInfo(ctx)
	if err != nil {
		writeError(w, r, err)
		return true
	}
	hdr := w.Header()
	hdr.Set("Location", absURL(r, h.cfg.BasePath+u.ID))
	hdr.Set("Upload-Offset", strconv.FormatInt(info.Offset, 10))
	hdr.Set("Courier-Idempotent-Replay", "true")
	if u.State == courier.UploadActive {
		hdr.Set("Upload-Expires", u.ExpiresAt.UTC().Format(http.TimeFormat))
	}
	if dr != nil {
		hdr.Set("Upload-Draft-Interop-Version", dr.version)
		dr.setComplete(hdr, u.State == courier.UploadFinished)
	} else {
		hdr.Set("Tus-Resumable", "1.0.0")
	}
	if !info.SizeIsDeferred && (dr == nil || dr.uploadLength) {
		hdr.Set("Upload-Length", strconv.FormatInt(info.Size, 10))
	}
	// Unread bytes must not be taken for the next request on this
	// connection.
	hdr.Set("Connection", "close")
	w.WriteHeader(http.StatusCreated)
	return true
}

// absURL makes an absolute URL for path, honouring a trusted proxy's
// forwarded host and scheme as tusd does for its Location headers
// (ServeHTTP drops them from anyone else).
func absURL(r *http.Request, path string) string {
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	if fh := r.Header.Get("X-Forwarded-Host"); fh != "" {
		host = fh
	}
	return scheme + "://" + host + path
}
