package upload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/courier-chat/courier"
)

// The hooks below are tusd's callbacks, and the draft handler calls the
// same ones, so every protocol version validates, limits and finishes
// uploads alike.

// preCreate validates metadata and limits, reserves the uploads row and
// assigns the upload ID, which will be the blob ID.
func (h *Handler) preCreate(hook handler.HookEvent) (handler.HTTPResponse, handler.FileInfoChanges, error) {
	var none handler.FileInfoChanges
	d := courier.DeviceFromContext(hook.Context)
	if d == nil {
		return handler.HTTPResponse{}, none, tusError(courier.Errorf(courier.EUNAUTHORIZED, "no device"))
	}
	ietf := hook.HTTPRequest.Header.Get("Upload-Draft-Interop-Version") != ""
	md, err := requestMetadata(hook.Upload.MetaData, hook.HTTPRequest.Header, ietf)
	if err != nil {
		return handler.HTTPResponse{}, none, tusError(err)
	}
	limit := h.cfg.maxFor(string(md.Mode))
	if !hook.Upload.SizeIsDeferred && hook.Upload.Size > limit {
		return handler.HTTPResponse{}, none, tusError(courier.Errorf(courier.ETOOLARGE,
			"%s uploads are limited to %d bytes", md.Mode, limit))
	}
	u := &courier.Upload{
		ID:             courier.NewID(),
		OwnerID:        d.UserID,
		IdempotencyKey: md.IdempotencyKey,
		Mode:           md.Mode,
		Size:           hook.Upload.Size,
		ExpiresAt:      time.Now().Add(h.cfg.Expiry).Truncate(time.Second),
	}
	if hook.Upload.SizeIsDeferred {
		u.Size = -1
	}
	limits := courier.UploadLimits{MaxCount: h.cfg.MaxInProgress, MaxBytes: h.cfg.MaxBytesInProgress,
		MaxPlain: h.cfg.MaxPlain, MaxE2E: h.cfg.MaxE2E}
	if err := h.uploads.CreateUpload(hook.Context, u, limits); err != nil {
		return handler.HTTPResponse{}, none, tusError(err)
	}
	resp := handler.HTTPResponse{Header: handler.HTTPHeader{"Upload-Expires": u.ExpiresAt.UTC().Format(http.TimeFormat)}}
	return resp, handler.FileInfoChanges{ID: u.ID, MetaData: md.tus()}, nil
}

// tus returns the metadata as stored in the upload's .info, normalised.
func (md Metadata) tus() handler.MetaData {
	m := handler.MetaData{"filename": md.Filename, "filetype": md.Filetype, "mode": string(md.Mode)}
	if md.SHA256 != "" {
		m["sha256"] = md.SHA256
	}
	if md.IdempotencyKey != "" {
		m["idempotency-key"] = md.IdempotencyKey
	}
	return m
}

// preFinish runs once every byte is in S3 and the object is complete: it
// finishes the upload (finish.go). tusd calls it, and the draft handler.
func (h *Handler) preFinish(hook handler.HookEvent) (handler.HTTPResponse, error) {
	if err := h.complete(hook.Context, hook.Upload); err != nil {
		return handler.HTTPResponse{}, tusError(err)
	}
	return handler.HTTPResponse{Header: handler.HTTPHeader{"Courier-Blob-ID": hook.Upload.ID}}, nil
}

// preTerminate refuses to cancel a finished upload: its bytes are a blob
// now, which messages may already refer to.
func (h *Handler) preTerminate(hook handler.HookEvent) (handler.HTTPResponse, error) {
	ok, err := h.uploads.MoveUpload(hook.Context, hook.Upload.ID, courier.UploadTerminated, courier.UploadActive)
	if err != nil {
		return handler.HTTPResponse{}, tusError(err)
	}
	if !ok {
		return handler.HTTPResponse{}, tusError(courier.Errorf(courier.ECONFLICT, "upload is finished; it cannot be cancelled"))
	}
	return handler.HTTPResponse{}, nil
}

// discard removes an upload whose bytes must not become a blob.
func (h *Handler) discard(ctx context.Context, id string) {
	if up, err := h.store.load(ctx, id); err == nil {
		if err := h.store.AsTerminatableUpload(up).Terminate(ctx); err != nil {
			courier.Logger(ctx).Error("discard upload", "upload_id", id, "err", err)
		}
	}
	h.uploads.MoveUpload(ctx, id, courier.UploadTerminated, courier.UploadActive, courier.UploadFinishing)
}

// sha256 streams an object through SHA-256: bounded memory at any size.
func (h *Handler) sha256(ctx context.Context, key string) (string, error) {
	body, err := h.objects.Get(ctx, key, 0, 0)
	if err != nil {
		return "", err
	}
	defer body.Close()
	sum := sha256.New()
	if _, err := io.Copy(sum, body); err != nil {
		return "", err
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}
