package redis

import (
	"context"
	"hash/maphash"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/courier-chat/courier"
)

// Routes: a group message crosses Redis once per node, not once per member.
//
// Each node subscribes one channel of its own (prefix "ev:n:" + a random
// node ID) and keeps, for every user with a socket on it, a route in
// Redis: a sorted set per user ("rt:" + user ID) of the nodes holding
// their sockets, each scored by the end of its lease (unix ms), renewed
// every courier.PresenceRefresh like presence, so a killed node's routes
// run out by themselves within courier.PresenceTTL. A publish to many
// users is one script (publishScript) that reads their routes and
// publishes once per node: the node's users, a newline, and the event, as
// every node channel carries it. The receiving node decodes the event once
// and hands it to each named user's topic.
//
// Subscribe returns after the route is written, so a publish that starts
// after it (a message committed after the caller's store read began)
// finds the node. The script runs atomically: a publish reached every
// routed node, or none. It reads the keys of many users, so it needs one
// Redis (with replicas if wanted), not Redis Cluster, whose keys of one
// script must share a slot.

const userTopicPrefix = "u:" // courier.UserTopic's

// routeStripes serialise route writes per user (by hash), so a user's
// route follows their reference count in order without one lock for all.
const routeStripes = 64

type routes struct {
	node        string // this node's ID
	nodeChannel string
	nodePrefix  string // node channels' prefix, for the script
	keyPrefix   string // route keys' prefix
	onceKey     func(conversationID string, seq int64) (string, int64)

	joinMu sync.Mutex
	joined bool // the node channel is subscribed (b.refs holds it once)

	stripes [routeStripes]sync.Mutex
	seed    maphash.Seed
	routed  map[string]bool // users whose route this node wrote (under EventBus.mu)
}

func (r *routes) init(prefix string) {
	r.node = courier.NewID()
	r.nodePrefix = prefix + "ev:n:"
	r.nodeChannel = r.nodePrefix + r.node
	r.keyPrefix = prefix + "rt:"
	r.seed = maphash.MakeSeed()
	r.routed = map[string]bool{}
	r.onceKey = func(conv string, seq int64) (string, int64) {
		return prefix + "pub:" + conv + ":" + strconv.FormatInt(seq/onceWindow, 10), seq % onceWindow
	}
}

// Message publishes are remembered so that a resend publishes only when
// the first publish may not have happened: the script sets bit seq of
// the conversation's bitmap and publishes nothing if it was set. A bitmap
// covers onceWindow seqs (512 bytes) and lives onceTTL after its last
// publish; a resend later than that publishes again, as every resend did
// before.
const (
	onceWindow = 4096
	onceTTL    = 10 * time.Minute
)

// publishScript: KEYS are the users' route keys; ARGV is now (ms), the
// node channels' prefix, the payload, the once key ("" for none), its bit,
// its TTL (s), then the user IDs in KEYS' order. It returns the number of
// nodes published to, or -1 when the once bit was already set.
var publishScript = goredis.NewScript(`
if ARGV[4] ~= "" then
  if redis.call('SETBIT', ARGV[4], ARGV[5], 1) == 1 then return -1 end
  redis.call('EXPIRE', ARGV[4], ARGV[6])
end
local users, order = {}, {}
for i, key in ipairs(KEYS) do
  for _, node in ipairs(redis.call('ZRANGE', key, ARGV[1], '+inf', 'BYSCORE')) do
    local l = users[node]
    if not l then l = {}; users[node] = l; order[#order+1] = node end
    l[#l+1] = ARGV[6+i]
  end
end
for _, node in ipairs(order) do
  redis.call('PUBLISH', ARGV[2] .. node, table.concat(users[node], ' ') .. '\n' .. ARGV[3])
end
return #order
`)

// routedPublish queues r's script on pipe.
func (b *EventBus) routedPublish(ctx context.Context, pipe goredis.Pipeliner, r *publishReq) goredis.Cmder {
	keys := make([]string, len(r.users))
	args := make([]any, 6, 6+len(r.users))
	args[0], args[1], args[2] = nowMS(), b.nodePrefix, r.payload
	args[3], args[4], args[5] = r.once, r.onceBit, int(onceTTL.Seconds())
	for i, u := range r.users {
		keys[i] = b.keyPrefix + u
		args = append(args, u)
	}
	return publishScript.EvalSha(ctx, pipe, keys, args...)
}

// receiveRouted hands an event on the node channel to each user it names.
func (b *EventBus) receiveRouted(payload string) {
	users, event, ok := strings.Cut(payload, "\n")
	if !ok {
		b.logger.Warn("event bus: bad routed payload")
		return
	}
	e, err := decodeEvent(event)
	if err != nil {
		b.logger.Warn("event bus: bad payload", "channel", b.nodeChannel, "err", err)
		return
	}
	for u := range strings.SplitSeq(users, " ") {
		b.deliverTopic(userTopicPrefix+u, e)
	}
}

