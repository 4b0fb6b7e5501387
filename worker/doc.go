// Package worker holds Courier's background jobs on asynq: task types,
// payloads and constructors (tasks.go), and the handler mux that routes them
// (mux.go). The media code it calls (thumbnails, transcode) knows nothing of
// queues or buckets.
package worker
