package upload

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/courier-chat/courier"
)

// Finishing an upload is one idempotent step that any request completes.
//
// When the last byte is stored, the upload becomes "finishing" before
// anything else happens; then the S3 multipart upload is completed, the
// sha256 checked, the blob row written, the processing job queued, and the
// upload becomes "finished". An outage or a crash can stop this anywhere.
// Whatever request touches the upload next (HEAD, a PATCH at the final
// offset, a creation replayed by idempotency key) finds it complete but
// not finished when it loads it (store.GetUpload), and runs the step again;
// every part of it tolerates having run before. The worker's reconciler
// does the same for uploads nobody comes back to (FinishStranded).

var errChecksum = handler.NewError("ERR_CHECKSUM_MISMATCH",
	"sha256 of the received bytes does not match the sha256 metadata; the upload was removed, upload the file again", 460)

// FinishUpload marks the upload finishing and completes its S3 object.
func (u *s3Upload) FinishUpload(ctx context.Context) error {
	if _, err := u.store.uploads.MoveUpload(ctx, u.id, courier.UploadFinishing, courier.UploadActive); err != nil {
		return tusError(classify("database", err))
	}
	err := u.Upload.FinishUpload(ctx)
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchUpload" && u.objectExists(ctx) {
		// Completed by an earlier finish: S3 forgets a multipart upload
		// once it is an object.
		return nil
	}
	return storeError(err)
}

func (u *s3Upload) objectExists(ctx context.Context) bool {
	_, err := u.store.s3.Service.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket: aws.String(u.store.s3.Bucket), Key: aws.String(StorageKey(u.id)),
	})
	return err == nil
}

// complete finishes an upload whose object is complete: the checks, the
// blob row, the job, the final state. Each step is idempotent.
func (h *Handler) complete(ctx context.Context, info handler.FileInfo) error {
	u, err := h.uploads.Upload(ctx, info.ID)
	if err != nil {
		return classify("database", err)
	}
	switch u.State {
	case courier.UploadFinished:
		return nil
	case courier.UploadActive, courier.UploadFinishing:
	default:
		return handler.ErrNotFound
	}
	md, err := ParseMetadata(info.MetaData)
	if err != nil {
		return err
	}
	if info.Size > h.cfg.maxFor(string(md.Mode)) { // a deferred length declared too late
		h.discard(ctx, info.ID)
		return courier.Errorf(courier.ETOOLARGE, "upload over the %s size limit; removed", md.Mode)
	}
	if md.SHA256 != "" {
		sum, err := h.sha256(ctx, StorageKey(info.ID))
		if err != nil {
			return classify("storage", err)
		}
		if sum != md.SHA256 {
			courier.Logger(ctx).Warn("upload sha256 mismatch", "upload_id", info.ID, "want", md.SHA256, "got", sum)
			h.discard(ctx, info.ID)
			return errChecksum
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
		return classify("database", err)
	}
	if md.Mode == courier.BlobPlain {
		if err := h.jobs.EnqueueBlob(ctx, info.ID); err != nil {
			return classify("job queue", err)
		}
	}
	if _, err := h.uploads.MoveUpload(ctx, info.ID, courier.UploadFinished, courier.UploadActive, courier.UploadFinishing); err != nil {
		return classify("database", err)
	}
	return nil
}

// finishStored finishes an upload found complete on load.
func (h *Handler) finishStored(ctx context.Context, up *s3Upload, info handler.FileInfo) error {
	if err := up.FinishUpload(ctx); err != nil {
		return err
	}
	return h.complete(ctx, info)
}

// strandedBatch bounds the uploads one reconciler round finishes.
const strandedBatch = 100

// FinishStranded finishes uploads that have been finishing for longer
// than age: their bytes are all stored, and whoever was finishing them
// stopped (an outage answered the client 503 and it never came back, a
// node crashed). The worker's reconciler calls it. It returns how many it
// finished.
func (h *Handler) FinishStranded(ctx context.Context, age time.Duration) (int, error) {
	stranded, err := h.uploads.StrandedUploads(ctx, age, strandedBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, u := range stranded {
		if err := h.finishOne(ctx, u); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// finishOne loads an upload under its lock; loading finishes it.
func (h *Handler) finishOne(ctx context.Context, u *courier.Upload) error {
	l, err := h.locker.NewLock(u.ID)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, h.cfg.AcquireLockTimeout)
	defer cancel()
	if err := l.Lock(lctx, func() {}); err != nil {
		return err
	}
	defer l.Unlock()
	_, err = h.store.GetUpload(withRow(ctx, u), u.ID)
	return err
}
