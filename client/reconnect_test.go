package client_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/courier-chat/courier/client"
)

// A node shutting down closes sockets with 1001: the client goes offline,
// reconnects when the node is back (same address) and syncs what it
// missed; what it wrote meanwhile goes out.
func TestClient_ReconnectAfterGoingAway(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	alice, bob := newAccount(t, srv.URL(), "alice"), newAccount(t, srv.URL(), "bob")
	alice.Start()
	bob.Start()
	alice.waitOnline()
	bob.waitOnline()
	conv, _ := alice.CreateDirect(ctx, bob.acct.UserID)
	alice.Send(ctx, conv.ID, []byte("before"))
	bob.waitMessages(conv.ID, "first", func(ms []client.Message) bool { return len(ms) == 1 })

	srv.Nodes[0].Stop()
	e := waitEvent(bob, "going away", func(e client.ConnectionEvent) bool { return e.State == client.Offline && e.Err != nil })
	var ce *client.CloseError
	if !errors.As(e.Err, &ce) || ce.Code != client.CloseGoingAway {
		t.Fatalf("offline because %v, want close 1001", e.Err)
	}
	for i := range 3 {
		alice.Send(ctx, conv.ID, []byte(fmt.Sprint("offline ", i)))
	}
	srv.Restart(t, 0)
	ms := bob.waitMessages(conv.ID, "what alice wrote offline", func(ms []client.Message) bool { return len(ms) == 4 })
	for i, m := range ms {
		if m.Seq != int64(i+1) {
			t.Fatalf("bob's messages after reconnect: %s", describe(ms))
		}
	}
}

// A revoked device's socket closes with 4001 and the client stops: it
// never reconnects with a dead token.
func TestClient_RevokedStops(t *testing.T) {
	srv := startServer(t)
	ctx := context.Background()
	alice := newAccount(t, srv.URL(), "alice")
	tabletAcct, err := client.AddDevice(ctx, alice.acct, "tablet")
	if err != nil {
		t.Fatal(err)
	}
	tablet := openDevice(t, tabletAcct, t.TempDir())
	tablet.Start()
	alice.Start()
	tablet.waitOnline()
	alice.waitOnline()
	if err := alice.RevokeDevice(ctx, tabletAcct.DeviceID); err != nil {
		t.Fatal(err)
	}
	e := waitEvent(tablet, "revoked", func(e client.ConnectionEvent) bool { return e.State == client.Revoked })
	var ce *client.CloseError
	if !errors.As(e.Err, &ce) || ce.Code != client.CloseRevoked {
		t.Fatalf("revoked because %v, want close 4001", e.Err)
	}
	waitEvent(alice, "device.revoked", func(e client.DeviceRevokedEvent) bool { return e.DeviceID == tabletAcct.DeviceID })
	// A client started on the dead token stops at the refused dial.
	again := openDevice(t, tabletAcct, t.TempDir())
	again.Start()
	waitEvent(again, "refused", func(e client.ConnectionEvent) bool { return e.State == client.Revoked })
}
