package messaging_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/messaging"
)

func TestGateway_SendFansOutAcrossNodesAndResendsLandOnce(t *testing.T) {
	c := newCluster(t)
	a, b := c.node(), c.node()
	alice, bob := c.user("alice", 3), c.user("bob", 1)
	conv := c.direct(alice, bob)

	phone := dial(t, a, alice.tokens[0])
	tablet := dial(t, b, alice.tokens[1]) // the sender's other device, other node
	bobc := dial(t, b, bob.tokens[0])
	// alice's third device is offline: it gets a push, nobody else does.

	id := phone.send("send", sendData(conv, "k1", "hello"))
	sent := decode[messaging.SentData](t, phone.next("sent", id))
	if sent.Seq != 1 || sent.ClientID != "k1" || sent.TS.IsZero() || sent.Duplicate {
		t.Fatalf("sent = %+v", sent)
	}
	for name, cl := range map[string]*client{"bob": bobc, "alice's tablet": tablet} {
		m := decode[courier.Message](t, cl.next("message", ""))
		if m.Seq != 1 || string(m.Body) != "hello" || m.SenderDeviceID != alice.devices[0].ID {
			t.Fatalf("%s got %+v", name, m)
		}
	}

	// A resend with the same client ID answers the original seq.
	id = phone.send("send", sendData(conv, "k1", "hello"))
	if again := decode[messaging.SentData](t, phone.next("sent", id)); again.Seq != 1 || !again.Duplicate {
		t.Fatalf("resend = %+v", again)
	}
	id = phone.send("send", sendData(conv, "k2", "second"))
	if s := decode[messaging.SentData](t, phone.next("sent", id)); s.Seq != 2 {
		t.Fatalf("second send seq %d", s.Seq)
	}
	// The resend published nothing: its first publish went out, so bob's
	// next frame is the second message, not the first again.
	if m := decode[courier.Message](t, bobc.next("message", "")); m.Seq != 2 {
		t.Fatalf("after the resend bob got seq %d, want 2 (a resend whose first publish went out fans out again)", m.Seq)
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && len(c.pushes.seqs(alice.devices[2].ID)) == 0 {
		time.Sleep(20 * time.Millisecond)
	}
	// The sender's own devices are not woken; bob's only device is online.
	if p := c.pushes.seqs(alice.devices[2].ID); len(p) != 0 {
		t.Fatalf("sender's offline device pushed: %v", p)
	}
	if p := c.pushes.seqs(bob.devices[0].ID); len(p) != 0 {
		t.Fatalf("online device pushed: %v", p)
	}

	// Bob goes offline: his next message is a push.
	bobc.conn.Close()
	waitFor(t, func() bool { return b.gw.Connections() == 1 })
	id = phone.send("send", sendData(conv, "k3", "are you there"))
	phone.next("sent", id)
	waitFor(t, func() bool { return len(c.pushes.seqs(bob.devices[0].ID)) == 1 })
}

func TestGateway_BadFramesAnsweredAndSocketSurvives(t *testing.T) {
	c := newCluster(t)
	n := c.node()
	alice, bob, carol := c.user("alice", 1), c.user("bob", 1), c.user("carol", 1)
	conv := c.direct(alice, bob)
	ws := rawDial(t, n, carol.tokens[0]) // frames the SDK would never write

	raw := func(s string) { ws.WriteMessage(websocket.TextMessage, []byte(s)) }
	answer := func(id string) messaging.ErrorData {
		t.Helper()
		for {
			ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			var f frame
			if err := ws.ReadJSON(&f); err != nil {
				t.Fatalf("waiting for the answer to %s: %v", id, err)
			}
			if f.ID == id {
				return decode[messaging.ErrorData](t, f)
			}
		}
	}
	for _, tc := range []struct {
		name, frame, id, code string
	}{
		{"malformed", `{"id":"m1","type":`, "m1", courier.EINVALID},
		{"unknown type", `{"id":"m2","type":"launch"}`, "m2", courier.EINVALID},
		{"no data", `{"id":"m3","type":"send"}`, "m3", courier.EINVALID},
		{"non-member send", `{"id":"m4","type":"send","data":{"conversation_id":"` + conv + `","client_id":"x","body":"aGk="}}`, "m4", courier.ENOTFOUND},
		{"non-member typing", `{"id":"m5","type":"typing","data":{"conversation_id":"` + conv + `","state":"start"}}`, "m5", courier.ENOTFOUND},
		{"non-member receipt", `{"id":"m6","type":"receipt","data":{"conversation_id":"` + conv + `","kind":"read","seq":1}}`, "m6", courier.ENOTFOUND},
		{"body over 64 KiB", `{"id":"m7","type":"send","data":{"conversation_id":"c","client_id":"x","body":"` + strings.Repeat("A", 87384+4) + `"}}`, "m7", courier.ETOOLARGE},
		{"frame over limit", `{"id":"m8","type":"send","data":{"body":"` + strings.Repeat("A", 200<<10) + `"}}`, "m8", courier.ETOOLARGE},
		{"NUL in client id", `{"id":"m10","type":"send","data":{"conversation_id":"` + conv + `","client_id":"a\u0000b","body":"aGk="}}`, "m10", courier.EINVALID},
		{"bad receipt kind", `{"id":"m9","type":"receipt","data":{"conversation_id":"c","kind":"seen","seq":1}}`, "m9", courier.EINVALID},
	} {
		raw(tc.frame)
		if e := answer(tc.id); e.Code != tc.code {
			t.Errorf("%s: code %q (%s), want %q", tc.name, e.Code, e.Message, tc.code)
		}
	}
	raw(`{"id":"p1","type":"ping"}`)
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var pong frame
	if err := ws.ReadJSON(&pong); err != nil || pong.Type != "pong" || pong.ID != "p1" {
		t.Fatalf("after the bad frames, ping got %+v, %v", pong, err)
	}
}

func TestGateway_SyncWhileSendingIsOrderedWithoutGapsOrRepeats(t *testing.T) {
	c := newCluster(t)
	c.cfg = messaging.Config{SendRate: 1000, SendBurst: 1000}
	n := c.node()
	alice, bob := c.user("alice", 1), c.user("bob", 1)
	conv := c.direct(alice, bob)
	ctx := context.Background()
	send := func(i int) {
		if _, _, err := n.svc.Send(ctx, bob.devices[0], courier.SendRequest{ConversationID: conv, ClientID: fmt.Sprint(i), Body: []byte("x")}); err != nil {
			t.Error(err)
		}
	}
	for i := range 250 { // more than one sync page
		send(i)
	}
	cl := dial(t, n, alice.tokens[0])
	done := make(chan struct{})
	go func() { // keep committing while the sync runs
		defer close(done)
		for i := 250; i < 400; i++ {
			send(i)
		}
	}()
	cl.send("sync", map[string]any{"cursors": map[string]int64{conv: 0}})
	<-done
	var seqs []int64
	for len(seqs) == 0 || seqs[len(seqs)-1] < 400 {
		f, err := cl.read(5 * time.Second)
		if err != nil {
			t.Fatalf("after %d messages: %v", len(seqs), err)
		}
		if f.Type == "message" {
			seqs = append(seqs, decode[courier.Message](t, f).Seq)
		}
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("message %d has seq %d: order broken (%v…)", i, s, seqs[max(0, i-3):i+1])
		}
	}

	// A second sync from a cursor sends only what follows it.
	id := cl.send("sync", map[string]any{"cursors": map[string]int64{conv: 398}})
	var after []int64
	for {
		f := cl.next("", "")
		if f.Type == "synced" && f.ID == id {
			if got := decode[messaging.SyncedData](t, f).Cursors[conv]; got != 400 {
				t.Fatalf("synced cursor %d", got)
			}
			break
		}
		if f.Type == "message" {
			after = append(after, decode[courier.Message](t, f).Seq)
		}
	}
	if fmt.Sprint(after) != "[399 400]" {
		t.Fatalf("sync from 398 sent %v", after)
	}
}

