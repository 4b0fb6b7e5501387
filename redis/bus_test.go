package redis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/bustest"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/redis"
)

// collect returns a handler recording events per topic on a channel.
func collect() (func(string, courier.Event), chan [2]string) {
	ch := make(chan [2]string, 100)
	return func(topic string, e courier.Event) { ch <- [2]string{topic, e.Type} }, ch
}

// The contract of courier.EventBus and courier.Presence, which the
// in-process implementations in inmem/ pass too.
func TestEventBus_Contract(t *testing.T) {
	bustest.EventBus(t, func(t *testing.T) (courier.EventBus, courier.EventBus) {
		rdb, prefix := testenv.NewRedis(t)
		a := redis.NewEventBus(rdb, redis.Config{Prefix: prefix})
		b := redis.NewEventBus(rdb, redis.Config{Prefix: prefix})
		t.Cleanup(func() { a.Close(); b.Close() })
		return a, b
	})
}

func TestPresence_Contract(t *testing.T) {
	rdb, prefix := testenv.NewRedis(t)
	bustest.Presence(t, redis.NewPresence(rdb, prefix))
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
		if err := sub.Subscribe(ctx, courier.UserTopic(u)); err != nil {
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
	if err := b.Subscribe(ctx, courier.UserTopic("a")); err != nil {
		t.Fatal(err)
	}
	ch := redis.NodeChannel(b)
	for _, payload := range []string{
		`{"type":"message","data":{"seq":3}}`, // an older node
		"not json",
		`{"type":"message","data":{"seq":8}}`[1:], // cut
		`{"data":{"seq":9}}`,                      // no type
		`{"type":"message","origin":"origin-1","data":{"seq":4}}`,
		`{ "data" : {"seq":5}, "type" : "message" }`,
		`{"type":"resync"}`,
	} {
		if err := rdb.Publish(ctx, ch, "a\n"+payload).Err(); err != nil {
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

// TestEventBus_OncePerNode: a publish to many users crosses Redis once per
// node holding any of them, naming that node's users, and a node whose
// last reference on a user is gone is routed no more.
func TestEventBus_OncePerNode(t *testing.T) {
	rdb, prefix := testenv.NewRedis(t)
	ctx := context.Background()
	pub := redis.NewEventBus(rdb, redis.Config{Prefix: prefix})
	b1 := redis.NewEventBus(rdb, redis.Config{Prefix: prefix})
	b2 := redis.NewEventBus(rdb, redis.Config{Prefix: prefix})
	t.Cleanup(func() { pub.Close(); b1.Close(); b2.Close() })
	h1, ch1 := collect()
	h2, ch2 := collect()
	b1.Handle(h1)
	b2.Handle(h2)
	var users []string
	for i := range 60 {
		u := fmt.Sprint("m", i)
		users = append(users, u)
		node := b1
		if i%3 == 0 {
			node = b2
		}
		if err := node.Subscribe(ctx, courier.UserTopic(u)); err != nil {
			t.Fatal(err)
		}
	}
	// What crosses Redis: every node channel, watched from outside.
	watch := rdb.PSubscribe(ctx, prefix+"ev:n:*")
	t.Cleanup(func() { watch.Close() })
	if _, err := watch.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, append(users, "offline"), courier.Event{Type: "message", Data: json.RawMessage(`{"seq":1}`)}); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for range 2 {
		m, err := watch.ReceiveTimeout(ctx, 3*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		msg := m.(*goredis.Message)
		got[msg.Channel] = len(strings.Fields(strings.SplitN(msg.Payload, "\n", 2)[0]))
	}
	if want := map[string]int{redis.NodeChannel(b1): 40, redis.NodeChannel(b2): 20}; !maps.Equal(got, want) {
		t.Fatalf("published %v (channel → users named), want %v", got, want)
	}
	if m, err := watch.ReceiveTimeout(ctx, 300*time.Millisecond); err == nil {
		t.Fatalf("a third publish: %v", m)
	}
	for range 40 {
		<-ch1
	}
	for range 20 {
		<-ch2
	}

	// m1 leaves b1: the route goes with the last reference.
	if err := b1.Subscribe(ctx, courier.UserTopic("m1")); err != nil {
		t.Fatal(err)
	}
	b1.Unsubscribe(courier.UserTopic("m1"))
	if n := rdb.ZCard(ctx, prefix+"rt:m1").Val(); n != 1 {
		t.Fatalf("m1 has %d routes with one reference left, want 1", n)
	}
	b1.Unsubscribe(courier.UserTopic("m1"))
	if n := rdb.ZCard(ctx, prefix+"rt:m1").Val(); n != 0 {
		t.Fatalf("m1 has %d routes after its last reference, want 0", n)
	}
	if err := pub.Publish(ctx, []string{"m1"}, courier.Event{Type: "message"}); err != nil {
		t.Fatal(err)
	}
	if m, err := watch.ReceiveTimeout(ctx, 300*time.Millisecond); err == nil {
		t.Fatalf("published to a user with no route: %v", m)
	}
}
