package worker

import (
	"context"
	"errors"

	"github.com/hibiken/asynq"

	"github.com/courier-chat/courier"
)

// BlobJobs queues the processing of finished uploads (upload.Jobs). The
// upload endpoint knows nothing of asynq; cmd/courier plugs this in, as it
// plugs Pusher into messaging.
type BlobJobs struct{ Queue Enqueuer }

// EnqueueBlob queues a blob's processing task. The task ID is the blob ID,
// so a repeated enqueue (a retried finish, the reconciler) is refused by
// asynq as a conflict: that is "already queued", not an error. A task kept
// after completion (Retention) also conflicts, so a processed blob is not
// processed twice.
func (j BlobJobs) EnqueueBlob(ctx context.Context, blobID string) error {
	_, err := j.enqueue(ctx, blobID)
	return err
}

// enqueue reports whether the task was queued now (false: it was there).
func (j BlobJobs) enqueue(ctx context.Context, blobID string) (bool, error) {
	task, err := NewProcessBlobTask(blobID)
	if err != nil {
		return false, err
	}
	_, err = j.Queue.EnqueueContext(ctx, task)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict), errors.Is(err, asynq.ErrDuplicateTask):
		return false, nil
	case err != nil:
		// Enqueuing talks to Redis alone, and asynq's errors do not
		// always keep the network error they wrap: any failure is the
		// queue being unavailable.
		return false, courier.Unavailable("job queue", err)
	}
	return true, nil
}
