package messaging

import (
	"context"
	"time"

	"github.com/courier-chat/courier"
)

// A socket that connects while Redis is down is registered detached (see
// hub.register): it syncs and sends through the database like any other,
// and live delivery starts once its user topic is subscribed.

// reattachEvery is how often detached sockets try to subscribe again.
const reattachEvery = time.Second

// reattachLoop subscribes detached sockets once the bus works again and
// sends each a resync: events published while it was detached never
// reached it.
func (h *hub) reattachLoop(ctx context.Context) {
	t := time.NewTicker(reattachEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.RLock()
		waiting := make([]*conn, 0, len(h.detached))
		for c := range h.detached {
			waiting = append(waiting, c)
		}
		h.mu.RUnlock()
		for _, c := range waiting {
			if !h.reattach(ctx, c) {
				break // the bus is still down: next round
			}
		}
	}
}

// reattach subscribes one detached socket and reports whether the bus
// answered.
func (h *hub) reattach(ctx context.Context, c *conn) bool {
	ctx, cancel := context.WithTimeout(ctx, busWait)
	defer cancel()
	topic := courier.UserTopic(c.dev.UserID)
	if err := h.bus.Subscribe(ctx, topic); err != nil {
		return false
	}
	h.mu.Lock()
	_, still := h.detached[c]
	delete(h.detached, c)
	h.mu.Unlock()
	if !still { // it went away meanwhile: give the reference back
		h.bus.Unsubscribe(topic)
		return true
	}
	if err := h.presence.Connect(ctx, c.dev.UserID, c.dev.ID); err != nil {
		courier.LogFailure(h.logger, "presence: connect", courier.Unavailable("presence", err))
	}
	c.enqueue(&outItem{frame: eventFrame(courier.Event{Type: courier.EventResync})})
	return true
}

// detachedCount is the number of sockets waiting for the bus.
func (h *hub) detachedCount() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.detached)
}
