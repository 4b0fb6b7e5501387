package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/hibiken/asynq"
	"golang.org/x/sync/semaphore"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/s3"
	"github.com/courier-chat/courier/thumbnails"
	"github.com/courier-chat/courier/transcode"
)

// ObjectStore is the slice of the S3 client the media jobs call: they read
// originals and write variants. *s3.Client is one.
type ObjectStore interface {
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (s3.ObjectInfo, error)
}

var _ ObjectStore = (*s3.Client)(nil)

// MediaConfig tunes the media jobs. The zero value is ready to use.
type MediaConfig struct {
	// Photos bounds one photo (pixels from the header, bytes). Default
	// thumbnails' defaults: 50 megapixels, 100 MiB.
	Photos thumbnails.Limits
	// Video runs ffmpeg and ffprobe: thread cap, per-run deadline, limits.
	// Default transcode's defaults (2 threads, 10 minutes a run).
	Video transcode.Config
	// DecodeMemory bounds the memory photo decoding takes in this process,
	// across jobs: before decoding, each photo (and each video's poster)
	// takes its estimate (thumbnails.Info.DecodeBytes, from the header)
	// from this budget, waits while other jobs hold too much of it, and
	// gives it back when done. A photo whose estimate alone is over the
	// budget fails as too large. So the job count (-worker-concurrency)
	// bounds small photos, and this bounds large ones: four 48 MP HEICs
	// at once would need about 2.7 GB. Default 1 GiB (six 12 MP HEICs, or
	// one 48 MP one, at a time); the heap may grow to about twice it.
	DecodeMemory int64
	// PosterTimeout bounds probing and grabbing the poster of one video,
	// so a hostile file cannot hold the media queue. Default 2 minutes.
	PosterTimeout time.Duration
	// TempDir is where this process's folder of job temp dirs,
	// courier-worker-<pid>, is made: each job's downloaded original and
	// outputs, removed when the job ends. Folders of dead workers' PIDs
	// are removed at start. Default os.TempDir().
	TempDir string
	// Logger receives one line per job outcome. Default slog.Default().
	Logger *slog.Logger
}

// MediaHandler runs the media jobs: TypeProcessBlob (photos, posters, audio
// durations) and TypeTranscodeBlob (MP4 variants). It is an asynq.Handler
// for both types.
//
// Every job is idempotent: it starts by loading the blob and does nothing
// when the work is already recorded (a duplicate or a late retry), and it
// writes variants under keys derived from the blob ID and variant name
// only, so a job killed half-way and run again overwrites what the first
// run left instead of adding to it.
type MediaHandler struct {
	objects ObjectStore
	blobs   courier.BlobStore
	events  courier.EventPublisher
	queue   Enqueuer
	cfg     MediaConfig
	tempDir string              // cfg.TempDir/courier-worker-<pid>
	decode  *semaphore.Weighted // cfg.DecodeMemory, in bytes
}

// DefaultDecodeMemory is MediaConfig.DecodeMemory's default.
const DefaultDecodeMemory = 1 << 30

