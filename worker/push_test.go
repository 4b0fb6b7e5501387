package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/worker"
)

func TestPush_BurstBecomesOneTaskWithoutContent(t *testing.T) {
	rdb, _ := testenv.NewRedis(t)
	client := asynq.NewClientFromRedisClient(rdb)
	inspector := asynq.NewInspectorFromRedisClient(rdb)
	p := worker.Pusher{Queue: client}
	ctx := context.Background()
	device := courier.NewID()
	// Stay inside one window: start just after a window boundary.
	if into := time.Duration(time.Now().UnixNano() % int64(worker.PushWindow)); into > worker.PushWindow-2*time.Second {
		time.Sleep(worker.PushWindow - into + 100*time.Millisecond)
	}
	for seq := int64(1); seq <= 5; seq++ {
		if err := p.EnqueuePush(ctx, device, "conv1", seq); err != nil {
			t.Fatalf("enqueue %d: %v", seq, err)
		}
	}
	info, err := inspector.GetTaskInfo(worker.QueueCritical, worker.PushTaskID(device, time.Now()))
	if err != nil {
		t.Fatalf("task not found: %v", err)
	}
	var got map[string]any
	json.Unmarshal(info.Payload, &got)
	if len(got) != 3 || got["device_id"] != device || got["seq"] != float64(1) {
		t.Fatalf("payload %s: want exactly device_id, conversation_id, seq=1", info.Payload)
	}
	// Other devices are not collapsed into it.
	if err := p.EnqueuePush(ctx, courier.NewID(), "conv1", 6); err != nil {
		t.Fatal(err)
	}
}

func TestWebhookProvider(t *testing.T) {
	for _, tc := range []struct {
		status    int
		wantErr   bool
		permanent bool
	}{
		{200, false, false},
		{204, false, false},
		{500, true, false},
		{503, true, false},
		{429, true, false},
		{400, true, true},
		{404, true, true},
	} {
		var body string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			body = string(b)
			w.WriteHeader(tc.status)
		}))
		h := worker.PushHandler(worker.WebhookProvider{URL: srv.URL})
		payload, _ := json.Marshal(worker.PushPayload{DeviceID: "d1", ConversationID: "c1", Seq: 7})
		err := h.ProcessTask(context.Background(), asynq.NewTask(worker.TypePushNotify, payload))
		srv.Close()
		if (err != nil) != tc.wantErr || errors.Is(err, asynq.SkipRetry) != tc.permanent {
			t.Errorf("status %d: err=%v, want error %v permanent %v", tc.status, err, tc.wantErr, tc.permanent)
		}
		if !strings.Contains(body, `"device_id":"d1"`) || !strings.Contains(body, `"seq":7`) {
			t.Errorf("status %d: webhook body %q", tc.status, body)
		}
	}
	// A payload that cannot be a push is never retried.
	err := worker.PushHandler(worker.LogProvider{}).ProcessTask(context.Background(), asynq.NewTask(worker.TypePushNotify, []byte("{")))
	if !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("bad payload: %v, want SkipRetry", err)
	}
}
