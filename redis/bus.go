package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/batch"
)

// EventBus is a courier.EventBus on Redis pub/sub. Each node holds ONE pub/sub
// connection. User topics travel by route (route.go): the node subscribes
// one channel of its own and keeps, per user with a local socket, a route
// in Redis (user → nodes), and a publish to many users is one script that
// resolves the routes and publishes once per node, naming the node's
// users. Other topics (presence) have a channel each, subscribed while at
// least one local socket wants it (reference-counted here). Publishers
// resolve membership and publish to each member's topic, so no
// per-conversation subscription ever exists.
//
// Redis pub/sub is fire-and-forget: events published while the connection
// is down are lost. When go-redis reconnects and resubscribes, the bus
// delivers courier.EventResync on every topic, and clients resync.
type EventBus struct {
	rdb    goredis.UniversalClient
	prefix string
	logger *slog.Logger
	ps     *goredis.PubSub

	mu       sync.Mutex
	refs     map[string]int           // topic → local references
	expected map[string]int           // channel → our SUBSCRIBEs not yet confirmed
	barriers map[string]chan struct{} // ping payload → waiter
	handler  atomic.Pointer[func(topic string, e courier.Event)]

	routes // user topics: the node channel and the routes to it (route.go)

	seq    atomic.Int64
	cancel context.CancelFunc
	done   chan struct{}

	pubq *batch.Queue[*publishReq]
}

// publishReq is one Publish waiting for its pipeline: to the nodes routed
// for users, or to one channel. A message publish carries its once key and
// bit (route.go); published says whether it went out.
type publishReq struct {
	users     []string
	channel   string
	payload   string
	once      string
	onceBit   int64
	published bool
	done      chan error // buffered: a publisher never blocks on a caller
}

// cost is the share of a pipeline the request takes: one command, whose
// script does a lookup per user.
func (r *publishReq) cost() int { return max(1, len(r.users)) }

// Publishes are pipelined across callers: a publisher goroutine takes the
// first waiting Publish, drains whatever else is queued (up to
// maxPublishBatch) and sends them all in one pipeline, so under load one
// round trip and one pair of syscalls serve many messages rather than one
// each. While it waits for Redis, new Publishes queue for the next one.
const (
	publishers      = 2
	maxPublishBatch = 256
	maxPipeline     = 2048 // commands per pipeline; one Publish's never split
)

var _ courier.EventBus = (*EventBus)(nil)

// Config configures an EventBus.
type Config struct {
	// Prefix of every channel and key. Default "courier:".
	Prefix string
	// Logger for connection trouble. Default slog.Default().
	Logger *slog.Logger
}

// receiveTimeout is how long the receive loop waits before it pings the
// connection to find out whether it is still alive.
const receiveTimeout = 30 * time.Second

