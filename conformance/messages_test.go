package conformance

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/internal/clienttest"
)

// Three members on three nodes (and a second device of the first member
// on the third) send at once into one group: every device ends with every
// seq from 1 exactly once, in order, no gaps, each sender's messages in
// the order they were written, and its own messages held once.
func testOrder(t *testing.T, tg target) {
	ctx := context.Background()
	alice := clienttest.NewAccount(t, tg.urls[0], "alice")
	bob := clienttest.NewAccount(t, tg.urls[1], "bob")
	carol := clienttest.NewAccount(t, tg.urls[2], "carol")
	tabletAcct, err := client.AddDevice(ctx, alice.Acct, "tablet")
	if err != nil {
		t.Fatal(err)
	}
	tabletAcct.URL = tg.urls[2]
	tablet := clienttest.Open(t, tabletAcct, t.TempDir())
	devices := []*clienttest.Device{alice, bob, carol, tablet}
	for _, d := range devices {
		d.Start()
		d.WaitOnline()
	}
	g, err := alice.CreateGroup(ctx, "order", []string{bob.Acct.UserID, carol.Acct.UserID})
	if err != nil {
		t.Fatal(err)
	}
	const each = 20
	senders := []*clienttest.Device{alice, bob, carol, tablet}
	var wg sync.WaitGroup
	for si, d := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := d.Send(ctx, g.ID, []byte(fmt.Sprintf("s%d-%02d", si, i))); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	total := each * len(senders)
	for _, d := range devices {
		ms := d.WaitMessages(g.ID, "every message", func(ms []client.Message) bool {
			return len(ms) == total && ms[total-1].Seq == int64(total)
		})
		next := map[string]int{}
		for i, m := range ms {
			if m.Seq != int64(i+1) {
				t.Fatalf("%s: position %d holds seq %d: %s", d.Acct.UserID, i, m.Seq, clienttest.Describe(ms))
			}
			sender, n, _ := strings.Cut(string(m.Body), "-")
			if want := fmt.Sprintf("%02d", next[sender]); n != want {
				t.Fatalf("%s: %s's message %s came where %s was due", d.Acct.UserID, sender, n, want)
			}
			next[sender]++
		}
	}
}

// Receipts are watermarks: a read receipt below the current one changes
// nothing, and the sender's view never moves back.
func testReceipts(t *testing.T, tg target) {
	ctx := context.Background()
	alice, bob := clienttest.NewAccount(t, tg.urls[0], "alice"), clienttest.NewAccount(t, tg.urls[1], "bob")
	alice.Start()
	bob.Start()
	alice.WaitOnline()
	bob.WaitOnline()
	conv, _ := alice.CreateDirect(ctx, bob.Acct.UserID)
	for i := range 5 {
		alice.Send(ctx, conv.ID, []byte(fmt.Sprint(i)))
	}
	alice.WaitMessages(conv.ID, "delivered", clienttest.AllIn(client.MessageDelivered))
	if err := bob.MarkRead(ctx, conv.ID, 4); err != nil {
		t.Fatal(err)
	}
	if err := bob.MarkRead(ctx, conv.ID, 2); err != nil {
		t.Fatal(err)
	}
	clienttest.WaitEvent(alice, "read 4", func(e client.ReceiptEvent) bool { return e.UserID == bob.Acct.UserID && e.ReadSeq == 4 })
	time.Sleep(300 * time.Millisecond)
	for _, e := range alice.Seen() {
		if r, ok := e.(client.ReceiptEvent); ok && r.UserID == bob.Acct.UserID && r.ReadSeq == 2 {
			t.Fatalf("a receipt moved back: %+v", r)
		}
	}
	ms := alice.Messages(conv.ID)
	want := []client.MessageState{client.MessageRead, client.MessageRead, client.MessageRead, client.MessageRead, client.MessageDelivered}
	for i, m := range ms {
		if m.State != want[i] {
			t.Fatalf("states %s, want %v", clienttest.Describe(ms), want)
		}
	}
}
