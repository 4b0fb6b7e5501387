package upload

import (
	"context"
	"io"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/s3"
)

// The services the endpoint stands on, each the narrow slice it calls,
// declared here and plugged in by cmd/courier (as messaging/ does): the
// uploads table (postgres.UploadStore), leases (redis.Leases), the job
// queue (worker.BlobJobs), Courier's S3 adapter, blob rows, and the
// cross-node lock (upload/redislock).

// Uploads is the uploads table.
type Uploads interface {
	Upload(ctx context.Context, id string) (*courier.Upload, error)
	UploadByIdempotencyKey(ctx context.Context, ownerID, key string) (*courier.Upload, error)
	CreateUpload(ctx context.Context, u *courier.Upload, limits courier.UploadLimits) error
	SetUploadMultipartID(ctx context.Context, id, multipartID string) error
	SetUploadSize(ctx context.Context, id string, size int64) error
	// MoveUpload changes the state if it is one of from, and reports
	// whether it did.
	MoveUpload(ctx context.Context, id string, to courier.UploadState, from ...courier.UploadState) (bool, error)
	ExtendUpload(ctx context.Context, id string, until time.Time, step time.Duration) (bool, error)
	ExpiredUploads(ctx context.Context, limit int) ([]*courier.Upload, error)
	RetireUpload(ctx context.Context, u *courier.Upload) error
	// StrandedUploads lists uploads finishing for longer than age.
	StrandedUploads(ctx context.Context, age time.Duration, limit int) ([]*courier.Upload, error)
}

// Leases hand one node a round of background work (the sweep).
type Leases interface {
	TryLease(ctx context.Context, name string, ttl time.Duration) (bool, error)
}

// Jobs queues the processing of finished plain blobs.
type Jobs interface {
	// EnqueueBlob queues blobID's processing. A blob already queued, or
	// already processed, is not an error: finishing is retried, and every
	// retry enqueues again.
	EnqueueBlob(ctx context.Context, blobID string) error
}

// Objects is the slice of Courier's S3 adapter uploads use outside tusd:
// reading a finished object back for sha256, and sweeping leftovers.
type Objects interface {
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	Remove(ctx context.Context, key string) error
}

// Deps are the services a Handler works with.
type Deps struct {
	Uploads Uploads
	Leases  Leases
	S3      s3.Config // for tusd's s3store (aws-sdk-go-v2)
	Objects Objects   // Courier's minio-go adapter on the same bucket
	Blobs   courier.BlobStore
	Jobs    Jobs
	Locker  handler.Locker // shared by every request on this node (redislock)
}

type rowContextKey struct{}

// withRow returns ctx carrying the upload row the ownership check loaded,
// so the store need not load it again.
func withRow(ctx context.Context, u *courier.Upload) context.Context {
	return context.WithValue(ctx, rowContextKey{}, u)
}

func rowFromContext(ctx context.Context, id string) *courier.Upload {
	if u, ok := ctx.Value(rowContextKey{}).(*courier.Upload); ok && u.ID == id {
		return u
	}
	return nil
}