// NewEventBus starts the node's pub/sub connection. Publish-only users
// (workers) may create one too: it subscribes to nothing.
func NewEventBus(rdb goredis.UniversalClient, cfg Config) *EventBus {
	if cfg.Prefix == "" {
		cfg.Prefix = "courier:"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &EventBus{
		rdb: rdb, prefix: cfg.Prefix + "ev:", logger: cfg.Logger,
		ps:       rdb.Subscribe(ctx),
		refs:     map[string]int{},
		expected: map[string]int{},
		barriers: map[string]chan struct{}{},
		cancel:   cancel,
		done:     make(chan struct{}),
	}
	b.routes.init(cfg.Prefix)
	b.pubq = batch.NewQueue(batch.Options{Size: maxPublishBatch * publishers, Workers: publishers,
		Max: maxPublishBatch}, b.publish)
	go b.receive(ctx)
	go b.refreshLoop(ctx)
	return b
}

// Handle sets the function receiving every event on this node's topics.
func (b *EventBus) Handle(h func(topic string, e courier.Event)) { b.handler.Store(&h) }

// Publish sends e to each user's topic: once to each node routed for any
// of them. It returns once Redis has run the publish (or failed).
func (b *EventBus) Publish(ctx context.Context, userIDs []string, e courier.Event) error {
	if len(userIDs) == 0 {
		return nil
	}
	return b.send(ctx, &publishReq{users: userIDs, payload: encodeEvent(e)})
}

// PublishMessage is Publish for the event of message seq of a
// conversation, at most once per MessageOnce window (route.go).
func (b *EventBus) PublishMessage(ctx context.Context, conversationID string, seq int64, userIDs []string, e courier.Event) (bool, error) {
	if len(userIDs) == 0 {
		return false, nil
	}
	key, bit := b.onceKey(conversationID, seq)
	req := &publishReq{users: userIDs, payload: encodeEvent(e), once: key, onceBit: bit}
	if err := b.send(ctx, req); err != nil {
		return false, err
	}
	return req.published, nil
}

// PublishTopic sends e to one topic.
func (b *EventBus) PublishTopic(ctx context.Context, topic string, e courier.Event) error {
	if user, ok := strings.CutPrefix(topic, userTopicPrefix); ok {
		return b.Publish(ctx, []string{user}, e)
	}
	return b.send(ctx, &publishReq{channel: b.prefix + topic, payload: encodeEvent(e)})
}

// send queues one publish for the publishers and waits for its result.
func (b *EventBus) send(ctx context.Context, req *publishReq) error {
	req.done = make(chan error, 1)
	if err := b.pubq.Put(ctx, req); errors.Is(err, batch.ErrClosed) {
		return courier.Errorf(courier.EUNAVAILABLE, "event bus closed")
	} else if err != nil {
		return courier.Unavailable("event bus", err)
	}
	select {
	case err := <-req.done:
		if err != nil {
			return courier.Unavailable("event bus", err)
		}
		return nil
	case <-ctx.Done():
		// The publish stays queued and may still go out.
		return courier.Unavailable("event bus", ctx.Err())
	}
}

// publish sends a batch of waiting Publishes in one pipeline.
func (b *EventBus) publish(reqs []*publishReq) {
	// Pipelines of at most maxPipeline commands: a few large groups in the
	// batch must not make every caller wait for one huge round trip.
	for len(reqs) > 0 {
		n, cost := 0, 0
		for n < len(reqs) && (n == 0 || cost+reqs[n].cost() <= maxPipeline) {
			cost += reqs[n].cost()
			n++
		}
		b.pipeline(reqs[:n])
		reqs = reqs[n:]
	}
}

// pipeline sends reqs in one pipeline and answers each with its command's
// error. A script Redis does not hold (it restarted) is loaded and the
// publishes that needed it are sent again: they did nothing the first time.
func (b *EventBus) pipeline(reqs []*publishReq) {
	ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		cmds := b.exec(ctx, reqs)
		var again []*publishReq
		for i, r := range reqs {
			err := cmds[i].Err()
			if attempt == 0 && err != nil && goredis.HasErrorPrefix(err, "NOSCRIPT") {
				again = append(again, r)
				continue
			}
			if err == nil && r.users != nil {
				r.published = cmds[i].(*goredis.Cmd).Val() != int64(-1)
			}
			r.done <- err
		}
		if len(again) == 0 {
			return
		}
		if err := publishScript.Load(ctx, b.rdb).Err(); err != nil {
			for _, r := range again {
				r.done <- err
			}
			return
		}
		reqs = again
	}
}

// exec sends one command per request in one pipeline.
func (b *EventBus) exec(ctx context.Context, reqs []*publishReq) []goredis.Cmder {
	pipe := b.rdb.Pipeline()
	cmds := make([]goredis.Cmder, len(reqs))
	for i, r := range reqs {
		if r.users == nil {
			cmds[i] = pipe.Publish(ctx, r.channel, r.payload)
		} else {
			cmds[i] = b.routedPublish(ctx, pipe, r)
		}
	}
	pipe.Exec(ctx) // each command carries its own error, read by the caller
	return cmds
}

// publishTimeout bounds one pipeline; it does not come from any caller's
// context, so a caller giving up does not fail the others' events.
const publishTimeout = 10 * time.Second

