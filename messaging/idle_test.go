package messaging_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/messaging"
)

// An idle socket costs the node its reader goroutine and nothing more: the
// writer runs only while there is something to send (a frame, a ping) and
// exits after, and pings come from one pinger per gateway.
func TestGateway_IdleSocketsHoldOnlyTheirReader(t *testing.T) {
	const sockets = 40
	c := newCluster(t)
	c.gwcfg = messaging.GatewayConfig{MaxSocketsPerDevice: sockets, MaxSocketsPerUser: sockets} // one device holds them all
	n := c.node()
	alice, bob := c.user("alice", 1), c.user("bob", 1)
	conv := c.direct(alice, bob)
	// Settle: the node's own goroutines (bus, pools) are up.
	time.Sleep(200 * time.Millisecond)
	base := runtime.NumGoroutine()

	pinged := make(chan struct{}, sockets)
	var conns []*websocket.Conn
	for range sockets {
		ws := rawDial(t, n, alice.tokens[0]) // no reader goroutine on the client side either
		ws.SetPingHandler(func(string) error {
			pinged <- struct{}{}
			return nil
		})
		conns = append(conns, ws)
	}
	waitFor(t, func() bool { return n.gw.Connections() == sockets })
	// The client sockets hold no goroutines (nothing reads them yet).
	idleGoroutines := func(phase string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > base+sockets+2 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d goroutines for %d idle sockets over %d before", phase, runtime.NumGoroutine(), sockets, base)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	idleGoroutines("connected")

	// A ping round, then a message: every socket gets both, from writers
	// that start, write and are gone.
	n.gw.PingAll()
	if _, _, err := n.svc.Send(context.Background(), bob.devices[0], courier.SendRequest{
		ConversationID: conv, ClientID: "1", Body: []byte("hi")}); err != nil {
		t.Fatal(err)
	}
	for i, ws := range conns {
		// The ping is handled inside the read that returns the message.
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, b, err := ws.ReadMessage(); err != nil {
			t.Fatalf("socket %d: %v", i, err)
		} else if f := string(b); !strings.HasPrefix(f, `{"type":"message"`) {
			t.Fatalf("socket %d got %s", i, f)
		}
		select {
		case <-pinged:
		default:
			t.Fatalf("socket %d: no ping before the message", i)
		}
	}
	idleGoroutines("after a ping and a message")
}
