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

func TestPush_BurstBecomesTwoTasksWithoutContent(t *testing.T) {
	// A database of its own: asynq's key names are fixed, and the queue
	// is counted.
	opt, perr := asynq.ParseRedisURI(testenv.NewRedisDB(t))
	if perr != nil {
		t.Fatal(perr)
	}
	client, inspector := asynq.NewClient(opt), asynq.NewInspector(opt)
	defer client.Close()
	defer inspector.Close()
	p := worker.Pusher{Queue: client}
	ctx := context.Background()
	device, conv := courier.NewID(), courier.NewID()
	// Stay inside one window: start just after a window boundary.
	if into := time.Duration(time.Now().UnixNano() % int64(worker.PushWindow)); into > worker.PushWindow-2*time.Second {
		time.Sleep(worker.PushWindow - into + 100*time.Millisecond)
	}
	for seq := int64(1); seq <= 5; seq++ {
		if err := p.EnqueuePush(ctx, device, conv, seq); err != nil {
			t.Fatalf("enqueue %d: %v", seq, err)
		}
	}
	id := worker.PushTaskID(device, conv, time.Now(), worker.PushWindow)
	first, err := inspector.GetTaskInfo(worker.QueueCritical, id)
	if err != nil {
		t.Fatalf("first push not found: %v", err)
	}
	tail, err := inspector.GetTaskInfo(worker.QueueCritical, id+":tail")
	if err != nil || tail.State != asynq.TaskStateScheduled || tail.NextProcessAt.Sub(time.Now()) > worker.PushWindow {
		t.Fatalf("trailing push: %+v, %v; want one scheduled within the window", tail, err)
	}
	for _, info := range []*asynq.TaskInfo{first, tail} {
		var got map[string]any
		json.Unmarshal(info.Payload, &got)
		if len(got) != 3 || got["device_id"] != device || got["conversation_id"] != conv {
			t.Fatalf("payload %s: want exactly device_id, conversation_id, seq", info.Payload)
		}
	}
	if n, _ := inspector.ListScheduledTasks(worker.QueueCritical); len(n) != 1 {
		t.Fatalf("%d scheduled pushes for a burst of 5, want 1 trailing", len(n))
	}
	if n, _ := inspector.ListPendingTasks(worker.QueueCritical); len(n) != 1 {
		t.Fatalf("%d pending pushes for a burst of 5, want 1", len(n))
	}
	// Other conversations and devices are not collapsed into it.
	if err := p.EnqueuePush(ctx, device, courier.NewID(), 6); err != nil {
		t.Fatal(err)
	}
	if n, _ := inspector.ListPendingTasks(worker.QueueCritical); len(n) != 2 {
		t.Fatalf("another conversation's push was collapsed (%d pending)", len(n))
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
		h := worker.NewPushHandler(worker.PushConfig{Fallback: worker.WebhookProvider{URL: srv.URL}})
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
	err := worker.NewPushHandler(worker.PushConfig{}).ProcessTask(context.Background(), asynq.NewTask(worker.TypePushNotify, []byte("{")))
	if !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("bad payload: %v, want SkipRetry", err)
	}
}
