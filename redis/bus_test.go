package redis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/messaging"
	"github.com/courier-chat/courier/redis"
)

// collect returns a handler recording events per topic on a channel.
func collect() (func(string, courier.Event), chan [2]string) {
	ch := make(chan [2]string, 100)
	return func(topic string, e courier.Event) { ch <- [2]string{topic, e.Type} }, ch
}

func expect(t *testing.T, ch chan [2]string, topic, typ string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != [2]string{topic, typ} {
			t.Fatalf("got %v, want %s %s", got, topic, typ)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("no event %s on %s", typ, topic)
	}
}

func expectNothing(t *testing.T, ch chan [2]string) {
	t.Helper()
	select {
	case got := <-ch:
		t.Fatalf("unexpected event %v", got)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestEventBus_AcrossNodesWithReferenceCounts(t *testing.T) {
	rdb, prefix := testenv.NewRedis(t)
	ctx := context.Background()
	a := redis.NewEventBus(rdb, redis.Config{Prefix: prefix})
	b := redis.NewEventBus(rdb, redis.Config{Prefix: prefix})
	t.Cleanup(func() { a.Close(); b.Close() })
	ha, cha := collect()
	hb, chb := collect()
	a.Handle(ha)
	b.Handle(hb)

	// Two sockets of alice on node B: one subscription, two references.
	for range 2 {
		if err := b.Subscribe(ctx, messaging.UserTopic("alice")); err != nil {
			t.Fatal(err)
		}
	}
	// Subscribe has returned, so a publish right now must arrive.
	a.Publish(ctx, []string{"alice", "bob"}, courier.Event{Type: "message", Data: json.RawMessage(`{"seq":1}`)})
	expect(t, chb, "u:alice", "message")
	expectNothing(t, cha) // node A subscribed to nothing

	b.Unsubscribe(messaging.UserTopic("alice"))
	a.Publish(ctx, []string{"alice"}, courier.Event{Type: "message"})
	expect(t, chb, "u:alice", "message") // one reference left

	b.Unsubscribe(messaging.UserTopic("alice"))
	// Unsubscribe does not wait for Redis; a Subscribe does, for
	// everything sent before it on the connection.
	if err := b.Subscribe(ctx, messaging.UserTopic("barrier")); err != nil {
		t.Fatal(err)
	}
	a.Publish(ctx, []string{"alice"}, courier.Event{Type: "message"})
	expectNothing(t, chb)

	// Unsubscribe then subscribe again at once: the order holds.
	b.Subscribe(ctx, messaging.PresenceTopic("bob"))
	b.Unsubscribe(messaging.PresenceTopic("bob"))
	b.Subscribe(ctx, messaging.PresenceTopic("bob"))
	a.PublishTopic(ctx, messaging.PresenceTopic("bob"), courier.Event{Type: "presence"})
	expect(t, chb, "p:bob", "presence")
}

func TestMemoryBus_SameContract(t *testing.T) {
	broker := messaging.NewMemoryBroker()
	a, b := broker.Node(), broker.Node()
	hb, chb := collect()
	b.Handle(hb)
	ctx := context.Background()
	b.Subscribe(ctx, messaging.UserTopic("alice"))
	a.Publish(ctx, []string{"alice", "bob"}, courier.Event{Type: "message"})
	expect(t, chb, "u:alice", "message")
	b.Unsubscribe(messaging.UserTopic("alice"))
	a.Publish(ctx, []string{"alice"}, courier.Event{Type: "message"})
	expectNothing(t, chb)
}

func TestPresence(t *testing.T) {
	rdb, prefix := testenv.NewRedis(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		p    messaging.Presence
	}{
		{"redis", redis.NewPresence(rdb, prefix)},
		{"memory", messaging.NewMemoryPresence()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			u := courier.NewID()
			if online, _, _ := p.Status(ctx, u); online {
				t.Fatal("online before connecting")
			}
			p.Connect(ctx, u, "phone")
			p.Connect(ctx, u, "tablet")
			devs, err := p.OnlineDevices(ctx, []string{u, "nobody"})
			if err != nil || !devs["phone"] || !devs["tablet"] || len(devs) != 2 {
				t.Fatalf("online devices = %v, %v", devs, err)
			}
			if still, _ := p.Disconnect(ctx, u, "phone"); !still {
				t.Fatal("tablet still connected: user should be online")
			}
			if still, _ := p.Disconnect(ctx, u, "tablet"); still {
				t.Fatal("no device left: user should be offline")
			}
			online, seen, err := p.Status(ctx, u)
			if err != nil || online || time.Since(seen) > 5*time.Second {
				t.Fatalf("status = %v %v %v, want offline, seen just now", online, seen, err)
			}
		})
	}
}

// TestEventBus_OneDecodePerGroupEvent checks an event published to several
// users subscribed on one node reaches each topic with its own data right,
// and that the repeats share one decoded Data (the hub renders it once),
// while different events back to back are each decoded.
func TestEventBus_OneDecodePerGroupEvent(t *testing.T) {
	rdb, prefix := testenv.NewRedis(t)
	ctx := context.Background()
	b := redis.NewEventBus(rdb, redis.Config{Prefix: prefix})
	t.Cleanup(func() { b.Close() })
	type got struct {
		topic string
		e     courier.Event
	}
	ch := make(chan got, 100)
	b.Handle(func(topic string, e courier.Event) { ch <- got{topic, e} })
	users := []string{"u1", "u2", "u3"}
	for _, u := range users {
		if err := b.Subscribe(ctx, messaging.UserTopic(u)); err != nil {
			t.Fatal(err)
		}
	}
	for _, data := range []string{`{"seq":1}`, `{"seq":2}`} {
		if err := b.Publish(ctx, users, courier.Event{Type: "message", Data: json.RawMessage(data)}); err != nil {
			t.Fatal(err)
		}
		var first *byte
		for i, u := range users {
			select {
			case g := <-ch:
				if g.topic != messaging.UserTopic(u) || string(g.e.Data) != data {
					t.Fatalf("got %s %s, want %s %s", g.topic, g.e.Data, messaging.UserTopic(u), data)
				}
				if i == 0 {
					first = &g.e.Data[0]
				} else if &g.e.Data[0] != first {
					t.Fatalf("event decoded again for %s", u)
				}
			case <-time.After(3 * time.Second):
				t.Fatalf("no event for %s", u)
			}
		}
	}
}

// TestEventBus_ConcurrentPublishes sends many Publishes at once, which the
// bus pipelines together: each returns only after its event is out, every
// event reaches its topic once with its own data, and nothing is published
// after Close.
func TestEventBus_ConcurrentPublishes(t *testing.T) {
	rdb, prefix := testenv.NewRedis(t)
	ctx := context.Background()
	pub := redis.NewEventBus(rdb, redis.Config{Prefix: prefix})
	sub := redis.NewEventBus(rdb, redis.Config{Prefix: prefix})
	t.Cleanup(func() { sub.Close() })
	const n = 2000
	got := make(chan string, 2*n)
	sub.Handle(func(topic string, e courier.Event) { got <- topic + " " + e.Origin + " " + string(e.Data) })
	for _, u := range []string{"a", "b"} {
		if err := sub.Subscribe(ctx, messaging.UserTopic(u)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			data := json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))
			e := courier.Event{Type: "message", Data: data, Origin: fmt.Sprint("o", i)}
			if err := pub.Publish(ctx, []string{"a", "b"}, e); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for len(seen) < 2*n {
		select {
		case s := <-got:
			if seen[s] {
				t.Fatalf("%s delivered twice", s)
			}
			seen[s] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("%d of %d events arrived", len(seen), 2*n)
		}
	}
	for i := range n {
		for _, u := range []string{"a", "b"} {
			if s := fmt.Sprintf(`u:%s o%d {"i":%d}`, u, i, i); !seen[s] {
				t.Fatalf("missing %s", s)
			}
		}
	}

	pub.Close()
	if err := pub.Publish(ctx, []string{"a"}, courier.Event{Type: "message"}); courier.ErrorCode(err) != courier.EUNAVAILABLE {
		t.Fatalf("publish after close: %v, want %s", err, courier.EUNAVAILABLE)
	}
}

// TestEventBus_ReadsJSONPayloads checks a node reads what an older node
// publishes (json.Marshal of an Event, no origin), what it publishes itself,
// and any other JSON spelling of an event, and drops payloads it cannot
// read without stopping.
func TestEventBus_ReadsJSONPayloads(t *testing.T) {
	rdb, prefix := testenv.NewRedis(t)
	ctx := context.Background()
	b := redis.NewEventBus(rdb, redis.Config{Prefix: prefix})
	t.Cleanup(func() { b.Close() })
	got := make(chan courier.Event, 10)
	b.Handle(func(topic string, e courier.Event) { got <- e })
	if err := b.Subscribe(ctx, messaging.UserTopic("a")); err != nil {
		t.Fatal(err)
	}
	ch := prefix + "ev:" + messaging.UserTopic("a")
	for _, payload := range []string{
		`{"type":"message","data":{"seq":3}}`, // an older node
		"not json",
		`{"data":{"seq":9}}`, // no type
		`{"type":"message","origin":"origin-1","data":{"seq":4}}`,
		`{ "data" : {"seq":5}, "type" : "message" }`,
		`{"type":"resync"}`,
	} {
		if err := rdb.Publish(ctx, ch, payload).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []courier.Event{
		{Type: "message", Data: json.RawMessage(`{"seq":3}`)},
		{Type: "message", Data: json.RawMessage(`{"seq":4}`), Origin: "origin-1"},
		{Type: "message", Data: json.RawMessage(`{"seq":5}`)},
		{Type: "resync"},
	} {
		select {
		case e := <-got:
			if e.Type != want.Type || string(e.Data) != string(want.Data) || e.Origin != want.Origin {
				t.Fatalf("got %+v, want %+v", e, want)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("no event %s", want.Data)
		}
	}
}

// TestEventBus_PublishErrorsReachEveryCaller: when Redis cannot be reached,
// every Publish batched into the failed pipelines returns an error.
func TestEventBus_PublishErrorsReachEveryCaller(t *testing.T) {
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	b := redis.NewEventBus(rdb, redis.Config{Prefix: "unreachable:"})
	t.Cleanup(func() { b.Close(); rdb.Close() })
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Go(func() {
			errs <- b.Publish(context.Background(), []string{"a", fmt.Sprint("u", i)}, courier.Event{Type: "message"})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err == nil {
			t.Fatal("a publish to an unreachable Redis returned no error")
		}
	}
}
