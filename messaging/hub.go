package messaging

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/courier-chat/courier"
)

// hub is a node's registry of sockets. It takes one bus reference per
// socket on its user's topic (the bus subscribes the channel for the first
// and unsubscribes after the last) and routes each bus event to the local
// sockets of that topic. Membership is the publisher's business: the hub
// never knows about conversations.
type hub struct {
	bus      courier.EventBus
	presence courier.Presence
	logger   *slog.Logger
	// devicesChanged is told the user of every devices.changed event.
	devicesChanged func(userID string)

	last atomic.Pointer[rendered] // see render

	// node prefixes the origins of events this node's sockets cause, so
	// render tells its own sockets' events from other nodes'.
	node   string
	nextID atomic.Uint64 // socket ids

	mu sync.RWMutex
	// topics holds each topic's local sockets as a slice, not a set: a
	// user topic has a socket or two, and a one-element map costs a
	// couple of hundred bytes per socket where a slice costs eight.
	// A user's topic lists all the user's local sockets, so it also
	// answers "first socket of the user" and "last of the device".
	topics map[string][]*conn
	conns  map[*conn]struct{} // every registered socket
	// detached holds registered sockets whose user topic is not
	// subscribed (the bus failed at register); they hold no bus reference.
	detached map[*conn]struct{}
}

func newHub(bus courier.EventBus, presence courier.Presence, logger *slog.Logger, devicesChanged func(string)) *hub {
	h := &hub{
		bus: bus, presence: presence, logger: logger, devicesChanged: devicesChanged,
		node:     courier.NewID() + ".",
		topics:   map[string][]*conn{},
		conns:    map[*conn]struct{}{},
		detached: map[*conn]struct{}{},
	}
	bus.Handle(h.dispatch)
	return h
}

// busWait bounds each Redis call made while a socket connects or leaves
// (subscription, presence): during an outage a socket connects without
// them rather than waiting, and the reattach loop finishes the job.
const busWait = 2 * time.Second

// register subscribes the socket to its user's topic and marks the device
// online; the first local socket of a user announces them online. When the
// bus cannot subscribe (Redis is down) the socket is registered detached:
// it can sync and send, which need only the database, and reattachLoop
// subscribes it and tells it to resync once Redis is back.
func (h *hub) register(ctx context.Context, c *conn) error {
	ctx, cancel := context.WithTimeout(ctx, busWait)
	defer cancel()
	uid, topic := c.dev.UserID, courier.UserTopic(c.dev.UserID)
	h.mu.Lock()
	h.add(topic, c)
	h.conns[c] = struct{}{}
	first := len(h.topics[topic]) == 1
	h.mu.Unlock()
	if err := h.bus.Subscribe(ctx, topic); err != nil {
		h.mu.Lock()
		if _, ok := h.conns[c]; ok {
			h.detached[c] = struct{}{}
		}
		h.mu.Unlock()
		courier.LogFailure(h.logger, "ws: socket connected without live delivery", err)
		return nil
	}
	if err := h.presence.Connect(ctx, uid, c.dev.ID); err != nil {
		// The lease is renewed by refreshLoop within courier.PresenceRefresh.
		courier.LogFailure(h.logger, "presence: connect", err)
	}
	if first {
		h.publishPresence(ctx, PresenceEvent{UserID: uid, Online: true})
	}
	return nil
}

// unregister undoes register and the socket's presence subscriptions.
func (h *hub) unregister(c *conn) {
	ctx, cancel := context.WithTimeout(context.Background(), busWait)
	defer cancel()
	uid, topic := c.dev.UserID, courier.UserTopic(c.dev.UserID)
	h.mu.Lock()
	h.remove(topic, c)
	delete(h.conns, c)
	_, detached := h.detached[c]
	delete(h.detached, c)
	for _, t := range c.presenceTopics {
		h.remove(t, c)
	}
	lastOfDevice := true
	for _, o := range h.topics[topic] {
		if o.dev.ID == c.dev.ID {
			lastOfDevice = false
			break
		}
	}
	h.mu.Unlock()
	if !detached {
		h.bus.Unsubscribe(topic)
	}
	for _, t := range c.presenceTopics {
		h.bus.Unsubscribe(t)
	}
	if !lastOfDevice {
		return
	}
	online, err := h.presence.Disconnect(ctx, uid, c.dev.ID)
	if err != nil {
		// The lease runs out by itself within courier.PresenceTTL.
		courier.LogFailure(h.logger, "presence: disconnect", courier.Unavailable("presence", err))
		return
	}
	if !online {
		now := time.Now().UTC()
		h.publishPresence(ctx, PresenceEvent{UserID: uid, Online: false, LastSeen: &now})
	}
}

// watch subscribes the socket to a user's presence changes.
func (h *hub) watch(ctx context.Context, c *conn, userID string) error {
	topic := courier.PresenceTopic(userID)
	if err := h.bus.Subscribe(ctx, topic); err != nil {
		return err
	}
	h.mu.Lock()
	h.add(topic, c)
	h.mu.Unlock()
	c.presenceTopics = append(c.presenceTopics, topic)
	return nil
}

