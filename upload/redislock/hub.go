package redislock

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// hub multiplexes one Redis pub/sub connection over every upload this node
// holds or waits for. A node may hold thousands of locks; a connection per
// lock would exhaust Redis long before the node runs out of work.
//
// Each upload has its own channel, subscribed while anyone on this node is
// interested in it, so a node only hears about its own uploads (a pattern
// subscription would deliver every node's traffic to every node).
// go-redis writes SUBSCRIBE without waiting for the server to confirm it,
// and resubscribes after a reconnect; messages sent in those windows are
// lost, which the waiters' polling covers.
type hub struct {
	ps        *redis.PubSub
	prefix    string
	opTimeout time.Duration
	log       *slog.Logger
	done      chan struct{}

	mu        sync.Mutex
	interests map[string]*interest // by upload ID
}

// interest is what this node has in one upload: at most one holder (two only
// if a lease was lost and retaken here, and then the newer one wins) and any
// number of waiters.
type interest struct {
	refs    int
	holder  *holding
	waiters map[chan struct{}]struct{}
}

func newHub(client redis.UniversalClient, prefix string, opTimeout time.Duration, log *slog.Logger) *hub {
	// Subscribe to a channel nobody publishes on, so the connection is in
	// subscriber mode from the start (and Ring clients, which need at least
	// one channel, work too).
	ps := client.Subscribe(context.Background(), prefix+"~node")
	h := &hub{
		ps:        ps,
		prefix:    prefix,
		opTimeout: opTimeout,
		log:       log,
		done:      make(chan struct{}),
		interests: make(map[string]*interest),
	}
	go h.run(ps.Channel(redis.WithChannelSize(1024)))
	return h
}

// run dispatches messages until the pub/sub connection is closed. It never
// blocks on a lock holder or waiter, so one slow request cannot delay the
// messages of all the others.
func (h *hub) run(msgs <-chan *redis.Message) {
	defer close(h.done)
	for m := range msgs {
		id, ok := strings.CutPrefix(m.Channel, h.prefix)
		if !ok {
			continue
		}
		switch m.Payload {
		case msgRelease:
			h.askRelease(id)
		case msgUnlocked:
			h.wake(id)
		}
	}
}

func (h *hub) close() error {
	err := h.ps.Close()
	<-h.done
	return err
}

// askRelease asks this node's holder of id, if any, to finish early.
func (h *hub) askRelease(id string) {
	h.mu.Lock()
	var holder *holding
	if in := h.interests[id]; in != nil {
		holder = in.holder
	}
	h.mu.Unlock()
	if holder != nil {
		holder.ask()
	}
}

// wake nudges this node's waiters for id to try again now.
func (h *hub) wake(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if in := h.interests[id]; in != nil {
		for w := range in.waiters {
			select {
			case w <- struct{}{}:
			default: // already nudged
			}
		}
	}
}

// addWaiter subscribes to id's notices before the caller first tries to
// acquire, so an unlock between a failed attempt and the wait is not missed.
func (h *hub) addWaiter(id string) chan struct{} {
	w := make(chan struct{}, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	in := h.join(id)
	in.waiters[w] = struct{}{}
	return w
}

func (h *hub) removeWaiter(id string, w chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if in := h.interests[id]; in != nil {
		if _, ok := in.waiters[w]; ok {
			delete(in.waiters, w)
			h.leave(id, in)
		}
	}
}

// setHolder routes release requests for id to hd. Called while the caller
// is still a waiter, so the subscription never lapses in between.
func (h *hub) setHolder(id string, hd *holding) {
	h.mu.Lock()
	defer h.mu.Unlock()
	in := h.join(id)
	if in.holder != nil {
		// An older holder here lost its lease; it keeps its reference
		// until its own Unlock, but no longer receives requests.
		in.refs--
	}
	in.holder = hd
}

func (h *hub) clearHolder(id string, hd *holding) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if in := h.interests[id]; in != nil && in.holder == hd {
		in.holder = nil
		h.leave(id, in)
	}
}

// join and leave count references under h.mu and (un)subscribe on the edges.
// The network write happens under the mutex so a SUBSCRIBE and UNSUBSCRIBE
// for the same channel can never be reordered; it is a buffered write, not
// a round trip.
func (h *hub) join(id string) *interest {
	in := h.interests[id]
	if in == nil {
		in = &interest{waiters: make(map[chan struct{}]struct{})}
		h.interests[id] = in
	}
	in.refs++
	if in.refs == 1 {
		ctx, cancel := context.WithTimeout(context.Background(), h.opTimeout)
		if err := h.ps.Subscribe(ctx, h.prefix+id); err != nil {
			// go-redis remembers the channel and resubscribes on
			// reconnect; until then polling covers.
			h.log.Warn("subscribe failed", "upload", id, "error", err)
		}
		cancel()
	}
	return in
}

func (h *hub) leave(id string, in *interest) {
	in.refs--
	if in.refs > 0 {
		return
	}
	delete(h.interests, id)
	ctx, cancel := context.WithTimeout(context.Background(), h.opTimeout)
	if err := h.ps.Unsubscribe(ctx, h.prefix+id); err != nil {
		h.log.Warn("unsubscribe failed", "upload", id, "error", err)
	}
	cancel()
}
