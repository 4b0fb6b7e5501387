package upload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
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
	u := &row{
		ID:        courier.NewID(),
		OwnerID:   d.UserID,
		Mode:      string(md.Mode),
		Size:      hook.Upload.Size,
		ExpiresAt: time.Now().Add(h.cfg.Expiry).Truncate(time.Second),
	}
	if hook.Upload.SizeIsDeferred {
		u.Size = -1
	}
	if md.IdempotencyKey != "" {
		u.IdemKey = &md.IdempotencyKey
	}
	if err := h.rows.create(hook.Context, u, h.cfg.MaxInProgress, h.cfg.MaxBytesInProgress, h.cfg.MaxPlain, h.cfg.MaxE2E); err != nil {
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

// errChecksum answers a sha256 mismatch. 460 is the status tus's checksum
// extension uses for the same failure.
var errChecksum = handler.NewError("ERR_CHECKSUM_MISMATCH",
	"sha256 of the received bytes does not match the sha256 metadata; the upload was removed, upload the file again", 460)

// preFinish runs once every byte is in S3: it verifies the sha256, writes
// the blob row and enqueues processing. Each step is idempotent, so a
// finish retried after a crash completes what the first one started.
func (h *Handler) preFinish(hook handler.HookEvent) (handler.HTTPResponse, error) {
	ctx, info := hook.Context, hook.Upload
	u, err := h.rows.get(ctx, info.ID)
	if err != nil {
		return handler.HTTPResponse{}, err
	}
	md, err := ParseMetadata(info.MetaData)
	if err != nil {
		return handler.HTTPResponse{}, tusError(err)
	}
	if info.Size > h.cfg.maxFor(string(md.Mode)) { // a deferred length declared too late
		h.discard(ctx, info.ID)
		return handler.HTTPResponse{}, tusError(courier.Errorf(courier.ETOOLARGE, "upload over the %s size limit; removed", md.Mode))
	}
	if md.SHA256 != "" && u.State == stateActive {
		sum, err := h.sha256(ctx, StorageKey(info.ID))
		if err != nil {
			return handler.HTTPResponse{}, err
		}
		if sum != md.SHA256 {
			courier.Logger(ctx).Warn("upload sha256 mismatch", "upload_id", info.ID, "want", md.SHA256, "got", sum)
			h.discard(ctx, info.ID)
			return handler.HTTPResponse{}, errChecksum
		}
	}
	state := courier.BlobProcessing
	if md.Mode == courier.BlobE2E {
		state = courier.BlobReady // ciphertext: nothing to process
	}
	blob := &courier.Blob{
		ID: info.ID, OwnerID: u.OwnerID, Mode: md.Mode, State: state, Size: info.Size,
		ContentType: md.Filetype, Filename: md.Filename, SHA256: md.SHA256, StorageKey: StorageKey(info.ID),
	}
	if _, err := h.blobs.CreateBlob(ctx, blob); err != nil {
		return handler.HTTPResponse{}, err
	}
	if md.Mode == courier.BlobPlain {
		if err := h.jobs.EnqueueBlob(ctx, info.ID); err != nil {
			return handler.HTTPResponse{}, err
		}
	}
	if err := h.rows.setState(ctx, info.ID, stateFinished); err != nil {
		return handler.HTTPResponse{}, err
	}
	return handler.HTTPResponse{Header: handler.HTTPHeader{"Courier-Blob-ID": info.ID}}, nil
}

// preTerminate refuses to cancel a finished upload: its bytes are a blob
// now, which messages may already refer to.
func (h *Handler) preTerminate(hook handler.HookEvent) (handler.HTTPResponse, error) {
	u, err := h.rows.get(hook.Context, hook.Upload.ID)
	if err != nil {
		return handler.HTTPResponse{}, handler.ErrNotFound
	}
	if u.State != stateActive {
		return handler.HTTPResponse{}, tusError(courier.Errorf(courier.ECONFLICT, "upload is finished; it cannot be cancelled"))
	}
	return handler.HTTPResponse{}, h.rows.setState(hook.Context, u.ID, stateTerminated)
}

// discard removes an upload whose bytes must not become a blob.
func (h *Handler) discard(ctx context.Context, id string) {
	if up, err := h.store.GetUpload(ctx, id); err == nil {
		if err := h.store.AsTerminatableUpload(up).Terminate(ctx); err != nil {
			courier.Logger(ctx).Error("discard upload", "upload_id", id, "err", err)
		}
	}
	h.rows.setState(ctx, id, stateTerminated)
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

// tusError turns a Courier error into a tusd error carrying the same JSON
// body api.Error writes, so clients parse one error format everywhere.
func tusError(err error) error {
	var e *courier.Error
	if !errors.As(err, &e) {
		return err // tusd logs it and answers 500
	}
	status := courier.HTTPStatus(e)
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": e.Code, "message": e.Message}})
	te := handler.NewError("ERR_"+strings.ToUpper(e.Code), e.Message, status)
	te.HTTPResponse.Body = string(body)
	te.HTTPResponse.Header = handler.HTTPHeader{"Content-Type": "application/json"}
	return te
}
