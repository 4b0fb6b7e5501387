package worker

import (
	"encoding/json"
	"time"

	"github.com/hibiken/asynq"
)

// Task types.
const (
	// TypeProcessBlob makes a plain blob's variants.
	TypeProcessBlob = "blob:process"
	// TypeTranscodeBlob makes a video blob's MP4 variant, on QueueVideo.
	TypeTranscodeBlob = "blob:transcode"
)

// Deadlines of one run of each job type: a photo or a poster takes seconds,
// so a stuck one is given up quickly and retried; a transcode of a long
// video may take many minutes on a busy worker.
const (
	ProcessTimeout   = 5 * time.Minute
	TranscodeTimeout = 2 * time.Hour
)

// Queues, by priority: a long transcode never delays a thumbnail.
const (
	QueueCritical = "critical" // pushes
	QueueMedia    = "media"    // photos, posters
	QueueVideo    = "video"    // transcodes
	QueueDefault  = "default"  // housekeeping
)

// Queues maps each queue to its asynq priority weight.
var Queues = map[string]int{QueueCritical: 6, QueueMedia: 4, QueueVideo: 1, QueueDefault: 2}

// ProcessBlobPayload names the blob to process.
type ProcessBlobPayload struct {
	BlobID string `json:"blob_id"`
}

// NewProcessBlobTask returns the task for a blob. Its asynq task ID is the
// blob ID, so a repeated enqueue (a retried upload finish) is refused by
// asynq with ErrTaskIDConflict instead of duplicating work.
func NewProcessBlobTask(blobID string) (*asynq.Task, error) {
	payload, err := json.Marshal(ProcessBlobPayload{BlobID: blobID})
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeProcessBlob, payload,
		asynq.TaskID("blob:"+blobID), asynq.Queue(QueueMedia),
		asynq.MaxRetry(8), asynq.Timeout(ProcessTimeout), asynq.Retention(24*time.Hour)), nil
}

// NewTranscodeBlobTask returns the MP4 task for a video blob, keyed by the
// blob ID like NewProcessBlobTask, on the low-priority video queue so that
// a long transcode never delays a thumbnail.
func NewTranscodeBlobTask(blobID string) (*asynq.Task, error) {
	payload, err := json.Marshal(ProcessBlobPayload{BlobID: blobID})
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeTranscodeBlob, payload,
		asynq.TaskID("transcode:"+blobID), asynq.Queue(QueueVideo),
		asynq.MaxRetry(5), asynq.Timeout(TranscodeTimeout), asynq.Retention(24*time.Hour)), nil
}
