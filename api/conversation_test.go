package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/api"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/postgres"
)

// messagingServer is an API server with the messaging routes over a real
// database, and a few users with tokens.
type messagingServer struct {
	srv   *httptest.Server
	users []messagingUser
	blobs *postgres.BlobStore
	api   *api.Server // more routes may be mounted on it
	db    *testenv.DB
	msgs  *postgres.MessageStore
}

type messagingUser struct {
	id, token string
}

func newMessagingServer(t *testing.T, users int) *messagingServer {
	t.Helper()
	db := testenv.NewDB(t)
	accounts := postgres.NewAccountService(db.Pool)
	s := api.NewServer(api.Config{}, accounts, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	msgs := postgres.NewMessageStore(db.Pool, postgres.MessageConfig{})
	t.Cleanup(func() { msgs.Close() })
	s.MountMessaging(postgres.NewConversationService(db.Pool, postgres.ConversationConfig{}), msgs)
	m := &messagingServer{srv: httptest.NewServer(s.Handler()), api: s, db: db, msgs: msgs}
	t.Cleanup(m.srv.Close)
	for range users {
		u, _, token, err := accounts.CreateAccount(context.Background(), "user", "phone")
		if err != nil {
			t.Fatal(err)
		}
		m.users = append(m.users, messagingUser{id: u.ID, token: token})
	}
	return m
}

// do sends a JSON request as user (or unauthenticated when user is nil),
// checks the status, and decodes the answer into out when given.
func (m *messagingServer) do(t *testing.T, user *messagingUser, method, path string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, m.srv.URL+path, rd)
	if user != nil {
		req.Header.Set("Authorization", "Bearer "+user.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

func TestConversationEndpoints(t *testing.T) {
	m := newMessagingServer(t, 4)
	alice, bob, carol, dave := &m.users[0], &m.users[1], &m.users[2], &m.users[3]

	var direct, again courier.Conversation
	m.do(t, alice, "POST", "/v1/conversations", map[string]any{"kind": "direct", "user_id": bob.id}, 200, &direct)
	m.do(t, bob, "POST", "/v1/conversations", map[string]any{"kind": "direct", "user_id": alice.id}, 200, &again)
	if direct.ID == "" || again.ID != direct.ID || len(direct.Members) != 2 {
		t.Fatalf("direct %+v, again %+v: want one conversation of two", direct, again)
	}
	var group courier.Conversation
	m.do(t, alice, "POST", "/v1/conversations", map[string]any{"kind": "group", "name": "trip", "members": []string{bob.id}}, 201, &group)
	if group.Name != "trip" || len(group.Members) != 2 {
		t.Fatalf("group %+v", group)
	}
	base := "/v1/conversations/" + group.ID

	// Send, resend, history.
	var sent, resent api.SentMessage
	m.do(t, bob, "POST", base+"/messages", map[string]any{"client_id": "m1", "body": []byte("hi all")}, 201, &sent)
	m.do(t, bob, "POST", base+"/messages", map[string]any{"client_id": "m1", "body": []byte("hi all")}, 200, &resent)
	if sent.Seq != 1 || resent.Seq != 1 || !resent.CreatedAt.Equal(sent.CreatedAt) {
		t.Fatalf("sent %+v, resent %+v", sent, resent)
	}
	m.do(t, alice, "POST", base+"/messages", map[string]any{"client_id": "m2", "body": []byte("hello")}, 201, nil)
	var hist api.MessageList
	m.do(t, alice, "GET", base+"/messages?after=0&limit=10", nil, 200, &hist)
	if len(hist.Messages) != 2 || string(hist.Messages[0].Body) != "hi all" || hist.Messages[1].Seq != 2 {
		t.Fatalf("history %+v", hist.Messages)
	}
	m.do(t, alice, "GET", base+"/messages?before=2", nil, 200, &hist)
	if len(hist.Messages) != 1 || hist.Messages[0].Seq != 1 {
		t.Fatalf("history before 2: %+v", hist.Messages)
	}

	// Receipts and the list's unread count.
	var rec api.ReceiptResponse
	m.do(t, bob, "POST", base+"/receipts", map[string]any{"kind": "read", "seq": 99}, 200, &rec)
	if !rec.Moved || rec.ReadSeq != 2 || rec.DeliveredSeq != 2 {
		t.Fatalf("receipt %+v: want read and delivered capped at 2", rec)
	}
	m.do(t, bob, "POST", base+"/receipts", map[string]any{"kind": "delivered", "seq": 1}, 200, &rec)
	if rec.Moved {
		t.Fatal("an old receipt moved the watermark")
	}
	var list api.ConversationList
	m.do(t, bob, "GET", "/v1/conversations?limit=1", nil, 200, &list)
	if len(list.Conversations) != 1 || list.Conversations[0].ID != group.ID || list.Conversations[0].UnreadCount != 0 || list.NextCursor == "" {
		t.Fatalf("first page %+v", list)
	}
	m.do(t, bob, "GET", "/v1/conversations?limit=1&cursor="+list.NextCursor, nil, 200, &list)
	if len(list.Conversations) != 1 || list.Conversations[0].ID != direct.ID || list.NextCursor != "" {
		t.Fatalf("second page %+v", list)
	}

	// Membership: only admins add; a removed member is cut off.
	m.do(t, bob, "POST", base+"/members", map[string]any{"members": []string{carol.id}}, 403, nil)
	var after courier.Conversation
	m.do(t, alice, "POST", base+"/members", map[string]any{"members": []string{carol.id}}, 200, &after)
	if len(after.Members) != 3 {
		t.Fatalf("members after add: %+v", after.Members)
	}
	m.do(t, alice, "DELETE", base+"/members/"+bob.id, nil, 204, nil)
	m.do(t, bob, "GET", base, nil, 404, nil)
	m.do(t, bob, "POST", base+"/messages", map[string]any{"client_id": "m3", "body": []byte("still here?")}, 404, nil)
	m.do(t, bob, "GET", base+"/messages", nil, 200, &hist) // history up to the removal
	if len(hist.Messages) != 2 {
		t.Fatalf("removed member's history: %d messages, want 2", len(hist.Messages))
	}

	// Non-members and bad requests.
	for _, tc := range []struct {
		name, method, path string
		user               *messagingUser
		body               any
		status             int
	}{
		{"no token", "GET", "/v1/conversations", nil, nil, 401},
		{"outsider reads", "GET", base, dave, nil, 404},
		{"outsider history", "GET", base + "/messages", dave, nil, 404},
		{"outsider sends", "POST", base + "/messages", dave, map[string]any{"client_id": "x", "body": []byte("x")}, 404},
		{"outsider receipt", "POST", base + "/receipts", dave, map[string]any{"kind": "read", "seq": 1}, 404},
		{"outsider adds", "POST", base + "/members", dave, map[string]any{"members": []string{dave.id}}, 404},
		{"outsider removes", "DELETE", base + "/members/" + alice.id, dave, nil, 404},
		{"unknown conversation", "GET", "/v1/conversations/" + courier.NewID(), alice, nil, 404},
		{"bad kind", "POST", "/v1/conversations", alice, map[string]any{"kind": "channel"}, 400},
		{"unknown user", "POST", "/v1/conversations", alice, map[string]any{"kind": "direct", "user_id": courier.NewID()}, 404},
		{"body too large", "POST", base + "/messages", alice, map[string]any{"client_id": "big", "body": make([]byte, courier.MaxMessageBody+1)}, 413},
		{"no client id", "POST", base + "/messages", alice, map[string]any{"body": []byte("x")}, 400},
		{"NUL in client id", "POST", base + "/messages", alice, map[string]any{"client_id": "a\x00b", "body": []byte("x")}, 400},
		{"NUL in cursor", "GET", "/v1/conversations?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("1:\x00")), alice, nil, 400},
		{"invalid UTF-8 in cursor", "GET", "/v1/conversations?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("1:\xff\xfe")), alice, nil, 400},
		{"bad after", "GET", base + "/messages?after=x", alice, nil, 400},
		{"bad limit", "GET", "/v1/conversations?limit=-1", alice, nil, 400},
		{"bad receipt kind", "POST", base + "/receipts", alice, map[string]any{"kind": "seen", "seq": 1}, 400},
		{"forbidden attachment", "POST", base + "/messages", alice, map[string]any{"client_id": "att", "attachments": []string{courier.NewID()}}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m.do(t, tc.user, tc.method, tc.path, tc.body, tc.status, nil)
		})
	}
}
