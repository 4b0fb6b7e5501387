package courier

import "time"

// UploadState is where a resumable upload is in its life.
type UploadState string

const (
	// UploadActive uploads take bytes; they count against the owner's
	// in-progress limits until they leave this state.
	UploadActive UploadState = "active"
	// UploadFinishing uploads have every byte stored; their blob row, job
	// and final state are being written. Whatever stopped that (an outage,
	// a crash) is finished by the next request on the upload or by the
	// worker's reconciler.
	UploadFinishing UploadState = "finishing"
	// UploadFinished uploads are blobs.
	UploadFinished UploadState = "finished"
	// UploadExpired uploads were left unfinished past their expiry.
	UploadExpired UploadState = "expired"
	// UploadTerminated uploads were cancelled, or removed because their
	// bytes failed a check (sha256, size).
	UploadTerminated UploadState = "terminated"
)

// Upload is one resumable upload: who owns it, for limits and ownership
// checks, and where its bytes are in the store. Its ID becomes the blob ID.
type Upload struct {
	ID             string
	OwnerID        string
	IdempotencyKey string // "" when the client sent none
	Mode           BlobMode
	Size           int64 // -1 while the length is deferred
	State          UploadState
	MultipartID    string // the S3 multipart upload holding the bytes
	ExpiresAt      time.Time
}

// UploadLimits bound what one user may have in progress.
type UploadLimits struct {
	MaxCount int   // unfinished uploads
	MaxBytes int64 // their declared sizes, summed
	// MaxPlain and MaxE2E are the largest upload per mode: an upload
	// whose length is deferred counts as its mode's maximum.
	MaxPlain, MaxE2E int64
}
