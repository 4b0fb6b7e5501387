package conformance

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/internal/clienttest"
)

// Typing reaches members online on any node, expires 6 s after a start,
// is never stored (a member who connects later hears nothing of it), and
// a stop is relayed.
func testTyping(t *testing.T, tg target) {
	ctx := context.Background()
	alice, bob, carol := clienttest.NewAccount(t, tg.urls[0], "alice"), clienttest.NewAccount(t, tg.urls[1], "bob"), clienttest.NewAccount(t, tg.urls[2], "carol")
	alice.Start()
	bob.Start()
	alice.WaitOnline()
	bob.WaitOnline()
	g, _ := alice.CreateGroup(ctx, "typing", []string{bob.Acct.UserID, carol.Acct.UserID})
	for start := time.Now(); time.Since(start) < 800*time.Millisecond; time.Sleep(50 * time.Millisecond) {
		alice.Typing(g.ID)
	}
	e := clienttest.WaitEvent(bob, "typing start", func(e client.TypingEvent) bool { return e.Typing && e.UserID == alice.Acct.UserID })
	if left := time.Until(e.Expires); left < 4*time.Second || left > 6*time.Second+500*time.Millisecond {
		t.Fatalf("typing start expires in %v, want 6 s", left)
	}
	carol.Start()
	carol.WaitOnline()
	alice.StopTyping(g.ID)
	clienttest.WaitEvent(bob, "typing stop", func(e client.TypingEvent) bool { return !e.Typing && e.UserID == alice.Acct.UserID })
	time.Sleep(300 * time.Millisecond)
	for _, e := range carol.Seen() {
		if te, ok := e.(client.TypingEvent); ok && te.Typing {
			t.Fatalf("carol, offline at the start, got %+v", te)
		}
	}
}

// Presence: a direct contact's state now, then every change, from any node.
func testPresence(t *testing.T, tg target) {
	ctx := context.Background()
	alice, bob := clienttest.NewAccount(t, tg.urls[0], "alice"), clienttest.NewAccount(t, tg.urls[2], "bob")
	alice.Start()
	alice.WaitOnline()
	conv, _ := alice.CreateDirect(ctx, bob.Acct.UserID)
	if err := alice.WatchPresence(ctx, []string{conv.ID}); err != nil {
		t.Fatal(err)
	}
	clienttest.WaitEvent(alice, "bob offline", func(e client.PresenceEvent) bool { return e.UserID == bob.Acct.UserID && !e.Online })
	bob.Start()
	clienttest.WaitEvent(alice, "bob online", func(e client.PresenceEvent) bool { return e.UserID == bob.Acct.UserID && e.Online })
	bob.Close()
	left := clienttest.WaitEvent(alice, "bob left", func(e client.PresenceEvent) bool {
		return e.UserID == bob.Acct.UserID && !e.Online && !e.LastSeen.IsZero()
	})
	if time.Since(left.LastSeen) > time.Minute {
		t.Fatalf("last seen %v", left.LastSeen)
	}
}

// A hundred clients in one group, spread over the nodes, all reconnect at
// once (closed and started again together; with nodes of our own, one
// node is also restarted under its clients): every one is back online and
// gets the message sent meanwhile.
func testReconnectStorm(t *testing.T, tg target) {
	ctx := context.Background()
	const n = 100
	devs := make([]*clienttest.Device, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			devs[i] = clienttest.NewAccount(t, tg.urls[i%len(tg.urls)], fmt.Sprint("u", i))
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow() // an account could not be made; its slot is empty
	}
	var ids []string
	for _, d := range devs[1:] {
		ids = append(ids, d.Acct.UserID)
	}
	for _, d := range devs {
		d.Start()
	}
	for _, d := range devs {
		d.WaitOnline()
	}
	g, err := devs[0].CreateGroup(ctx, "storm", ids)
	if err != nil {
		t.Fatal(err)
	}
	devs[0].Send(ctx, g.ID, []byte("before"))
	for _, d := range devs {
		d.WaitMessages(g.ID, "before", func(ms []client.Message) bool { return len(ms) == 1 })
	}
	// Everyone drops and comes back at the same moment.
	again := make([]*clienttest.Device, n)
	for i, d := range devs {
		d.Close()
		again[i] = clienttest.Open(t, d.Acct, d.Dir)
	}
	if tg.cluster != nil {
		tg.cluster.Nodes[1].Stop()
	}
	again[0].Send(ctx, g.ID, []byte("during"))
	for _, d := range again {
		d.Start()
	}
	if tg.cluster != nil {
		tg.cluster.Restart(t, 1)
	}
	for _, d := range again {
		d.WaitMessages(g.ID, "during", func(ms []client.Message) bool {
			return len(ms) == 2 && ms[1].Seq == 2 && string(ms[1].Body) == "during"
		})
	}
}
