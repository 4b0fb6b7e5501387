package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/internal/clienttest"
	"github.com/courier-chat/courier/internal/testserver"
)

// A node shutting down closes sockets with 1001: the client goes offline,
// reconnects when the node is back (same address) and syncs what it
// missed; what it wrote meanwhile goes out.
func TestClient_ReconnectAfterGoingAway(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	alice, bob := clienttest.NewAccount(t, srv.URL(), "alice"), clienttest.NewAccount(t, srv.URL(), "bob")
	alice.Start()
	bob.Start()
	alice.WaitOnline()
	bob.WaitOnline()
	conv, _ := alice.CreateDirect(ctx, bob.Acct.UserID)
	alice.Send(ctx, conv.ID, []byte("before"))
	bob.WaitMessages(conv.ID, "first", func(ms []client.Message) bool { return len(ms) == 1 })

	srv.Nodes[0].Stop()
	e := clienttest.WaitEvent(bob, "going away", func(e client.ConnectionEvent) bool { return e.State == client.Offline && e.Err != nil })
	var ce *client.CloseError
	if !errors.As(e.Err, &ce) || ce.Code != client.CloseGoingAway {
		t.Fatalf("offline because %v, want close 1001", e.Err)
	}
	for i := range 3 {
		alice.Send(ctx, conv.ID, []byte(fmt.Sprint("offline ", i)))
	}
	srv.Restart(t, 0)
	ms := bob.WaitMessages(conv.ID, "what alice wrote offline", func(ms []client.Message) bool { return len(ms) == 4 })
	for i, m := range ms {
		if m.Seq != int64(i+1) {
			t.Fatalf("bob's messages after reconnect: %s", clienttest.Describe(ms))
		}
	}
}

// A revoked device's socket closes with 4001 and the client stops: it
// never reconnects with a dead token.
func TestClient_RevokedStops(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	alice := clienttest.NewAccount(t, srv.URL(), "alice")
	tabletAcct, err := client.AddDevice(ctx, alice.Acct, "tablet")
	if err != nil {
		t.Fatal(err)
	}
	tablet := clienttest.Open(t, tabletAcct, t.TempDir())
	tablet.Start()
	alice.Start()
	tablet.WaitOnline()
	alice.WaitOnline()
	if err := alice.RevokeDevice(ctx, tabletAcct.DeviceID); err != nil {
		t.Fatal(err)
	}
	e := clienttest.WaitEvent(tablet, "revoked", func(e client.ConnectionEvent) bool { return e.State == client.Revoked })
	var ce *client.CloseError
	if !errors.As(e.Err, &ce) || ce.Code != courier.CloseRevoked {
		t.Fatalf("revoked because %v, want close 4001", e.Err)
	}
	clienttest.WaitEvent(alice, "device.revoked", func(e client.DeviceRevokedEvent) bool { return e.DeviceID == tabletAcct.DeviceID })
	// A client started on the dead token stops at the refused dial.
	again := clienttest.Open(t, tabletAcct, t.TempDir())
	again.Start()
	clienttest.WaitEvent(again, "refused", func(e client.ConnectionEvent) bool { return e.State == client.Revoked })
}

// A second socket of one device over the server's cap (one here) closes
// the first with 4002: the replaced client stops for good, saying why,
// and does not dial again (which would replace the newer socket in turn,
// the two taking turns forever). The newer one stays live, and Start
// takes the device back when the app wants it.
func TestClient_ReplacedStops(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{MessageRate: 1000, Env: []string{"COURIER_WS_MAX_PER_DEVICE=1"}})
	ctx := context.Background()
	alice, bob := clienttest.NewAccount(t, srv.URL(), "alice"), clienttest.NewAccount(t, srv.URL(), "bob")
	bob.Start()
	alice.Start()
	alice.WaitOnline()
	bob.WaitOnline()

	newer := clienttest.Open(t, alice.Acct, t.TempDir()) // the same device token, another process
	newer.Start()
	e := clienttest.WaitEvent(alice, "replaced", func(e client.ConnectionEvent) bool { return e.State == client.Replaced })
	var ce *client.CloseError
	if !errors.As(e.Err, &ce) || ce.Code != courier.CloseReplaced {
		t.Fatalf("replaced because %v, want close 4002", e.Err)
	}
	newer.WaitOnline()

	// The newer socket keeps getting messages: had the replaced client
	// dialed again, it would have closed the newer one with 4002.
	conv, err := bob.CreateDirect(ctx, alice.Acct.UserID)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		bob.Send(ctx, conv.ID, []byte(fmt.Sprint("to the newer socket ", i)))
	}
	newer.WaitMessages(conv.ID, "bob's messages", func(ms []client.Message) bool { return len(ms) == 3 })
	if s := alice.State(); s != client.Replaced {
		t.Fatalf("the replaced client is %s, want it to stay replaced", s)
	}
	for _, e := range newer.Seen() {
		if e, ok := e.(client.ConnectionEvent); ok && e.State == client.Replaced {
			t.Fatalf("the newer client was replaced back: %+v", e)
		}
	}
	after := false
	for _, e := range alice.Seen() {
		if e, ok := e.(client.ConnectionEvent); ok {
			if after && e.State == client.Connecting {
				t.Fatal("the replaced client dialed again by itself")
			}
			after = after || e.State == client.Replaced
		}
	}

	// Start again takes the device back: now the newer one is replaced.
	alice.Start()
	clienttest.WaitEvent(newer, "replaced by the restarted client", func(e client.ConnectionEvent) bool { return e.State == client.Replaced })
	alice.WaitMessages(conv.ID, "bob's messages, synced", func(ms []client.Message) bool { return len(ms) == 3 })
}
