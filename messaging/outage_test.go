package messaging_test

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/faultnet"
	"github.com/courier-chat/courier/messaging"
)

// TestGateway_RedisOutage: while a node's Redis is away, a socket still
// connects, syncs and sends (the database is up), `sent` does not wait for
// the dead bus beyond PublishWait, and once Redis is back the socket is
// subscribed, told to resync, and receives live messages again.
func TestGateway_RedisOutage(t *testing.T) {
	c := newCluster(t)
	proxy := faultnet.Listen(t, c.rdb.Options().Addr)
	opt := *c.rdb.Options()
	opt.Addr = proxy.Addr()
	opt.DialTimeout = 300 * time.Millisecond
	rdb := goredis.NewClient(&opt)
	t.Cleanup(func() { rdb.Close() })
	a, b := c.nodeOn(rdb), c.node()
	alice, bob := c.user("alice", 1), c.user("bob", 1)
	conv := c.direct(alice, bob)
	bobWS := dial(t, b, bob.tokens[0])

	proxy.Cut()
	aliceWS := dial(t, a, alice.tokens[0]) // answered pong: connected
	aliceWS.next(courier.FrameSynced, aliceWS.send("sync", map[string]any{"cursors": map[string]int64{}}))
	start := time.Now()
	id := aliceWS.send("send", sendData(conv, "k1", "during the outage"))
	sent := decode[messaging.SentData](t, aliceWS.next(courier.FrameSent, id))
	if sent.Seq != 1 {
		t.Fatalf("sent seq %d, want 1", sent.Seq)
	}
	t.Logf("sent after %v with Redis away", time.Since(start))
	// Bob's node never heard of it; he finds it by syncing.
	bobWS.none(courier.EventMessage, 300*time.Millisecond)

	proxy.Restore()
	aliceWS.next(courier.EventResync, "")
	// Alice's socket is live again: bob's next message reaches her.
	bobWS.next(courier.FrameSynced, bobWS.send("sync", map[string]any{"cursors": map[string]int64{}}))
	bobWS.next(courier.FrameSent, bobWS.send("send", sendData(conv, "k2", "after")))
	got := decode[courier.Message](t, aliceWS.next(courier.EventMessage, ""))
	if got.Seq != 2 {
		t.Fatalf("alice got seq %d live, want 2", got.Seq)
	}
}