func TestGateway_ReceiptsTypingAndRates(t *testing.T) {
	c := newCluster(t)
	c.cfg = messaging.Config{SendRate: 1, SendBurst: 2}
	a, b := c.node(), c.node()
	alice, bob := c.user("alice", 1), c.user("bob", 1)
	conv := c.direct(alice, bob)
	ac, bc := dial(t, a, alice.tokens[0]), dial(t, b, bob.tokens[0])

	for i := range 2 {
		ac.next("sent", ac.send("send", sendData(conv, fmt.Sprint(i), "hi")))
	}
	id := ac.send("send", sendData(conv, "2", "hi"))
	if e := ac.errorCode(id); e.Code != courier.ERATELIMIT || e.RetryAfterMS <= 0 || e.RetryAfterMS > 1000 {
		t.Fatalf("third send = %+v, want rate_limited with retry_after_ms", e)
	}

	id = bc.send("receipt", map[string]any{"conversation_id": conv, "kind": "read", "seq": 2})
	bc.next("ok", id)
	r := decode[courier.Receipt](t, ac.next("receipt", ""))
	if r.UserID != bob.id || r.ReadSeq != 2 || r.DeliveredSeq != 2 {
		t.Fatalf("alice sees receipt %+v", r)
	}

	id = bc.send("typing", map[string]any{"conversation_id": conv, "state": "start"})
	bc.next("ok", id)
	ty := decode[messaging.TypingEvent](t, ac.next("typing", ""))
	if ty.UserID != bob.id || ty.State != "start" || ty.ExpiresInMS != 6000 {
		t.Fatalf("typing = %+v", ty)
	}
	bc.next("ok", bc.send("typing", map[string]any{"conversation_id": conv, "state": "start"}))
	bc.next("ok", bc.send("typing", map[string]any{"conversation_id": conv, "state": "stop"}))
	// The refresh within a second is absorbed; the stop goes out.
	if ty := decode[messaging.TypingEvent](t, ac.next("typing", "")); ty.State != "stop" {
		t.Fatalf("after refresh within 1s got %+v, want stop", ty)
	}
	bc.none("typing", 200*time.Millisecond) // never echoed to the typist
	ac.next("pong", ac.send("ping", nil))   // still up after the rate limit
}

