package client_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/courier-chat/courier/client"
)

// A message goes pending → sent → delivered → read on the sender's side
// as the recipient's device stores it (automatic delivered receipt) and
// the recipient marks it read; the recipient's list shows it unread until
// then.
func TestClient_StatesFollowReceipts(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	alice, bob := newAccount(t, srv.URL(), "alice"), newAccount(t, srv.URL(), "bob")
	alice.Start()
	alice.waitOnline()
	conv, err := alice.CreateDirect(ctx, bob.acct.UserID)
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
	sent := waitEvent(alice, "sent", func(e client.StateEvent) bool { return e.MessageID == m.ID && e.State == client.MessageSent })
	if sent.Seq != 1 {
		t.Fatalf("first message got seq %d", sent.Seq)
	}
	alice.waitMessages(conv.ID, "sent", allIn(client.MessageSent))

	// Bob comes online: the sync brings the message, his device tells the
	// server it has it, and alice sees delivered.
	bob.Start()
	got := waitEvent(bob, "message", func(e client.MessageEvent) bool { return string(e.Message.Body) == "hello" })
	if got.Message.Seq != 1 || got.Message.SenderID != alice.acct.UserID || got.Message.State != client.MessageReceived {
		t.Fatalf("bob got %+v", got.Message)
	}
	list, err := bob.store.Conversations(ctx, bob.acct.UserID, 10)
	if err != nil || len(list) != 1 || list[0].Unread != 1 || string(list[0].LastMessage.Body) != "hello" {
		t.Fatalf("bob's list = %+v, %v; want one conversation with 1 unread", list, err)
	}
	waitEvent(alice, "delivered", func(e client.StateEvent) bool { return e.MessageID == m.ID && e.State == client.MessageDelivered })
	alice.waitMessages(conv.ID, "delivered", allIn(client.MessageDelivered))

	if err := bob.MarkRead(ctx, conv.ID, 1); err != nil {
		t.Fatal(err)
	}
	if list, _ := bob.store.Conversations(ctx, bob.acct.UserID, 10); list[0].Unread != 0 {
		t.Fatalf("after MarkRead bob's unread = %d", list[0].Unread)
	}
	waitEvent(alice, "read", func(e client.StateEvent) bool { return e.MessageID == m.ID && e.State == client.MessageRead })
	alice.waitMessages(conv.ID, "read", allIn(client.MessageRead))

	// Bob answers; his own message counts as read by him, never unread.
	bob.Send(ctx, conv.ID, []byte("hi alice"))
	waitEvent(alice, "bob's answer", func(e client.MessageEvent) bool { return e.Message.Seq == 2 })
	if list, _ := bob.store.Conversations(ctx, bob.acct.UserID, 10); list[0].Unread != 0 {
		t.Fatalf("bob's own message counts unread: %d", list[0].Unread)
	}
}

// Messages written offline wait in the store (pending, shown at once) and
// go out in order on connect; the recipient holds each exactly once.
func TestClient_OfflineOutbox(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	alice, bob := newAccount(t, srv.URL(), "alice"), newAccount(t, srv.URL(), "bob")
	alice.Start()
	alice.waitOnline()
	conv, err := alice.CreateDirect(ctx, bob.acct.UserID)
	if err != nil {
		t.Fatal(err)
	}
	alice.Close()

	// Offline: a new client on the same store, not started.
	offline := openDevice(t, alice.acct, alice.dir)
	for i := range 20 {
		if _, err := offline.Send(ctx, conv.ID, []byte(fmt.Sprint("m", i))); err != nil {
			t.Fatal(err)
		}
	}
	ms := offline.messages(conv.ID)
	if len(ms) != 20 || !allIn(client.MessagePending)(ms) || string(ms[19].Body) != "m19" {
		t.Fatalf("offline store: %s", describe(ms))
	}
	if n, _ := offline.store.Outbox().Len(ctx); n != 20 {
		t.Fatalf("outbox holds %d, want 20", n)
	}
	list, _ := offline.store.Conversations(ctx, alice.acct.UserID, 10)
	if len(list) != 1 || string(list[0].LastMessage.Body) != "m19" {
		t.Fatalf("offline list: %+v", list)
	}

	offline.Start()
	bob.Start()
	ms = bob.waitMessages(conv.ID, "20 messages", func(ms []client.Message) bool { return len(ms) == 20 })
	for i, m := range ms {
		if m.Seq != int64(i+1) || string(m.Body) != fmt.Sprint("m", i) {
			t.Fatalf("bob's message %d: seq %d body %q", i, m.Seq, m.Body)
		}
	}
	offline.waitMessages(conv.ID, "all delivered", allIn(client.MessageDelivered))
	if n, _ := offline.store.Outbox().Len(ctx); n != 0 {
		t.Fatalf("outbox holds %d after sending", n)
	}
}
