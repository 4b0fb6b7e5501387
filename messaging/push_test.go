package messaging_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/messaging"
	"github.com/courier-chat/courier/redis"
)

// stuckPusher is a PushEnqueuer that holds every call until released: the
// push side of a node that cannot keep up.
type stuckPusher struct {
	entered chan struct{}
	release chan struct{}
}

func (p *stuckPusher) EnqueuePush(ctx context.Context, _, _ string, _ int64) error {
	p.entered <- struct{}{}
	<-p.release
	return nil
}

// TestService_PushQueueFullDropsWithoutWaiting checks a send never waits
// for the push check: with the worker stuck and the queue full, sends are
// answered at once and the pushes they would have made are counted as
// dropped.
func TestService_PushQueueFullDropsWithoutWaiting(t *testing.T) {
	c := newCluster(t)
	alice, bob := c.user("alice", 1), c.user("bob", 1) // bob is offline
	conv := c.direct(alice, bob)
	pusher := &stuckPusher{entered: make(chan struct{}, 1), release: make(chan struct{})}
	bus := redis.NewEventBus(c.rdb, redis.Config{Prefix: c.prefix})
	t.Cleanup(func() { bus.Close() })
	svc := messaging.NewService(messaging.Config{SendRate: 1000, SendBurst: 1000, PushWorkers: 1, PushQueue: 1},
		c.store, c.convs, bus, redis.NewPresence(c.rdb, c.prefix), c.accounts, pusher, nil)

	send := func(i int) {
		t.Helper()
		start := time.Now()
		_, _, err := svc.Send(context.Background(), alice.devices[0],
			courier.SendRequest{ConversationID: conv, ClientID: fmt.Sprint(i), Body: []byte("x")})
		if err != nil {
			t.Fatal(err)
		} else if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("send %d took %v: it waited for the push queue", i, d)
		}
	}
	send(0)
	<-pusher.entered // the worker holds message 1
	for i := 1; i <= 5; i++ {
		send(i) // message 2 waits in the queue, 3–6 are dropped
	}
	if got := svc.PushesDropped(); got != 4 {
		t.Fatalf("dropped %d pushes, want 4", got)
	}
	close(pusher.release)
	svc.Close() // the queued one is still pushed
	select {
	case <-pusher.entered:
	default:
		t.Fatal("the queued push was not made before Close returned")
	}
}

// TestService_PushesOnlyOfflineDevicesOfAGroup checks the batched push
// check: in a group, every offline device of every member but the sender
// gets one push per message, and online devices none.
func TestService_PushesOnlyOfflineDevicesOfAGroup(t *testing.T) {
	c := newCluster(t)
	n := c.node()
	alice, bob, carol := c.user("alice", 2), c.user("bob", 2), c.user("carol", 1)
	g, err := c.convs.CreateGroup(context.Background(), alice.id, "g", []string{bob.id, carol.id})
	if err != nil {
		t.Fatal(err)
	}
	dial(t, n, bob.tokens[0]) // bob's phone online, his tablet not; carol offline
	for i := range 3 {
		if _, _, err := n.svc.Send(context.Background(), alice.devices[0],
			courier.SendRequest{ConversationID: g.ID, ClientID: fmt.Sprint(i), Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	// Two workers may take the messages in either order.
	want := []int64{1, 2, 3}
	pushed := func(d *courier.Device) []int64 { return slices.Sorted(slices.Values(c.pushes.seqs(d.ID))) }
	waitFor(t, func() bool {
		return slices.Equal(pushed(bob.devices[1]), want) && slices.Equal(pushed(carol.devices[0]), want)
	})
	for _, d := range []*courier.Device{alice.devices[0], alice.devices[1], bob.devices[0]} {
		if p := c.pushes.seqs(d.ID); len(p) != 0 {
			t.Fatalf("device %s pushed %v", d.Name, p)
		}
	}
}

// countingLister counts the device queries of the push check.
type countingLister struct {
	messaging.DeviceLister
	n atomic.Int64
}

func (l *countingLister) DevicesOf(ctx context.Context, userIDs []string) ([]*courier.Device, error) {
	l.n.Add(1)
	return l.DeviceLister.DevicesOf(ctx, userIDs)
}

// TestService_PushCheckSkipsMembersOnlineHere: members all of whose
// devices hold a socket on the sending node cost the push check no query
// once it knows their devices; a device whose socket is gone still gets
// its push, and so does a new device the node is told of by
// devices.changed.
func TestService_PushCheckSkipsMembersOnlineHere(t *testing.T) {
	c := newCluster(t)
	lister := &countingLister{DeviceLister: c.accounts}
	c.devices = lister
	n := c.node()
	alice, bob, carol := c.user("alice", 1), c.user("bob", 1), c.user("carol", 1)
	g, err := c.convs.CreateGroup(context.Background(), alice.id, "g", []string{bob.id, carol.id})
	if err != nil {
		t.Fatal(err)
	}
	bc := dial(t, n, bob.tokens[0])
	dial(t, n, carol.tokens[0])
	send := func(i int) {
		t.Helper()
		if _, _, err := n.svc.Send(context.Background(), alice.devices[0],
			courier.SendRequest{ConversationID: g.ID, ClientID: fmt.Sprint(i), Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	settle := func() { time.Sleep(200 * time.Millisecond) } // the push workers linger 20 ms

	send(1) // the first check learns bob's and carol's devices
	waitFor(t, func() bool { return lister.n.Load() > 0 })
	settle()
	before := lister.n.Load()
	send(2)
	send(3)
	settle()
	if q := lister.n.Load() - before; q != 0 {
		t.Fatalf("%d device queries for members online here with every device", q)
	}

	// Bob's socket goes: his phone gets its push.
	bc.conn.Close()
	waitFor(t, func() bool { return n.gw.Connections() == 1 })
	send(4)
	waitFor(t, func() bool { return slices.Contains(c.pushes.seqs(bob.devices[0].ID), 4) })

	// Carol adds a tablet, which uploading its keys announces.
	tablet, _, err := c.accounts.CreateDevice(context.Background(), carol.id, "tablet")
	if err != nil {
		t.Fatal(err)
	}
	bus := redis.NewEventBus(c.rdb, redis.Config{Prefix: c.prefix})
	t.Cleanup(func() { bus.Close() })
	if err := bus.Publish(context.Background(), []string{carol.id},
		courier.Event{Type: courier.EventDevicesChanged, Data: []byte(`{"user_id":"` + carol.id + `"}`)}); err != nil {
		t.Fatal(err)
	}
	settle()
	send(5)
	waitFor(t, func() bool { return slices.Contains(c.pushes.seqs(tablet.ID), 5) })
	for _, d := range []*courier.Device{carol.devices[0]} {
		if p := c.pushes.seqs(d.ID); len(p) != 0 {
			t.Fatalf("carol's online phone pushed %v", p)
		}
	}
}