func TestGateway_RemovedMemberCutOff(t *testing.T) {
	c := newCluster(t)
	n := c.node()
	alice, bob, carol := c.user("alice", 1), c.user("bob", 1), c.user("carol", 1)
	ctx := context.Background()
	g, err := c.convs.CreateGroup(ctx, alice.id, "g", []string{bob.id, carol.id})
	if err != nil {
		t.Fatal(err)
	}
	ac, cc := dial(t, n, alice.tokens[0]), dial(t, n, carol.tokens[0])
	ac.next("sent", ac.send("send", sendData(g.ID, "1", "before")))
	cc.next("message", "")
	if err := c.convs.RemoveMember(ctx, alice.id, g.ID, carol.id); err != nil {
		t.Fatal(err)
	}
	ac.next("sent", ac.send("send", sendData(g.ID, "2", "after")))
	cc.none("message", 300*time.Millisecond)
	id := cc.send("sync", map[string]any{"cursors": map[string]int64{}})
	for {
		f := cc.next("", "")
		if f.Type == "message" && decode[courier.Message](t, f).Seq > 1 {
			t.Fatal("removed member synced a message sent after removal")
		}
		if f.Type == "synced" && f.ID == id {
			break
		}
	}
	if e := cc.errorCode(cc.send("send", sendData(g.ID, "3", "let me in"))); e.Code != courier.ENOTFOUND {
		t.Fatalf("removed member sends: %+v", e)
	}
}

