package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// The upload reconciler: what finishing an upload leaves undone when an
// outage or a crash cuts it short, and nobody comes back to retry.
//
//   - Uploads whose bytes are all stored but whose finish stopped (state
//     "finishing"): upload.Handler.FinishStranded runs the finish again.
//   - Blobs left "processing" whose job is gone (Redis restarted without
//     persistence drops queued jobs): their job is queued again. Queuing is
//     harmless when the job still exists, queued, running or retained after
//     completion: its task ID is the blob ID, and asynq refuses the
//     duplicate.

// Finisher finishes stranded uploads (upload.Handler).
type Finisher interface {
	FinishStranded(ctx context.Context, age time.Duration) (int, error)
}

// StaleBlobs lists blobs left processing (postgres.UploadStore).
type StaleBlobs interface {
	StaleProcessingBlobs(ctx context.Context, age time.Duration, limit int) ([]string, error)
}

// Leases hand one worker node each round (redis.Leases).
type Leases interface {
	TryLease(ctx context.Context, name string, ttl time.Duration) (bool, error)
}

// Reconciler runs rounds of the upload reconciler on one worker node at a
// time.
type Reconciler struct {
	Uploads Finisher
	Blobs   StaleBlobs
	Jobs    BlobJobs
	Leases  Leases
	// Interval is the time between rounds. Default 1 minute.
	Interval time.Duration
	// Age is how long an upload may be finishing, or a blob processing
	// untouched, before a round takes it over: longer than a finish
	// takes, so a round does not race a request still finishing. Default
	// 2 minutes.
	Age time.Duration
	// Logger gets what each round did. Default slog.Default().
	Logger *slog.Logger
}

// reconcileBatch bounds the blobs one round queues again.
const reconcileBatch = 500

// Run runs a round every Interval until ctx ends.
func (r *Reconciler) Run(ctx context.Context) {
	r.defaults()
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if ok, err := r.Leases.TryLease(ctx, "upload-reconciler", r.Interval); err != nil || !ok {
			continue // another node's round, or Redis is away: the next tick retries
		}
		finished, requeued, err := r.Round(ctx)
		if err != nil {
			r.Logger.Error("upload reconciler", "err", err, "finished", finished, "requeued", requeued)
		} else if finished+requeued > 0 {
			r.Logger.Info("upload reconciler", "finished", finished, "requeued", requeued)
		}
	}
}

// Round finishes stranded uploads and queues again the lost jobs of stale
// processing blobs, and says how many of each.
func (r *Reconciler) Round(ctx context.Context) (finished, requeued int, err error) {
	r.defaults()
	finished, ferr := r.Uploads.FinishStranded(ctx, r.Age)
	ids, berr := r.Blobs.StaleProcessingBlobs(ctx, r.Age, reconcileBatch)
	errs := []error{ferr, berr}
	for _, id := range ids {
		queued, err := r.Jobs.enqueue(ctx, id)
		if err != nil {
			errs = append(errs, err)
		} else if queued {
			requeued++
		}
	}
	return finished, requeued, errors.Join(errs...)
}

func (r *Reconciler) defaults() {
	if r.Interval <= 0 {
		r.Interval = time.Minute
	}
	if r.Age <= 0 {
		r.Age = 2 * time.Minute
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
}
