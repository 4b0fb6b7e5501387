package main

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client"
)

// A revoked device's open socket closes at once, on another node too: its
// token was checked only at upgrade.
func TestMessaging_RevokedDeviceSocketCloses(t *testing.T) {
	cfg := testConfig(t)
	a := startProcess(t, "dev", cfg)
	cfg.HTTPAddr = "127.0.0.1:0"
	b := startProcess(t, "serve", cfg)
	alice := createAccount(t, a, "alice")
	var tablet account
	if resp := do(t, "POST", a.URL+"/v1/devices", alice.Token, map[string]string{"name": "tablet"}, &tablet); resp.StatusCode != 201 {
		t.Fatalf("add device: %d", resp.StatusCode)
	}
	phone := newWSClient(t, a.URL, alice.Token)
	tab := newWSClient(t, b.URL, tablet.Token) // answered a ping: subscribed

	if resp := do(t, "DELETE", a.URL+"/v1/devices/"+tablet.DeviceID, alice.Token, nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	select {
	case <-tab.conn.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked device's socket is still open after 5 s")
	}
	var ce *client.CloseError
	if err := tab.conn.Err(); !errors.As(err, &ce) || ce.Code != courier.CloseRevoked {
		t.Fatalf("socket of the revoked device ended with %v, want a 4001 close", err)
	}
	// The user's other devices are told, and their sockets stay open.
	phone.next(courier.EventDeviceRevoked, "")
	phone.next(courier.FramePong, phone.send(courier.FramePing, nil))
}