func TestGateway_SlowConsumerDropped(t *testing.T) {
	c := newCluster(t)
	c.cfg = messaging.Config{SendRate: 10000, SendBurst: 10000}
	c.gwcfg = messaging.GatewayConfig{SendQueue: 16}
	n := c.node()
	alice, bob := c.user("alice", 1), c.user("bob", 1)
	conv := c.direct(alice, bob)
	slow := rawDial(t, n, bob.tokens[0]) // never reads until the end
	waitFor(t, func() bool { return n.gw.Connections() == 1 })
	body := []byte(strings.Repeat("x", 60<<10))
	for i := 0; i < 400 && n.gw.Connections() == 1; i++ {
		n.svc.Send(context.Background(), alice.devices[0], courier.SendRequest{ConversationID: conv, ClientID: fmt.Sprint(i), Body: body})
	}
	waitFor(t, func() bool { return n.gw.Connections() == 0 })
	// Reading now drains what was in flight, then the socket is gone.
	for read := 0; ; read++ {
		slow.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := slow.ReadMessage(); err != nil {
			// 4000 when the close frame fits; 1006 when the TCP window
			// was full and the server hung up without one.
			ce, ok := err.(*websocket.CloseError)
			if !ok || (ce.Code != courier.CloseSlowConsumer && ce.Code != websocket.CloseAbnormalClosure) {
				t.Fatalf("after %d frames: closed with %v, want %d or 1006", read, err, courier.CloseSlowConsumer)
			}
			break
		}
	}
}

func TestGateway_PresenceOfDirectContacts(t *testing.T) {
	c := newCluster(t)
	a, b := c.node(), c.node()
	alice, bob, carol := c.user("alice", 1), c.user("bob", 1), c.user("carol", 1)
	conv := c.direct(alice, bob)
	g, _ := c.convs.CreateGroup(context.Background(), alice.id, "g", []string{carol.id})
	ac := dial(t, a, alice.tokens[0])

	if e := ac.errorCode(ac.send("presence.subscribe", map[string]any{"conversation_ids": []string{g.ID}})); e.Code != courier.EINVALID {
		t.Fatalf("presence of a group: %+v", e)
	}
	id := ac.send("presence.subscribe", map[string]any{"conversation_ids": []string{conv}})
	if p := decode[messaging.PresenceEvent](t, ac.next("presence", "")); p.UserID != bob.id || p.Online {
		t.Fatalf("before bob connects: %+v", p)
	}
	ac.next("ok", id)
	bc := dial(t, b, bob.tokens[0])
	if p := decode[messaging.PresenceEvent](t, ac.next("presence", "")); !p.Online {
		t.Fatalf("bob connected: %+v", p)
	}
	bc.conn.Close()
	p := decode[messaging.PresenceEvent](t, ac.next("presence", ""))
	if p.Online || p.LastSeen == nil || time.Since(*p.LastSeen) > 5*time.Second {
		t.Fatalf("bob gone: %+v", p)
	}
}

