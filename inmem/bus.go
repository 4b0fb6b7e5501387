package inmem

import (
	"context"
	"strconv"
	"sync"

	"github.com/courier-chat/courier"
)

// EventBus is a courier.EventBus inside one process. Several nodes can
// share one through a Broker.
//
// A publish is delivered synchronously, in the publisher's goroutine, to
// every subscribed node, as Redis would deliver in publish order. The
// publisher's Event is handed on as it is: one Publish to several users
// subscribed on a node reaches its handler once per topic with the same
// Data slice (courier.EventBus's repeats).
type EventBus struct {
	broker  *Broker
	mu      sync.Mutex
	refs    map[string]int
	handler func(topic string, e courier.Event)
}

// maxOnce bounds the messages a Broker remembers as published; past it it
// forgets them all, and a resend of an older one publishes again, as the
// Redis bus does after its window.
const maxOnce = 1 << 16

var _ courier.EventBus = (*EventBus)(nil)

// Broker connects EventBus nodes the way Redis connects API nodes.
type Broker struct {
	mu    sync.RWMutex
	nodes []*EventBus
	once  map[string]bool // messages published, "conversation/seq"
}

// NewBroker returns a broker with no nodes.
func NewBroker() *Broker { return &Broker{} }

// Node returns a new node's bus on the broker.
func (b *Broker) Node() *EventBus {
	n := &EventBus{broker: b, refs: map[string]int{}}
	b.mu.Lock()
	b.nodes = append(b.nodes, n)
	b.mu.Unlock()
	return n
}

// NewEventBus returns a single node on its own broker.
func NewEventBus() *EventBus { return NewBroker().Node() }

func (n *EventBus) Handle(h func(topic string, e courier.Event)) {
	n.mu.Lock()
	n.handler = h
	n.mu.Unlock()
}

func (n *EventBus) Publish(ctx context.Context, userIDs []string, e courier.Event) error {
	for _, id := range userIDs {
		n.PublishTopic(ctx, courier.UserTopic(id), e)
	}
	return nil
}

// PublishMessage publishes the first time it is called for a message.
func (n *EventBus) PublishMessage(ctx context.Context, conversationID string, seq int64, userIDs []string, e courier.Event) (bool, error) {
	key := conversationID + "/" + strconv.FormatInt(seq, 10)
	b := n.broker
	b.mu.Lock()
	if b.once[key] {
		b.mu.Unlock()
		return false, nil
	}
	if b.once == nil || len(b.once) >= maxOnce {
		b.once = map[string]bool{}
	}
	b.once[key] = true
	b.mu.Unlock()
	return true, n.Publish(ctx, userIDs, e)
}

func (n *EventBus) PublishTopic(_ context.Context, topic string, e courier.Event) error {
	n.broker.mu.RLock()
	nodes := n.broker.nodes
	n.broker.mu.RUnlock()
	for _, node := range nodes {
		node.mu.Lock()
		h, subscribed := node.handler, node.refs[topic] > 0
		node.mu.Unlock()
		if subscribed && h != nil {
			h(topic, e)
		}
	}
	return nil
}

func (n *EventBus) Subscribe(_ context.Context, topic string) error {
	n.mu.Lock()
	n.refs[topic]++
	n.mu.Unlock()
	return nil
}

func (n *EventBus) Unsubscribe(topic string) {
	n.mu.Lock()
	if n.refs[topic]--; n.refs[topic] <= 0 {
		delete(n.refs, topic)
	}
	n.mu.Unlock()
}
