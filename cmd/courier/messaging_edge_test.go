package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hibiken/asynq"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/worker"
)

// The refusals and limits of the gateway, against a running serve process.
func TestMessaging_RefusalsAndLimits(t *testing.T) {
	cfg := testConfig(t)
	cfg.OpenSignup, cfg.AutoMigrate = true, true
	cfg.WSSendQueue = 16
	cfg.MessageRate, cfg.MessageBurst = 1000, 1000
	p := startProcess(t, "serve", cfg)
	alice, bob, carol := createAccount(t, p, "alice"), createAccount(t, p, "bob"), createAccount(t, p, "carol")
	group := createConversation(t, p.URL, alice.Token, map[string]any{"kind": "group", "name": "g", "members": []string{bob.UserID, carol.UserID}})
	direct := createConversation(t, p.URL, alice.Token, map[string]any{"kind": "direct", "user_id": bob.UserID})
	ac, cc := newWSClient(t, p.URL, alice.Token), newWSClient(t, p.URL, carol.Token)

	// Malformed, unknown, oversized: answered with the request ID, and the
	// socket lives on. The SDK never writes such frames: a raw socket of
	// carol's does.
	raw, _, err := dialSocket(p.URL, carol.Token, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ frame, id, code string }{
		{`{"id":"a","type":`, "a", "invalid"},
		{`{"id":"b","type":"teleport"}`, "b", "invalid"},
		{`{"id":"c","type":"send","data":{"conversation_id":"` + group + `","client_id":"x","body":"` + strings.Repeat("A", 90000) + `"}}`, "c", "too_large"},
		{`{"id":"d","type":"send","data":{"body":"` + strings.Repeat("A", 300<<10) + `"}}`, "d", "too_large"},
		{`{"id":"e","type":"send","data":{"conversation_id":"` + direct + `","client_id":"x","body":"aGk="}}`, "e", ""},
	} {
		if tc.code == "" { // carol is not in alice and bob's direct chat
			tc.code = "not_found"
		}
		raw.WriteMessage(websocket.TextMessage, []byte(tc.frame))
		var f wsFrame
		raw.SetReadDeadline(time.Now().Add(10 * time.Second))
		for f.ID != tc.id {
			if err := raw.ReadJSON(&f); err != nil {
				t.Fatalf("frame %s: no answer: %v", tc.id, err)
			}
		}
		e := decodeAs[struct{ Code string }](t, f)
		if f.Type != courier.FrameError || e.Code != tc.code {
			t.Errorf("frame %s: code %q, want %q", tc.id, e.Code, tc.code)
		}
	}
	raw.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping","id":"alive"}`))
	for f := (wsFrame{}); f.ID != "alive"; {
		if err := raw.ReadJSON(&f); err != nil {
			t.Fatalf("the socket did not live on: %v", err)
		}
	}
	raw.Close()

	// Carol is removed: she receives nothing sent after.
	ac.next("sent", ac.send("send", map[string]any{"conversation_id": group, "client_id": "1", "body": []byte("before")}))
	cc.next("message", "")
	if resp := do(t, "DELETE", p.URL+"/v1/conversations/"+group+"/members/"+carol.UserID, alice.Token, nil, nil); resp.StatusCode != 204 {
		t.Fatalf("remove carol: %d", resp.StatusCode)
	}
	ac.next("sent", ac.send("send", map[string]any{"conversation_id": group, "client_id": "2", "body": []byte("after")}))
	select {
	case f := <-cc.frames:
		if f.Type == "message" {
			t.Fatalf("removed member got %s", f.Data)
		}
	case <-time.After(300 * time.Millisecond):
	}

	// Bob's second device is offline: a push job is queued for it, one per
	// window however many messages.
	var tablet account
	do(t, "POST", p.URL+"/v1/devices", bob.Token, map[string]string{"name": "tablet"}, &tablet)
	for i := range 3 {
		ac.next("sent", ac.send("send", map[string]any{"conversation_id": direct, "client_id": string(rune('a' + i)), "body": []byte("psst")}))
	}
	inspector := asynq.NewInspectorFromRedisClient(p.Redis)
	var info *asynq.TaskInfo
	for deadline := time.Now().Add(5 * time.Second); info == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		info, _ = inspector.GetTaskInfo(worker.QueueCritical, worker.PushTaskID(tablet.DeviceID, direct, time.Now(), worker.PushWindow))
	}
	if info == nil || !strings.Contains(string(info.Payload), direct) || strings.Contains(string(info.Payload), "psst") {
		t.Fatalf("push task for the offline device: %+v", info)
	}

	// A socket that stops reading is dropped once 16 frames wait for it.
	slow, _, err := dialSocket(p.URL, bob.Token, true)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping","id":"p"}`))
	slow.ReadMessage() // pong: subscribed; from now on bob reads nothing
	body := []byte(strings.Repeat("x", 60<<10))
	const sent = 300 // 18 MB: more than loopback TCP buffers hold
	for i := range sent {
		ac.next("sent", ac.send("send", map[string]any{"conversation_id": direct, "client_id": fmt.Sprint("big", i), "body": body}))
	}
	slow.SetReadDeadline(time.Now().Add(10 * time.Second))
	for got := 0; ; got++ {
		if _, _, err := slow.ReadMessage(); err != nil {
			if ce, ok := err.(*websocket.CloseError); !ok || (ce.Code != 4000 && ce.Code != websocket.CloseAbnormalClosure) {
				t.Fatalf("slow socket ended with %v after %d frames, want close 4000 or a hang-up", err, got)
			}
			if got >= sent {
				t.Fatalf("slow socket got all %d frames: never dropped", got)
			}
			break
		}
	}
}
