package api_test

import (
	"crypto/hpke"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/api"
	"github.com/courier-chat/courier/postgres"
)

// countLimit allows n requests per key, then refuses.
type countLimit struct {
	mu   sync.Mutex
	n    int
	seen map[string]int
}

func (l *countLimit) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[key]++
	return l.seen[key] <= l.n, 3 * time.Second
}

func newPushServer(t *testing.T, perToken int) (*messagingServer, *postgres.PushStore) {
	m := newMessagingServer(t, 2)
	store := postgres.NewPushStore(m.db.Pool)
	m.api.MountPush(store, m.msgs, &countLimit{n: perToken, seen: map[string]int{}}, nil)
	return m, store
}

func TestPushRegistrationAPI(t *testing.T) {
	m, _ := newPushServer(t, 100)
	me := &m.users[0]
	sk, _ := hpke.MLKEM768X25519().GenerateKey()
	reg := courier.PushRegistration{Service: "apns", Token: strings.Repeat("a1", 32), Topic: "chat.courier.app",
		Environment: "production", KEM: "xwing", PublicKey: sk.PublicKey().Bytes()}
	m.do(t, me, "GET", "/v1/push", nil, http.StatusNotFound, nil)
	var got courier.PushRegistration
	m.do(t, me, "PUT", "/v1/push", reg, http.StatusOK, &got)
	if got.Token != reg.Token || got.KEM != "xwing" || len(got.PublicKey) != len(reg.PublicKey) || got.DeviceID == "" {
		t.Fatalf("registered %+v", got)
	}
	m.do(t, me, "GET", "/v1/push", nil, http.StatusOK, &got)
	for name, edit := range map[string]func(r *courier.PushRegistration){
		"unknown service":  func(r *courier.PushRegistration) { r.Service = "sms" },
		"no topic":         func(r *courier.PushRegistration) { r.Topic = "" },
		"key of wrong kem": func(r *courier.PushRegistration) { r.KEM = "x25519" },
		"truncated key":    func(r *courier.PushRegistration) { r.PublicKey = r.PublicKey[:10] },
	} {
		bad := reg
		edit(&bad)
		var e api.ErrorBody
		m.do(t, me, "PUT", "/v1/push", bad, http.StatusBadRequest, &e)
		if e.Error.Code != courier.EINVALID {
			t.Errorf("%s: %+v", name, e)
		}
	}
	m.do(t, nil, "PUT", "/v1/push", reg, http.StatusUnauthorized, nil)
	m.do(t, me, "DELETE", "/v1/push", nil, http.StatusNoContent, nil)
	m.do(t, me, "DELETE", "/v1/push", nil, http.StatusNotFound, nil)
}

func TestMuteAPI(t *testing.T) {
	m, _ := newPushServer(t, 100)
	me := &m.users[0]
	var conv courier.Conversation
	m.do(t, me, "POST", "/v1/conversations", map[string]any{"kind": "direct", "user_id": m.users[1].id}, http.StatusOK, &conv)
	var got api.MuteResponse
	m.do(t, me, "PUT", "/v1/conversations/"+conv.ID+"/mute", map[string]any{"muted": true}, http.StatusOK, &got)
	if got.MutedUntil == nil || got.MutedUntil.Year() < 9000 {
		t.Fatalf("muted for good: %+v", got)
	}
	until := time.Now().Add(8 * time.Hour).UTC().Truncate(time.Second)
	m.do(t, me, "PUT", "/v1/conversations/"+conv.ID+"/mute", map[string]any{"muted": true, "until": until}, http.StatusOK, &got)
	if !got.MutedUntil.Equal(until) {
		t.Fatalf("muted until %v, want %v", got.MutedUntil, until)
	}
	m.do(t, me, "PUT", "/v1/conversations/"+conv.ID+"/mute", map[string]any{"muted": true, "until": time.Now().Add(-time.Hour)}, http.StatusBadRequest, nil)
	var unmuted api.MuteResponse
	m.do(t, me, "PUT", "/v1/conversations/"+conv.ID+"/mute", map[string]any{"muted": false}, http.StatusOK, &unmuted)
	if unmuted.MutedUntil != nil {
		t.Fatalf("unmuted: %+v", unmuted)
	}
	m.do(t, me, "PUT", "/v1/conversations/"+courier.NewID()+"/mute", map[string]any{"muted": true}, http.StatusNotFound, nil)
}

func TestPushAckAPI(t *testing.T) {
	m, _ := newPushServer(t, 3)
	me, other := &m.users[0], &m.users[1]
	var conv courier.Conversation
	m.do(t, other, "POST", "/v1/conversations", map[string]any{"kind": "direct", "user_id": me.id}, http.StatusOK, &conv)
	for i := range 3 {
		m.do(t, other, "POST", "/v1/conversations/"+conv.ID+"/messages", map[string]any{"client_id": string(rune('a' + i)), "body": []byte("hi")}, http.StatusCreated, nil)
	}
	token := strings.Repeat("b2", 32)
	m.do(t, me, "PUT", "/v1/push", courier.PushRegistration{Service: "apns", Token: token, Topic: "chat.courier.app",
		Environment: "sandbox"}, http.StatusOK, nil)

	// The extension acks seq 2 with its push token alone: delivered moves,
	// read does not.
	var ack api.PushAckResponse
	m.do(t, nil, "POST", "/v1/push/ack", api.PushAckRequest{PushToken: token, ConversationID: conv.ID, Seq: 2}, http.StatusOK, &ack)
	if ack.DeliveredSeq != 2 || !ack.Moved {
		t.Fatalf("ack: %+v", ack)
	}
	var view courier.Conversation
	m.do(t, other, "GET", "/v1/conversations/"+conv.ID, nil, http.StatusOK, &view)
	for _, mem := range view.Members {
		if mem.UserID == me.id && (mem.DeliveredSeq != 2 || mem.ReadSeq != 0) {
			t.Fatalf("sender sees %+v, want delivered 2, read 0", mem)
		}
	}
	// Past the last seq is capped at it.
	m.do(t, nil, "POST", "/v1/push/ack", api.PushAckRequest{PushToken: token, ConversationID: conv.ID, Seq: 99}, http.StatusOK, &ack)
	if ack.DeliveredSeq != 3 {
		t.Fatalf("ack beyond the last seq: %+v", ack)
	}
	// The token's third request in the window is refused.
	var e api.ErrorBody
	m.do(t, nil, "POST", "/v1/push/ack", api.PushAckRequest{PushToken: token, ConversationID: conv.ID, Seq: 3}, http.StatusOK, nil)
	m.do(t, nil, "POST", "/v1/push/ack", api.PushAckRequest{PushToken: token, ConversationID: conv.ID, Seq: 3}, http.StatusTooManyRequests, &e)
	if e.Error.Code != courier.ERATELIMIT {
		t.Fatalf("rate limit: %+v", e)
	}
	// Unknown tokens, bad input and other conversations learn nothing.
	m.do(t, nil, "POST", "/v1/push/ack", api.PushAckRequest{PushToken: "nobody", ConversationID: conv.ID, Seq: 1}, http.StatusUnauthorized, nil)
	m.do(t, nil, "POST", "/v1/push/ack", api.PushAckRequest{ConversationID: conv.ID, Seq: 1}, http.StatusUnauthorized, nil)
	m.do(t, nil, "POST", "/v1/push/ack", api.PushAckRequest{PushToken: "x", ConversationID: "../etc", Seq: 1}, http.StatusBadRequest, nil)
	m.do(t, nil, "POST", "/v1/push/ack", "not an object", http.StatusBadRequest, nil)
}