// subscribeUser takes a reference on a user topic: the node channel is
// subscribed and the user's route to this node written before it returns.
func (b *EventBus) subscribeUser(ctx context.Context, topic, user string) error {
	b.mu.Lock()
	b.refs[topic]++
	b.mu.Unlock()
	err := b.join(ctx)
	if err == nil {
		err = b.syncRoute(ctx, user)
	}
	if err != nil {
		b.unsubscribeUser(topic, user)
		return courier.Unavailable("event bus", err)
	}
	return nil
}

// unsubscribeUser drops a reference; the last one removes the route.
func (b *EventBus) unsubscribeUser(topic, user string) {
	b.mu.Lock()
	if b.refs[topic]--; b.refs[topic] <= 0 {
		delete(b.refs, topic)
	}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), routeWait)
	defer cancel()
	if err := b.syncRoute(ctx, user); err != nil {
		// The route runs out within courier.PresenceTTL; meanwhile this
		// node gets the user's events and has no socket to hand them to.
		courier.Repeats.Log(b.logger, slog.LevelWarn, "event bus", "event bus: remove route", "err", err)
	}
}

// routeWait bounds a route removal, which has no caller's context.
const routeWait = 2 * time.Second

// join subscribes the node channel, once.
func (b *EventBus) join(ctx context.Context) error {
	b.joinMu.Lock()
	defer b.joinMu.Unlock()
	if b.joined {
		return nil
	}
	if err := b.subscribeChannel(ctx, strings.TrimPrefix(b.nodeChannel, b.prefix)); err != nil {
		return err
	}
	b.joined = true
	return nil
}

// syncRoute makes the user's route to this node in Redis follow the
// topic's references: written while there are any, removed after the
// last. Under the user's stripe, so writes for one user keep their order.
func (b *EventBus) syncRoute(ctx context.Context, user string) error {
	mu := &b.stripes[maphash.String(b.seed, user)%routeStripes]
	mu.Lock()
	defer mu.Unlock()
	b.mu.Lock()
	want, have := b.refs[userTopicPrefix+user] > 0, b.routed[user]
	b.mu.Unlock()
	switch {
	case want && !have:
		if err := b.writeRoutes(ctx, []string{user}); err != nil {
			return err
		}
		b.mu.Lock()
		b.routed[user] = true
		b.mu.Unlock()
	case !want && have:
		b.mu.Lock()
		delete(b.routed, user)
		b.mu.Unlock()
		return b.rdb.ZRem(ctx, b.keyPrefix+user, b.node).Err()
	}
	return nil
}

// routeBatch is how many routes one pipeline renews.
const routeBatch = 1000

// writeRoutes writes (or renews) this node's route for each user.
func (b *EventBus) writeRoutes(ctx context.Context, users []string) error {
	until := float64(nowMS() + courier.PresenceTTL.Milliseconds())
	for len(users) > 0 {
		n := min(len(users), routeBatch)
		pipe := b.rdb.Pipeline()
		for _, u := range users[:n] {
			key := b.keyPrefix + u
			pipe.ZAdd(ctx, key, goredis.Z{Score: until, Member: b.node})
			pipe.PExpire(ctx, key, 2*courier.PresenceTTL)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		users = users[n:]
	}
	return nil
}

// routedUsers lists the users whose routes this node holds.
func (b *EventBus) routedUsers() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	users := make([]string, 0, len(b.routed))
	for u := range b.routed {
		users = append(users, u)
	}
	return users
}

// refreshLoop renews this node's routes every courier.PresenceRefresh.
func (b *EventBus) refreshLoop(ctx context.Context) {
	t := time.NewTicker(courier.PresenceRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := b.writeRoutes(ctx, b.routedUsers()); err != nil && ctx.Err() == nil {
			courier.Repeats.Log(b.logger, slog.LevelWarn, "event bus", "event bus: renew routes", "err", err)
		}
	}
}

// rejoin runs after go-redis reconnected and resubscribed the node
// channel: events published meanwhile are lost, and Redis may have lost
// the routes too (a restart). The routes are written again first, so the
// sync a client sends on resync misses nothing published after it; then
// every user topic with a local reference gets a resync.
func (b *EventBus) rejoin(ctx context.Context) {
	for ctx.Err() == nil {
		wctx, cancel := context.WithTimeout(ctx, routeWait)
		err := b.writeRoutes(wctx, b.routedUsers())
		cancel()
		if err == nil {
			break
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return
		}
	}
	b.mu.Lock()
	var topics []string
	for t := range b.refs {
		if strings.HasPrefix(t, userTopicPrefix) {
			topics = append(topics, t)
		}
	}
	b.mu.Unlock()
	for _, t := range topics {
		b.deliverTopic(t, courier.Event{Type: courier.EventResync})
	}
}
