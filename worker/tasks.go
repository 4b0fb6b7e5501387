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
		asynq.MaxRetry(8), asynq.Timeout(15*time.Minute), asynq.Retention(24*time.Hour)), nil
}
