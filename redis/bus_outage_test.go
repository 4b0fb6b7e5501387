package redis_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/faultnet"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/redis"
)

// behindProxy returns a client reaching the test Redis through a proxy the
// test can cut, and the key prefix of the test.
func behindProxy(t *testing.T) (*goredis.Client, *faultnet.Proxy, string) {
	base, prefix := testenv.NewRedis(t)
	proxy := faultnet.Listen(t, base.Options().Addr)
	opt := *base.Options()
	opt.Addr = proxy.Addr()
	opt.DialTimeout = 300 * time.Millisecond
	rdb := goredis.NewClient(&opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb, proxy, prefix
}

// expectTopics waits until each topic has had an event of type typ; other
// events are ignored.
func expectTopics(t *testing.T, ch chan [2]string, typ string, topics ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, tp := range topics {
		want[tp] = true
	}
	deadline := time.After(5 * time.Second)
	for len(want) > 0 {
		select {
		case got := <-ch:
			if got[1] == typ {
				delete(want, got[0])
			}
		case <-deadline:
			t.Fatalf("no %s on %v", typ, want)
		}
	}
}

// TestEventBus_ResyncAfterFailedSubscribe: a socket whose subscription
// failed during one outage registers again later; at the next outage it
// must be told to resync like every other socket. (The bus used to count
// the failed SUBSCRIBE as still awaiting its confirmation, and took the
// resubscription after the next reconnect for it: no resync, and the
// socket missed messages silently.)
func TestEventBus_ResyncAfterFailedSubscribe(t *testing.T) {
	rdb, proxy, prefix := behindProxy(t)
	bus := redis.NewEventBus(rdb, redis.Config{Prefix: prefix})
	t.Cleanup(func() { bus.Close() })
	h, ch := collect()
	bus.Handle(h)
	ctx := context.Background()
	alice, bob := courier.UserTopic("alice"), courier.UserTopic("bob")
	if err := bus.Subscribe(ctx, alice); err != nil {
		t.Fatal(err)
	}

	// Outage 1: bob's socket cannot subscribe.
	proxy.Cut()
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	err := bus.Subscribe(sctx, bob)
	cancel()
	if err == nil {
		t.Fatal("subscribe during an outage succeeded")
	}
	proxy.Restore()
	expectTopics(t, ch, courier.EventResync, alice)

	// Bob's socket comes back and subscribes.
	if err := bus.Subscribe(ctx, bob); err != nil {
		t.Fatal(err)
	}
	// Outage 2: both sockets' live paths are interrupted.
	proxy.Cut()
	time.Sleep(100 * time.Millisecond)
	proxy.Restore()
	expectTopics(t, ch, courier.EventResync, alice, bob)

	// And live delivery works again on both.
	if err := bus.Publish(ctx, []string{"alice", "bob"}, courier.Event{Type: "message"}); err != nil {
		t.Fatal(err)
	}
	expectTopics(t, ch, "message", alice, bob)
}
