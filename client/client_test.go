package client_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/internal/clienttest"
)

// A message goes pending → sent → delivered → read on the sender's side
// as the recipient's device stores it (automatic delivered receipt) and
// the recipient marks it read; the recipient's list shows it unread until
// then.
func TestClient_StatesFollowReceipts(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	alice, bob := clienttest.NewAccount(t, srv.URL(), "alice"), clienttest.NewAccount(t, srv.URL(), "bob")
	alice.Start()
	alice.WaitOnline()
	conv, err := alice.CreateDirect(ctx, bob.Acct.UserID)
	if err != nil {
		t.Fatal(err)
	}
	m, err := alice.Send(ctx, conv.ID, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if m.State != client.MessagePending || m.ClientID == "" {
		t.Fatalf("Send returned %+v, want pending with a client ID", m)
	}
	sent := clienttest.WaitEvent(alice, "sent", func(e client.StateEvent) bool { return e.MessageID == m.ID && e.State == client.MessageSent })
	if sent.Seq != 1 {
		t.Fatalf("first message got seq %d", sent.Seq)
	}
	alice.WaitMessages(conv.ID, "sent", clienttest.AllIn(client.MessageSent))

	// Bob comes online: the sync brings the message, his device tells the
	// server it has it, and alice sees delivered.
	bob.Start()
	got := clienttest.WaitEvent(bob, "message", func(e client.MessageEvent) bool { return string(e.Message.Body) == "hello" })
	if got.Message.Seq != 1 || got.Message.SenderID != alice.Acct.UserID || got.Message.State != client.MessageReceived {
		t.Fatalf("bob got %+v", got.Message)
	}
	list, err := bob.Store().Conversations(ctx, bob.Acct.UserID, 10)
	if err != nil || len(list) != 1 || list[0].Unread != 1 || string(list[0].LastMessage.Body) != "hello" {
		t.Fatalf("bob's list = %+v, %v; want one conversation with 1 unread", list, err)
	}
	clienttest.WaitEvent(alice, "delivered", func(e client.StateEvent) bool { return e.MessageID == m.ID && e.State == client.MessageDelivered })
	alice.WaitMessages(conv.ID, "delivered", clienttest.AllIn(client.MessageDelivered))

	if err := bob.MarkRead(ctx, conv.ID, 1); err != nil {
		t.Fatal(err)
	}
	if list, _ := bob.Store().Conversations(ctx, bob.Acct.UserID, 10); list[0].Unread != 0 {
		t.Fatalf("after MarkRead bob's unread = %d", list[0].Unread)
	}
	clienttest.WaitEvent(alice, "read", func(e client.StateEvent) bool { return e.MessageID == m.ID && e.State == client.MessageRead })
	alice.WaitMessages(conv.ID, "read", clienttest.AllIn(client.MessageRead))

	// Bob answers; his own message counts as read by him, never unread.
	bob.Send(ctx, conv.ID, []byte("hi alice"))
	clienttest.WaitEvent(alice, "bob's answer", func(e client.MessageEvent) bool { return e.Message.Seq == 2 })
	if list, _ := bob.Store().Conversations(ctx, bob.Acct.UserID, 10); list[0].Unread != 0 {
		t.Fatalf("bob's own message counts unread: %d", list[0].Unread)
	}
}

// Messages written offline wait in the store (pending, shown at once) and
// go out in order on connect; the recipient holds each exactly once.
func TestClient_OfflineOutbox(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	alice, bob := clienttest.NewAccount(t, srv.URL(), "alice"), clienttest.NewAccount(t, srv.URL(), "bob")
	alice.Start()
	alice.WaitOnline()
	conv, err := alice.CreateDirect(ctx, bob.Acct.UserID)
	if err != nil {
		t.Fatal(err)
	}
	alice.Close()

	// Offline: a new client on the same store, not started.
	offline := clienttest.Open(t, alice.Acct, alice.Dir)
	for i := range 20 {
		if _, err := offline.Send(ctx, conv.ID, []byte(fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
	}
	ms := offline.Messages(conv.ID)
	if len(ms) != 20 || !clienttest.AllIn(client.MessagePending)(ms) || string(ms[19].Body) != "m19" {
		t.Fatalf("offline store: %s", clienttest.Describe(ms))
	}
	if n, _ := offline.Store().Outbox().Len(ctx); n != 20 {
		t.Fatalf("outbox holds %d, want 20", n)
	}
	list, _ := offline.Store().Conversations(ctx, alice.Acct.UserID, 10)
	if len(list) != 1 || string(list[0].LastMessage.Body) != "m19" {
		t.Fatalf("offline list: %+v", list)
	}

	offline.Start()
	bob.Start()
	ms = bob.WaitMessages(conv.ID, "20 messages", func(ms []client.Message) bool { return len(ms) == 20 })
	for i, m := range ms {
		if m.Seq != int64(i+1) || string(m.Body) != fmt.Sprint("m", i) {
			t.Fatalf("bob's message %d: seq %d body %q", i, m.Seq, m.Body)
		}
	}
	offline.WaitMessages(conv.ID, "all delivered", clienttest.AllIn(client.MessageDelivered))
	if n, _ := offline.Store().Outbox().Len(ctx); n != 0 {
		t.Fatalf("outbox holds %d after sending", n)
	}
}
