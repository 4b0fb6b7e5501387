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

// TypePushNotify tells an offline device about new messages.
const TypePushNotify = "push:notify"

// PushWindow is the window over which a device gets at most two pushes per
// conversation: one at once, for the first message, and one at the
// window's end if more came meanwhile (a trailing push). Task IDs are
// (device, conversation, window) and the same with ":tail", so asynq
// refuses the rest of a burst as duplicates. Each push shows the newest
// unread message when it runs, and a push whose messages were read by
// then is not sent: a burst of 50 becomes two alerts, the last showing
// the 50th message.
const PushWindow = 10 * time.Second

// PushPayload names what woke the device, never what it says: the job
// reads the content when it runs, and the log and webhook providers send
// exactly these fields.
type PushPayload struct {
	DeviceID       string `json:"device_id"`
	ConversationID string `json:"conversation_id"`
	Seq            int64  `json:"seq"`
}

// NewPushTask returns a push task with the given ID, run at processAt
// (zero for now).
func NewPushTask(p PushPayload, id string, processAt time.Time, window time.Duration) (*asynq.Task, error) {
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	opts := []asynq.Option{asynq.TaskID(id), asynq.Queue(QueueCritical), asynq.MaxRetry(6), asynq.Timeout(30 * time.Second),
		// Kept after completion for the rest of the window, so a
		// completed push still blocks a duplicate.
		asynq.Retention(window)}
	if !processAt.IsZero() {
		opts = append(opts, asynq.ProcessAt(processAt))
	}
	return asynq.NewTask(TypePushNotify, payload, opts...), nil
}

// PushTaskID is the asynq task ID of a device's first push for a
// conversation in the window of now; its trailing push adds ":tail".
func PushTaskID(deviceID, conversationID string, now time.Time, window time.Duration) string {
	return "push:" + deviceID + ":" + conversationID + ":" + strconv.FormatInt(now.UnixNano()/int64(window), 10)
}

// Enqueuer is the slice of asynq.Client pushes use.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Pusher queues pushes (messaging.PushEnqueuer).
type Pusher struct {
	Queue Enqueuer
	// Window is PushWindow unless set (tests shorten it).
	Window time.Duration
}

// EnqueuePush queues the device's push for the conversation: at once when
// the window has none yet, else a trailing push at the window's end.
func (p Pusher) EnqueuePush(ctx context.Context, deviceID, conversationID string, seq int64) error {
	window := p.Window
	if window <= 0 {
		window = PushWindow
	}
	now := time.Now()
	payload := PushPayload{DeviceID: deviceID, ConversationID: conversationID, Seq: seq}
	id := PushTaskID(deviceID, conversationID, now, window)
	first, err := NewPushTask(payload, id, time.Time{}, window)
	if err != nil {
		return err
	}
	if _, err = p.Queue.EnqueueContext(ctx, first); !isDuplicate(err) {
		return err
	}
	end := time.Unix(0, (now.UnixNano()/int64(window)+1)*int64(window))
	tail, err := NewPushTask(payload, id+":tail", end, window)
	if err != nil {
		return err
	}
	if _, err = p.Queue.EnqueueContext(ctx, tail); isDuplicate(err) {
		return nil
	}
	return err
}

func isDuplicate(err error) bool {
	return errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask)
}

// Provider delivers a content-free push: the log and webhook providers,
// for devices without an APNs or FCM registration.
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
