package messaging_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/postgres"
	"github.com/courier-chat/courier/redis"
)

// A mailbox payload reaches only the addressed device, live on whichever
// node holds its socket, and again at every mailbox.sync until acked.
func TestMailboxFrames(t *testing.T) {
	c := newCluster(t)
	box := postgres.NewMailboxStore(c.db.Pool)
	a, b := c.node(), c.node()
	for _, n := range []*node{a, b} {
		n.gw.SetMailbox(box)
	}
	alice, bob := c.user("alice", 1), c.user("bob", 2)
	c.direct(alice, bob)
	bob0, bob1 := dial(t, a, bob.tokens[0]), dial(t, b, bob.tokens[1])

	// The API node's side: store, then publish on the bus (api/mailbox.go).
	items, err := box.PutMailbox(context.Background(), alice.devices[0],
		[]courier.MailboxPut{{DeviceID: bob.devices[0].ID, Payload: []byte("sealed")}})
	if err != nil {
		t.Fatal(err)
	}
	pub := redis.NewEventBus(c.rdb, redis.Config{Prefix: c.prefix})
	t.Cleanup(func() { pub.Close() })
	data, _ := json.Marshal(items[0])
	if err := pub.Publish(context.Background(), []string{bob.id}, courier.Event{Type: courier.EventMailbox, Data: data}); err != nil {
		t.Fatal(err)
	}
	live := decode[courier.MailboxItem](t, bob0.next("mailbox", ""))
	if live.ID != items[0].ID || string(live.Payload) != "sealed" || live.SenderDeviceID != alice.devices[0].ID {
		t.Errorf("live item %+v", live)
	}
	bob1.none("mailbox", 300*time.Millisecond)

	// Not acknowledged: a new socket gets it from mailbox.sync.
	again := dial(t, b, bob.tokens[0])
	id := again.send("mailbox.sync", map[string]any{})
	if f := again.next("", ""); f.Type != "mailbox" {
		t.Fatalf("sync answered %s %s", f.Type, f.Data)
	} else if got := decode[courier.MailboxItem](t, f); got.ID != items[0].ID {
		t.Errorf("sync gave %+v", got)
	}
	if ok := decode[map[string]bool](t, again.next("ok", id)); ok["more"] {
		t.Error("more = true for one waiting item")
	}
	id = again.send("mailbox.ack", map[string]any{"ids": []int64{items[0].ID}})
	if ok := decode[map[string]int](t, again.next("ok", id)); ok["deleted"] != 1 {
		t.Errorf("ack deleted %d", ok["deleted"])
	}
	id = again.send("mailbox.sync", map[string]any{"after": 0})
	if f := again.next("", ""); f.Type != "ok" || f.ID != id {
		t.Errorf("after the ack, sync answered %s %s", f.Type, f.Data)
	}
	// Bad frames get errors, not a closed socket.
	if e := again.errorCode(again.send("mailbox.ack", map[string]any{"ids": "x"})); e.Code != courier.EINVALID {
		t.Errorf("bad ack: %+v", e)
	}
}