func TestGateway_CloseSaysGoingAway(t *testing.T) {
	c := newCluster(t)
	n := c.node()
	alice := c.user("alice", 1)
	cl := dial(t, n, alice.tokens[0])
	cl.next("pong", cl.send("ping", nil))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.gw.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.read(5 * time.Second); !cl.closedWith(websocket.CloseGoingAway) {
		t.Fatalf("read after Close: %v, want 1001", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A member who joined after the last message sees nothing before their
// join: sync moves their cursor to the head instead of reporting "more"
// on every sync (a client following "more" would loop).
func TestGateway_SyncOfLateJoinerEndsAtHead(t *testing.T) {
	c := newCluster(t)
	n := c.node()
	alice, bob, carol := c.user("alice", 1), c.user("bob", 1), c.user("carol", 1)
	ctx := context.Background()
	g, err := c.convs.CreateGroup(ctx, alice.id, "g", []string{bob.id})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, _, err := n.svc.Send(ctx, alice.devices[0], courier.SendRequest{ConversationID: g.ID, ClientID: fmt.Sprint(i), Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.convs.AddMembers(ctx, alice.id, g.ID, []string{carol.id}); err != nil {
		t.Fatal(err)
	}
	cl := dial(t, n, carol.tokens[0])
	for range 2 {
		id := cl.send("sync", map[string]any{"cursors": map[string]int64{}})
		f := cl.next("synced", id)
		got := decode[messaging.SyncedData](t, f)
		if got.Cursors[g.ID] != 3 || len(got.More) != 0 {
			t.Fatalf("synced = %+v, want cursor 3 and nothing more", got)
		}
		// docs/protocol.md shows "more":[]: clients read the key as is.
		if !bytes.Contains(f.Data, []byte(`"more":[]`)) {
			t.Fatalf("synced data %s, want \"more\":[]", f.Data)
		}
	}
	cl.none("message", 200*time.Millisecond)
}

// A client looping on sync is refused with rate_limited and a retry-after,
// and the socket stays up.
func TestGateway_SyncIsRateLimited(t *testing.T) {
	c := newCluster(t)
	n := c.node()
	alice := c.user("alice", 1)
	cl := dial(t, n, alice.tokens[0])
	limited := false
	for range messaging.SyncBurst + 3 {
		id := cl.send("sync", map[string]any{"cursors": map[string]int64{}})
		f := cl.next("", id)
		if f.Type == "error" {
			if e := decode[messaging.ErrorData](t, f); e.Code != courier.ERATELIMIT || e.RetryAfterMS <= 0 {
				t.Fatalf("sync error %+v, want rate_limited with a retry-after", e)
			}
			limited = true
		}
	}
	if !limited {
		t.Fatalf("%d syncs in a row were all answered", messaging.SyncBurst+3)
	}
	cl.next("pong", cl.send("ping", nil))
}

// TestGateway_SendingSocketGetsSentNotItsOwnMessage: `sent` is the sending
// socket's copy. Every other socket of the sender (same device included,
// on this node and another) gets the message frame; the sending socket
// does not, counts the seq as delivered (the next message is not preceded
// by a gap-fill of it), and even a gap-fill around an own message leaves
// the own message out. A send without a socket (HTTP) reaches them all.
func TestGateway_SendingSocketGetsSentNotItsOwnMessage(t *testing.T) {
	c := newCluster(t)
	a, b := c.node(), c.node()
	alice, bob := c.user("alice", 1), c.user("bob", 1)
	conv := c.direct(alice, bob)
	ctx := context.Background()

	phone := dial(t, a, alice.tokens[0])
	sameNode := dial(t, a, alice.tokens[0]) // the same device, twice
	otherNode := dial(t, b, alice.tokens[0])
	bobc := dial(t, b, bob.tokens[0])
	phone.next("synced", phone.send("sync", map[string]any{"cursors": map[string]int64{}}))

	seqOf := func(cl *client) int64 { return decode[courier.Message](t, cl.next("message", "")).Seq }
	if s := decode[messaging.SentData](t, phone.next("sent", phone.send("send", sendData(conv, "k1", "one")))); s.Seq != 1 {
		t.Fatalf("sent %+v", s)
	}
	for name, cl := range map[string]*client{"same node": sameNode, "other node": otherNode, "bob": bobc} {
		if got := seqOf(cl); got != 1 {
			t.Fatalf("%s got seq %d, want 1", name, got)
		}
	}
	// Bob answers: the phone gets seq 2 next, with no copy of seq 1.
	bobc.next("sent", bobc.send("send", sendData(conv, "b1", "two")))
	if got := seqOf(phone); got != 2 {
		t.Fatalf("phone got seq %d, want 2", got)
	}

	// Seq 3 is committed but its publish lost (a node died after commit);
	// the phone sends seq 4, answered while 3 has not reached it. Seq 5
	// reveals the gap: the phone gets 3 from the store, then 5, never 4.
	if _, _, err := c.store.Send(ctx, bob.devices[0], courier.SendRequest{ConversationID: conv, ClientID: "b2", Body: []byte("lost")}); err != nil {
		t.Fatal(err)
	}
	if s := decode[messaging.SentData](t, phone.next("sent", phone.send("send", sendData(conv, "k2", "four")))); s.Seq != 4 {
		t.Fatalf("sent %+v", s)
	}
	bobc.next("sent", bobc.send("send", sendData(conv, "b3", "five")))
	for _, want := range []int64{3, 5} {
		if got := seqOf(phone); got != want {
			t.Fatalf("phone got seq %d, want %d", got, want)
		}
	}

	// A send from no socket (the HTTP edge) reaches every socket.
	if _, _, err := a.svc.Send(ctx, alice.devices[0], courier.SendRequest{ConversationID: conv, ClientID: "h1", Body: []byte("six")}); err != nil {
		t.Fatal(err)
	}
	if got := seqOf(phone); got != 6 {
		t.Fatalf("phone got seq %d, want 6", got)
	}
	phone.none("message", 300*time.Millisecond)
}

// A frame over MaxWireFrame is answered with close 1009, and the client
// gets to read it: the node reads and discards the rest of the frame
// before hanging up. Closing with unread bytes resets the connection, and
// a client still writing (a Node ws client) is destroyed by the reset
// before it reads the close frame, and reports 1006.
func TestGateway_FrameOverWireLimitClosesWith1009(t *testing.T) {
	c := newCluster(t)
	n := c.node()
	alice := c.user("alice", 1)
	for i := range 10 {
		ws := rawDial(t, n, alice.tokens[0]) // the SDK never writes such a frame
		wrote := make(chan error, 1)
		go func() {
			wrote <- ws.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("A"), 3*messaging.MaxWireFrame))
		}()
		var err error
		for err == nil { // until the socket ends
			ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _, err = ws.ReadMessage()
		}
		if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			t.Fatalf("try %d: %v, want close 1009", i, err)
		}
		// The client stops writing once it has answered the 1009 (close
		// sent); a reset means the node hung up on unread bytes.
		if err := <-wrote; err != nil && !errors.Is(err, websocket.ErrCloseSent) {
			t.Fatalf("try %d: writing the frame: %v", i, err)
		}
	}
}

// Sockets past a device's or a user's cap close the oldest ones with
// 4002; the newest stay and keep working.
func TestGateway_SocketCapsCloseTheOldest(t *testing.T) {
	c := newCluster(t)
	c.gwcfg = messaging.GatewayConfig{MaxSocketsPerDevice: 2, MaxSocketsPerUser: 3}
	n := c.node()
	alice := c.user("alice", 3)
	closed := func(cl *client) bool {
		select {
		case <-cl.conn.Done():
			return cl.closedWith(courier.CloseReplaced)
		case <-time.After(5 * time.Second):
			return false
		}
	}
	first := dial(t, n, alice.tokens[0])
	second := dial(t, n, alice.tokens[0])
	third := dial(t, n, alice.tokens[0]) // the device's third: the first goes
	if !closed(first) {
		t.Fatalf("the device's oldest socket was not closed with 4002 (err %v)", first.conn.Err())
	}
	dial(t, n, alice.tokens[1])
	dial(t, n, alice.tokens[2]) // the user's fourth: the oldest left goes
	if !closed(second) {
		t.Fatalf("the user's oldest socket was not closed with 4002 (err %v)", second.conn.Err())
	}
	third.next("pong", third.send("ping", nil))
	waitFor(t, func() bool { return n.gw.Connections() == 3 })
}
