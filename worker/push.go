package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
)

// TypePushNotify wakes an offline device: "you have messages".
const TypePushNotify = "push:notify"

// PushWindow is the window over which a device gets at most one push: the
// task ID is (device, window), so the rest of a burst is refused by asynq
// as a duplicate. The push carries no content; the woken app syncs and
// gets every message of the burst.
const PushWindow = 10 * time.Second

// PushPayload names what woke the device, never what it says: the message
// body may be ciphertext only the device can read, and pushes cross third
// parties (APNs, a webhook).
type PushPayload struct {
	DeviceID       string `json:"device_id"`
	ConversationID string `json:"conversation_id"`
	Seq            int64  `json:"seq"`
}

// NewPushTask returns the push task for a device at time now.
func NewPushTask(p PushPayload, now time.Time) (*asynq.Task, error) {
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypePushNotify, payload,
		asynq.TaskID(PushTaskID(p.DeviceID, now)),
		asynq.Queue(QueueCritical), asynq.MaxRetry(6), asynq.Timeout(30*time.Second),
		// Kept after completion for the rest of the window, so a
		// completed push still blocks a duplicate.
		asynq.Retention(PushWindow)), nil
}

// PushTaskID is the asynq task ID of a device's push in the window of now.
func PushTaskID(deviceID string, now time.Time) string {
	return "push:" + deviceID + ":" + strconv.FormatInt(now.UnixNano()/int64(PushWindow), 10)
}

// Enqueuer is the slice of asynq.Client pushes use.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Pusher queues pushes (messaging.PushEnqueuer).
type Pusher struct{ Queue Enqueuer }

// EnqueuePush queues a push unless the device already has one in this
// window.
func (p Pusher) EnqueuePush(ctx context.Context, deviceID, conversationID string, seq int64) error {
	task, err := NewPushTask(PushPayload{DeviceID: deviceID, ConversationID: conversationID, Seq: seq}, time.Now())
	if err != nil {
		return err
	}
	_, err = p.Queue.EnqueueContext(ctx, task)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	return err
}

// Provider delivers a push to a device. APNs and FCM providers plug in
// here; Courier ships log and webhook.
type Provider interface {
	Push(ctx context.Context, p PushPayload) error
}

// LogProvider logs pushes: the default, for development.
type LogProvider struct{ Logger *slog.Logger }

func (l LogProvider) Push(_ context.Context, p PushPayload) error {
	l.Logger.Info("push", "device_id", p.DeviceID, "conversation_id", p.ConversationID, "seq", p.Seq)
	return nil
}

// WebhookProvider POSTs the payload as JSON to URL. A 2xx is success; a
// 4xx other than 408/429 is permanent (no retry); anything else fails the
// task, and asynq retries it with exponential backoff.
type WebhookProvider struct {
	URL    string
	Client *http.Client // default: 10 s timeout
}

func (w WebhookProvider) Push(ctx context.Context, p PushPayload) error {
	body, _ := json.Marshal(p)
	req, err := http.NewRequestWithContext(ctx, "POST", w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("push webhook: %v: %w", err, asynq.SkipRetry)
	}
	req.Header.Set("Content-Type", "application/json")
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("push webhook: %w", err)
	}
	resp.Body.Close()
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return nil
	case s >= 400 && s < 500 && s != http.StatusRequestTimeout && s != http.StatusTooManyRequests:
		return fmt.Errorf("push webhook: status %d: %w", s, asynq.SkipRetry)
	default:
		return fmt.Errorf("push webhook: status %d", s)
	}
}

// PushHandler runs push tasks with a provider.
func PushHandler(provider Provider) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		var p PushPayload
		if err := json.Unmarshal(t.Payload(), &p); err != nil || p.DeviceID == "" {
			return fmt.Errorf("push: bad payload %q: %w", t.Payload(), asynq.SkipRetry)
		}
		return provider.Push(ctx, p)
	}
}
