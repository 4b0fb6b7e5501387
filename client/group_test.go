package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/internal/clienttest"
)

// In a group an own message is delivered when every other member's device
// has it and read when every other member read it; Recipients shows each
// member's own view meanwhile.
func TestClient_GroupStatePerRecipient(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	alice, bob, carol := clienttest.NewAccount(t, srv.URL(), "alice"), clienttest.NewAccount(t, srv.URL(), "bob"), clienttest.NewAccount(t, srv.URL(), "carol")
	for _, d := range []*clienttest.Device{alice, bob, carol} {
		d.Start()
		d.WaitOnline()
	}
	g, err := alice.CreateGroup(ctx, "trip", []string{bob.Acct.UserID, carol.Acct.UserID})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := alice.Send(ctx, g.ID, []byte("who brings the tent?"))
	alice.WaitMessages(g.ID, "delivered to both", clienttest.AllIn(client.MessageDelivered))

	bob.WaitMessages(g.ID, "bob has it", func(ms []client.Message) bool { return len(ms) == 1 })
	if err := bob.MarkRead(ctx, g.ID, 1); err != nil {
		t.Fatal(err)
	}
	clienttest.WaitEvent(alice, "bob's read receipt", func(e client.ReceiptEvent) bool { return e.UserID == bob.Acct.UserID && e.ReadSeq == 1 })
	ms := alice.Messages(g.ID)
	if ms[0].State != client.MessageDelivered {
		t.Fatalf("read by one of two: %s, want delivered", ms[0].State)
	}
	rs, err := alice.Store().Recipients(ctx, alice.Acct.UserID, &ms[0])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]client.MessageState{bob.Acct.UserID: client.MessageRead, carol.Acct.UserID: client.MessageDelivered}
	if len(rs) != 2 || rs[0].State != want[rs[0].UserID] || rs[1].State != want[rs[1].UserID] {
		t.Fatalf("recipients = %+v, want %v", rs, want)
	}
	carol.MarkRead(ctx, g.ID, 1)
	clienttest.WaitEvent(alice, "read by all", func(e client.StateEvent) bool { return e.MessageID == m.ID && e.State == client.MessageRead })
}

// Typing is debounced: a start after half a second of typing, none for a
// single keystroke, a stop after the user goes idle and at once on send.
func TestClient_TypingDebounce(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	alice, bob := clienttest.NewAccount(t, srv.URL(), "alice"), clienttest.NewAccount(t, srv.URL(), "bob")
	alice.Start()
	bob.Start()
	alice.WaitOnline()
	bob.WaitOnline()
	conv, _ := alice.CreateDirect(ctx, bob.Acct.UserID)

	typing := func(on bool) func(client.TypingEvent) bool {
		return func(e client.TypingEvent) bool { return e.UserID == alice.Acct.UserID && e.Typing == on }
	}
	// One keystroke: nothing, even after the idle time.
	alice.Typing(conv.ID)
	time.Sleep(3500 * time.Millisecond)
	for _, e := range bob.Seen() {
		if _, ok := e.(client.TypingEvent); ok {
			t.Fatalf("a single keystroke sent typing: %+v", e)
		}
	}

	// Typing for 700 ms: a start, with the server's expiry.
	start := time.Now()
	for time.Since(start) < 700*time.Millisecond {
		alice.Typing(conv.ID)
		time.Sleep(50 * time.Millisecond)
	}
	e := clienttest.WaitEvent(bob, "typing start", typing(true))
	if until := time.Until(e.Expires); until < 4*time.Second || until > 7*time.Second {
		t.Fatalf("typing expires in %v, want about 6 s", until)
	}
	// Sending stops it at once.
	alice.Send(ctx, conv.ID, []byte("done"))
	clienttest.WaitEvent(bob, "typing stop", typing(false))
}

// A permanent error fails the message with its reason and holds the
// conversation's later messages back (they must not overtake it); Discard
// lets them go.
func TestClient_PermanentFailureHoldsTheQueue(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	alice := clienttest.NewAccount(t, srv.URL(), "alice")
	alice.Start()
	alice.WaitOnline()
	const nowhere = "AAAAAAAAAAAAAAAAAAAAAA" // a conversation that does not exist
	first, _ := alice.Send(ctx, nowhere, []byte("one"))
	second, _ := alice.Send(ctx, nowhere, []byte("two"))
	e := clienttest.WaitEvent(alice, "failed", func(e client.StateEvent) bool { return e.MessageID == first.ID && e.State == client.MessageFailed })
	if e.Error == "" {
		t.Fatal("failed without a reason")
	}
	time.Sleep(300 * time.Millisecond)
	ms := alice.Messages(nowhere)
	if len(ms) != 2 || ms[0].State != client.MessageFailed || ms[1].State != client.MessagePending {
		t.Fatalf("after a failure: %s, want failed then pending", clienttest.Describe(ms))
	}
	if err := alice.Discard(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	clienttest.WaitEvent(alice, "second failed", func(e client.StateEvent) bool { return e.MessageID == second.ID && e.State == client.MessageFailed })
}
