package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/courier-chat/courier/client"
)

// In a group an own message is delivered when every other member's device
// has it and read when every other member read it; Recipients shows each
// member's own view meanwhile.
func TestClient_GroupStatePerRecipient(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	alice, bob, carol := newAccount(t, srv.URL(), "alice"), newAccount(t, srv.URL(), "bob"), newAccount(t, srv.URL(), "carol")
	for _, d := range []*device{alice, bob, carol} {
		d.Start()
		d.waitOnline()
	}
	g, err := alice.CreateGroup(ctx, "trip", []string{bob.acct.UserID, carol.acct.UserID})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := alice.Send(ctx, g.ID, []byte("who brings the tent?"))
	alice.waitMessages(g.ID, "delivered to both", allIn(client.MessageDelivered))

	bob.waitMessages(g.ID, "bob has it", func(ms []client.Message) bool { return len(ms) == 1 })
	if err := bob.MarkRead(ctx, g.ID, 1); err != nil {
		t.Fatal(err)
	}
	waitEvent(alice, "bob's read receipt", func(e client.ReceiptEvent) bool { return e.UserID == bob.acct.UserID && e.ReadSeq == 1 })
	ms := alice.messages(g.ID)
	if ms[0].State != client.MessageDelivered {
		t.Fatalf("read by one of two: %s, want delivered", ms[0].State)
	}
	rs, err := alice.store.Recipients(ctx, alice.acct.UserID, &ms[0])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]client.MessageState{bob.acct.UserID: client.MessageRead, carol.acct.UserID: client.MessageDelivered}
	if len(rs) != 2 || rs[0].State != want[rs[0].UserID] || rs[1].State != want[rs[1].UserID] {
		t.Fatalf("recipients = %+v, want %v", rs, want)
	}
	carol.MarkRead(ctx, g.ID, 1)
	waitEvent(alice, "read by all", func(e client.StateEvent) bool { return e.MessageID == m.ID && e.State == client.MessageRead })
}

// Typing is debounced: a start after half a second of typing, none for a
// single keystroke, a stop after the user goes idle and at once on send.
func TestClient_TypingDebounce(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	alice, bob := newAccount(t, srv.URL(), "alice"), newAccount(t, srv.URL(), "bob")
	alice.Start()
	bob.Start()
	alice.waitOnline()
	bob.waitOnline()
	conv, _ := alice.CreateDirect(ctx, bob.acct.UserID)

	typing := func(on bool) func(client.TypingEvent) bool {
		return func(e client.TypingEvent) bool { return e.UserID == alice.acct.UserID && e.Typing == on }
	}
	// One keystroke: nothing, even after the idle time.
	alice.Typing(conv.ID)
	time.Sleep(3500 * time.Millisecond)
	bob.mu.Lock()
	for _, e := range bob.events {
		if _, ok := e.(client.TypingEvent); ok {
			t.Fatalf("a single keystroke sent typing: %+v", e)
		}
	}
	bob.mu.Unlock()

	// Typing for 700 ms: a start, with the server's expiry.
	start := time.Now()
	for time.Since(start) < 700*time.Millisecond {
		alice.Typing(conv.ID)
		time.Sleep(50 * time.Millisecond)
	}
	e := waitEvent(bob, "typing start", typing(true))
	if until := time.Until(e.Expires); until < 4*time.Second || until > 7*time.Second {
		t.Fatalf("typing expires in %v, want about 6 s", until)
	}
	// Sending stops it at once.
	alice.Send(ctx, conv.ID, []byte("done"))
	waitEvent(bob, "typing stop", typing(false))
}

// A permanent error fails the message with its reason and holds the
// conversation's later messages back (they must not overtake it); Discard
// lets them go.
func TestClient_PermanentFailureHoldsTheQueue(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	alice := newAccount(t, srv.URL(), "alice")
	alice.Start()
	alice.waitOnline()
	const nowhere = "AAAAAAAAAAAAAAAAAAAAAA" // a conversation that does not exist
	first, _ := alice.Send(ctx, nowhere, []byte("one"))
	second, _ := alice.Send(ctx, nowhere, []byte("two"))
	e := waitEvent(alice, "failed", func(e client.StateEvent) bool { return e.MessageID == first.ID && e.State == client.MessageFailed })
	if e.Error == "" {
		t.Fatal("failed without a reason")
	}
	time.Sleep(300 * time.Millisecond)
	ms := alice.messages(nowhere)
	if len(ms) != 2 || ms[0].State != client.MessageFailed || ms[1].State != client.MessagePending {
		t.Fatalf("after a failure: %s, want failed then pending", describe(ms))
	}
	if err := alice.Discard(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	waitEvent(alice, "second failed", func(e client.StateEvent) bool { return e.MessageID == second.ID && e.State == client.MessageFailed })
}