// The payload on the wire is the JSON of courier.Event,
// {"type":…,"origin":…,"data":…}, which every node version reads (an
// older one ignores origin). It is written by Event.AppendJSON with the
// data as it is, and read back by the fast path below when it has that
// exact shape (type and origin strings without escapes), so the data is
// not re-encoded or re-parsed on each hop; anything else goes through
// encoding/json. Data comes from Courier processes through Redis, which
// Courier trusts as it trusts its database.
func encodeEvent(e courier.Event) string {
	return string(e.AppendJSON(make([]byte, 0, len(e.Type)+len(e.Origin)+len(e.Data)+32)))
}

// unescaped reports whether s, read between JSON quotes, holds no escape
// or control character: it is then the string itself.
func unescaped(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == '\\' })
}

func decodeEvent(payload string) (courier.Event, error) {
	if e, ok := decodeEventFast(payload); ok {
		return e, nil
	}
	var e courier.Event
	if err := json.Unmarshal([]byte(payload), &e); err != nil {
		return courier.Event{}, err
	}
	if e.Type == "" {
		return courier.Event{}, errors.New("event without a type")
	}
	return e, nil
}

// decodeEventFast reads what encodeEvent writes for plain strings (and
// what json.Marshal of an Event gives), without parsing the data.
func decodeEventFast(p string) (courier.Event, bool) {
	var e courier.Event
	rest, ok := strings.CutPrefix(p, `{"type":"`)
	if !ok {
		return e, false
	}
	if e.Type, rest, ok = strings.Cut(rest, `"`); !ok || e.Type == "" || !unescaped(e.Type) {
		return e, false
	}
	if r, ok := strings.CutPrefix(rest, `,"origin":"`); ok {
		if e.Origin, rest, ok = strings.Cut(r, `"`); !ok || !unescaped(e.Origin) {
			return e, false
		}
	}
	if rest == "}" {
		return e, true
	}
	data, ok := strings.CutPrefix(rest, `,"data":`)
	if !ok || len(data) < 2 || data[len(data)-1] != '}' {
		return e, false
	}
	e.Data = json.RawMessage(data[:len(data)-1])
	return e, true
}

// Subscribe takes a reference on topic; the first one subscribes the
// channel. It returns after Redis has processed the SUBSCRIBE: a PING sent
// behind it on the same connection has come back.
//
// A SUBSCRIBE that failed (or whose barrier did) may or may not have
// reached Redis, so its confirmation may never come: the channel's
// expected count is cleared rather than left raised. Left raised, the
// confirmation of the resubscription after the next reconnect would be
// taken for this one and the channel's sockets would get no resync; cleared,
// a late confirmation costs at most one extra resync.
func (b *EventBus) Subscribe(ctx context.Context, topic string) error {
	if user, ok := strings.CutPrefix(topic, userTopicPrefix); ok {
		return b.subscribeUser(ctx, topic, user)
	}
	return b.subscribeChannel(ctx, topic)
}

// subscribeChannel is Subscribe for a topic with a channel of its own.
func (b *EventBus) subscribeChannel(ctx context.Context, topic string) error {
	ch := b.prefix + topic
	b.mu.Lock()
	b.refs[topic]++
	if b.refs[topic] == 1 {
		b.expected[ch]++
		// Sent under b.mu so SUBSCRIBE and UNSUBSCRIBE of one channel
		// reach Redis in the order the references changed.
		if err := b.ps.Subscribe(ctx, ch); err != nil {
			delete(b.expected, ch)
			b.release(topic)
			b.mu.Unlock()
			return courier.Unavailable("event bus", err)
		}
	}
	b.mu.Unlock()
	if err := b.barrier(ctx); err != nil {
		b.mu.Lock()
		delete(b.expected, ch)
		b.release(topic)
		b.mu.Unlock()
		return err
	}
	return nil
}

// barrier waits until everything sent on the pub/sub connection so far has
// been processed by Redis.
func (b *EventBus) barrier(ctx context.Context) error {
	payload := "b" + strconv.FormatInt(b.seq.Add(1), 10)
	done := make(chan struct{})
	b.mu.Lock()
	b.barriers[payload] = done
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.barriers, payload)
		b.mu.Unlock()
	}()
	if err := b.ps.Ping(ctx, payload); err != nil {
		return courier.Unavailable("event bus", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return courier.Unavailable("event bus", fmt.Errorf("subscription not confirmed: %w", ctx.Err()))
	}
}

