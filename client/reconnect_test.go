package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client"
	"github.com/courier-chat/courier/internal/clienttest"
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