// NewMediaHandler returns a handler over its dependencies; queue is where
// TypeProcessBlob enqueues the TypeTranscodeBlob of a video.
func NewMediaHandler(objects ObjectStore, blobs courier.BlobStore, events courier.EventPublisher, queue Enqueuer, cfg MediaConfig) *MediaHandler {
	if cfg.PosterTimeout <= 0 {
		cfg.PosterTimeout = 2 * time.Minute
	}
	if cfg.TempDir == "" {
		cfg.TempDir = os.TempDir()
	}
	if cfg.DecodeMemory <= 0 {
		cfg.DecodeMemory = DefaultDecodeMemory
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &MediaHandler{objects: objects, blobs: blobs, events: events, queue: queue, cfg: cfg,
		tempDir: processTempDir(cfg.TempDir, cfg.Logger), decode: semaphore.NewWeighted(cfg.DecodeMemory)}
}

// VariantKey is where a blob's variant is stored. It depends on nothing but
// its arguments, so a retried job overwrites its own earlier output.
func VariantKey(blobID, name string) string { return "variants/" + blobID + "/" + name }

// ProcessTask routes a task to the job of its type.
func (h *MediaHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p ProcessBlobPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || !courier.ValidID(p.BlobID) {
		return fmt.Errorf("media: bad payload %q: %w", t.Payload(), asynq.SkipRetry)
	}
	b, err := h.blobs.Blob(ctx, p.BlobID)
	if courier.ErrorCode(err) == courier.ENOTFOUND {
		// Deleted since the upload finished: nothing left to do.
		return fmt.Errorf("media: blob %s: %w: %w", p.BlobID, err, asynq.SkipRetry)
	} else if err != nil {
		return err // Postgres is down: retry with backoff
	}
	log := h.cfg.Logger.With("task", t.Type(), "blob_id", b.ID)
	ctx = courier.NewContextWithLogger(ctx, log)
	switch t.Type() {
	case TypeProcessBlob:
		err = h.process(ctx, b)
	case TypeTranscodeBlob:
		err = h.transcode(ctx, b)
	default:
		return fmt.Errorf("media: unknown task type %q: %w", t.Type(), asynq.SkipRetry)
	}
	return h.settle(ctx, b, err)
}

// settle turns a job's error into its outcome. Bad media (EINVALID,
// ETOOLARGE) marks the blob failed with the reason and is never retried.
// Anything else is the machine's fault (S3, Postgres or Redis down, a
// deadline, a full disk) and is retried with backoff, except on the last
// attempt, which records the failure so the blob does not stay
// "processing" for ever.
func (h *MediaHandler) settle(ctx context.Context, b *courier.Blob, err error) error {
	log := courier.Logger(ctx)
	if err == nil {
		return nil
	}
	switch courier.ErrorCode(err) {
	case courier.EINVALID, courier.ETOOLARGE:
		if ferr := h.fail(ctx, b, failReason(err)); ferr != nil {
			return ferr
		}
		log.Info("media failed", "reason", b.FailReason)
		return fmt.Errorf("media: %w: %w", err, asynq.SkipRetry)
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if retried >= maxRetry && ctx.Err() == nil {
		// The cause (an S3 or database error, with hosts and keys) is for
		// operators; the row is read by the blob's viewers.
		log.Error("media job gave up", "err", err, "retried", retried)
		if ferr := h.fail(ctx, b, "Processing kept failing; the upload may be retried."); ferr != nil {
			return ferr
		}
	}
	log.Warn("media job failed, will retry", "err", err, "retried", retried)
	return err
}

// failReason is what a failed blob says: the client-safe message of the
// coded error, then the tail of ffmpeg's stderr when ffmpeg failed.
func failReason(err error) string {
	reason := courier.ErrorMessage(err)
	var ee *transcode.ExecError
	if errors.As(err, &ee) && ee.Stderr != "" {
		reason += "\n" + ee.Stderr
	}
	const max = 4096
	if len(reason) > max {
		reason = reason[len(reason)-max:]
	}
	return reason
}

// fail records the blob as failed and tells the owner.
func (h *MediaHandler) fail(ctx context.Context, b *courier.Blob, reason string) error {
	b.State, b.FailReason = courier.BlobFailed, reason
	if err := h.blobs.FinishBlob(ctx, b); err != nil {
		return err
	}
	h.publish(ctx, b, courier.EventMediaFailed, false)
	return nil
}

// ready records the blob as ready and tells the owner.
func (h *MediaHandler) ready(ctx context.Context, b *courier.Blob, transcoding bool) error {
	b.State, b.FailReason = courier.BlobReady, ""
	if err := h.blobs.FinishBlob(ctx, b); err != nil {
		return err
	}
	h.publish(ctx, b, courier.EventMediaReady, transcoding)
	courier.Logger(ctx).Info("media ready", "variants", len(b.Variants), "transcoding", transcoding)
	return nil
}

// MediaEvent is the data of media.ready and media.failed: the blob as
// GET /v1/media/{id}/info shows it, and whether an MP4 is still coming
// (a second media.ready follows when it is written).
type MediaEvent struct {
	*courier.Blob
	Transcoding bool `json:"transcoding,omitempty"`
}

// publish tells the owner's devices. The row is the truth and is written
// first; an event lost to a Redis outage is not retried (the job is done),
// and clients that missed it see the state in /info or on their next sync.
func (h *MediaHandler) publish(ctx context.Context, b *courier.Blob, typ string, transcoding bool) {
	data, err := json.Marshal(MediaEvent{Blob: b, Transcoding: transcoding})
	if err == nil {
		err = h.events.Publish(ctx, []string{b.OwnerID}, courier.Event{Type: typ, Data: data})
	}
	if err != nil {
		courier.Logger(ctx).Warn("media event not published", "type", typ, "err", err)
	}
}