// Unsubscribe drops a reference; the last one unsubscribes the channel (or
// removes the user's route to this node).
func (b *EventBus) Unsubscribe(topic string) {
	if user, ok := strings.CutPrefix(topic, userTopicPrefix); ok {
		b.unsubscribeUser(topic, user)
		return
	}
	b.mu.Lock()
	b.release(topic)
	b.mu.Unlock()
}

func (b *EventBus) release(topic string) {
	if b.refs[topic]--; b.refs[topic] > 0 {
		return
	}
	delete(b.refs, topic)
	if err := b.ps.Unsubscribe(context.Background(), b.prefix+topic); err != nil {
		courier.Repeats.Log(b.logger, slog.LevelWarn, "event bus", "event bus: unsubscribe", "err", err)
	}
}

// receive reads the pub/sub connection until Close.
//
// A message to a group arrives once on the node channel, naming the
// node's members (receiveRouted hands the one decoded Event to each: the
// repeats of courier.EventBus.Handle). On a channel of its own an event to
// several topics arrives once per channel with the same payload, usually
// back to back: the last payload's decoded event is kept and handed on
// again when the next payload is the same. Each decode makes a fresh Data
// (a copy out of the payload string), so a slice handed on is never
// written to or reused.
func (b *EventBus) receive(ctx context.Context) {
	defer close(b.done)
	var lastPayload string
	var last courier.Event
	for {
		msg, err := b.ps.ReceiveTimeout(ctx, receiveTimeout)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var nerr net.Error
			if errors.As(err, &nerr) && nerr.Timeout() {
				b.ps.Ping(ctx) // a dead connection fails here and reconnects
				continue
			}
			// Once per interval: while Redis is down this fails every
			// 200 ms until go-redis reconnects.
			courier.Repeats.Log(b.logger, slog.LevelWarn, "event bus", "event bus: receive", "err", err)
			select {
			case <-time.After(200 * time.Millisecond):
			case <-ctx.Done():
				return
			}
			continue
		}
		switch m := msg.(type) {
		case *goredis.Message:
			if m.Channel == b.nodeChannel {
				b.receiveRouted(m.Payload)
				continue
			}
			if m.Payload != lastPayload || lastPayload == "" {
				e, err := decodeEvent(m.Payload)
				if err != nil {
					b.logger.Warn("event bus: bad payload", "channel", m.Channel, "err", err)
					continue
				}
				lastPayload, last = m.Payload, e
			}
			b.deliver(m.Channel, last)
		case *goredis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			b.mu.Lock()
			resubscribed := b.expected[m.Channel] == 0
			if !resubscribed {
				b.expected[m.Channel]--
			}
			b.mu.Unlock()
			if resubscribed && m.Channel == b.nodeChannel {
				go b.rejoin(ctx)
			} else if resubscribed {
				// go-redis reconnected: events may have been lost meanwhile.
				b.deliver(m.Channel, courier.Event{Type: courier.EventResync})
			}
		case *goredis.Pong:
			b.mu.Lock()
			if done, ok := b.barriers[m.Payload]; ok {
				close(done)
				delete(b.barriers, m.Payload)
			}
			b.mu.Unlock()
		}
	}
}

func (b *EventBus) deliver(channel string, e courier.Event) {
	if len(channel) > len(b.prefix) {
		b.deliverTopic(channel[len(b.prefix):], e)
	}
}

func (b *EventBus) deliverTopic(topic string, e courier.Event) {
	if h := b.handler.Load(); h != nil {
		(*h)(topic, e)
	}
}

// Close sends the Publishes already queued, then stops the receive loop
// and closes the pub/sub connection.
func (b *EventBus) Close() error {
	b.pubq.Close()
	b.cancel()
	err := b.ps.Close()
	<-b.done
	return err
}