func (h *hub) publishPresence(ctx context.Context, ev PresenceEvent) {
	data, _ := json.Marshal(ev)
	if err := h.bus.PublishTopic(ctx, courier.PresenceTopic(ev.UserID), courier.Event{Type: courier.EventPresence, Data: data}); err != nil {
		courier.LogFailure(h.logger, "presence: publish", courier.Unavailable("event bus", err))
	}
}

func (h *hub) add(topic string, c *conn) {
	h.topics[topic] = append(h.topics[topic], c)
}

// remove drops c from topic's sockets. It is linear in them, which stays
// cheap for the thousands a popular user's presence topic might have.
func (h *hub) remove(topic string, c *conn) {
	set := h.topics[topic]
	for i, x := range set {
		if x == c {
			last := len(set) - 1
			set[i], set[last] = set[last], nil
			set = set[:last]
			break
		}
	}
	if len(set) == 0 {
		delete(h.topics, topic)
	} else {
		h.topics[topic] = set
	}
}

// origin names socket c as the origin of an event (courier.Event.Origin).
func (h *hub) origin(c *conn) string { return h.node + strconv.FormatUint(c.id, 10) }

// dispatch renders a bus event once and queues it on every local socket
// of the topic but its origin. A socket whose queue is full is dropped: it
// resyncs.
func (h *hub) dispatch(topic string, e courier.Event) {
	it := h.render(e)
	if it == nil {
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, c := range h.topics[topic] {
		if it.origin != 0 && c.id == it.origin {
			continue
		}
		if it.revoked != "" && c.dev.ID == it.revoked {
			// The token was checked once, at upgrade: a revoked device's
			// open socket must not go on sending and receiving.
			c.close(courier.CloseRevoked, "device revoked")
			continue
		}
		if it.device != "" && c.dev.ID != it.device {
			continue
		}
		c.enqueue(it)
	}
}

// rendered is the last event dispatch rendered. The bus hands a group
// message's one Event to every member topic on the node, sharing one Data
// slice (courier.EventBus's repeats), so it is rendered once. Keeping the
// event keeps its Data alive, which is what makes the identity check of
// courier.Event.Repeats sound: no other event can reuse that memory.
type rendered struct {
	e  courier.Event
	it *outItem
}

// render returns e as a queued item, made once per event.
func (h *hub) render(e courier.Event) *outItem {
	if r := h.last.Load(); r != nil && e.Repeats(r.e) {
		return r.it
	}
	it := &outItem{}
	if e.Type == courier.EventMessage {
		var ref struct {
			ConversationID string `json:"conversation_id"`
			Seq            int64  `json:"seq"`
		}
		if err := json.Unmarshal(e.Data, &ref); err != nil {
			h.logger.Warn("dispatch: bad message event", "err", err)
			return nil
		}
		it.conv, it.seq = ref.ConversationID, ref.Seq
		if id, ok := strings.CutPrefix(e.Origin, h.node); ok {
			it.origin, _ = strconv.ParseUint(id, 10, 64)
		}
	}
	if e.Type == courier.EventDeviceRevoked {
		var ref struct {
			DeviceID string `json:"device_id"`
		}
		json.Unmarshal(e.Data, &ref)
		it.revoked = ref.DeviceID
	}
	if e.Type == courier.EventMailbox {
		it.device = mailboxDevice(e.Data)
	}
	if e.Type == courier.EventDevicesChanged && h.devicesChanged != nil {
		var ref struct {
			UserID string `json:"user_id"`
		}
		json.Unmarshal(e.Data, &ref)
		h.devicesChanged(ref.UserID)
	}
	if len(e.Data) > 0 {
		// Made into a frame once for every socket of the node.
		payload := eventFrame(e)
		it.wire = textFrame(payload)
		it.frame = it.wire[len(it.wire)-len(payload):]
	} else {
		it.frame = eventFrame(e)
	}
	if len(e.Data) > 0 {
		h.last.Store(&rendered{e: e, it: it})
	}
	return it
}

// eventFrame is the WebSocket frame {"type": e.Type, "data": e.Data}.
func eventFrame(e courier.Event) []byte {
	return courier.Event{Type: e.Type, Data: e.Data}.AppendJSON(make([]byte, 0, len(e.Type)+len(e.Data)+20))
}

// all returns every local socket.
func (h *hub) all() []*conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		out = append(out, c)
	}
	return out
}

// each calls fn for every local socket, under the hub's read lock: fn must
// not block, nor register or unregister sockets.
func (h *hub) each(fn func(*conn)) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.conns {
		fn(c)
	}
}

// refreshLoop renews the presence leases of every local device.
func (h *hub) refreshLoop(ctx context.Context) {
	t := time.NewTicker(courier.PresenceRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		devices := map[string][]string{}
		for _, c := range h.all() {
			devices[c.dev.UserID] = append(devices[c.dev.UserID], c.dev.ID)
		}
		if err := h.presence.Refresh(ctx, devices); err != nil {
			courier.LogFailure(h.logger, "presence: refresh", courier.Unavailable("presence", err))
		}
	}
}

// count is the number of local sockets.
func (h *hub) count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns)
}
