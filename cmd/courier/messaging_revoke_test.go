package main

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
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
	ws, _, err := dialSocket(b.URL, tablet.Token, false)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.WriteJSON(map[string]any{"type": "ping", "id": "p"})
	if _, _, err := ws.ReadMessage(); err != nil { // the pong: subscribed
		t.Fatal(err)
	}

	if resp := do(t, "DELETE", a.URL+"/v1/devices/"+tablet.DeviceID, alice.Token, nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != 4001 {
				t.Fatalf("close code %d, want 4001", ce.Code)
			}
			break
		} else if err != nil {
			t.Fatalf("socket of the revoked device: %v, want a 4001 close", err)
		}
	}
	// The user's other devices are told, and their sockets stay open.
	phone.next("device.revoked", "")
	phone.next("pong", phone.send("ping", nil))
}
