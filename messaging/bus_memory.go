package messaging

import (
	"context"
	"sync"

	"github.com/courier-chat/courier"
)

// MemoryBus is a Bus inside one process, for tests and single-node
// development. Several nodes can share one through NewMemoryBroker.
type MemoryBus struct {
	broker  *MemoryBroker
	mu      sync.Mutex
	refs    map[string]int
	handler func(topic string, e courier.Event)
}

var _ Bus = (*MemoryBus)(nil)

// MemoryBroker connects MemoryBus nodes the way Redis connects API nodes.
type MemoryBroker struct {
	mu    sync.RWMutex
	nodes []*MemoryBus
}

// NewMemoryBroker returns a broker with no nodes.
func NewMemoryBroker() *MemoryBroker { return &MemoryBroker{} }

// Node returns a new node's bus on the broker.
func (b *MemoryBroker) Node() *MemoryBus {
	n := &MemoryBus{broker: b, refs: map[string]int{}}
	b.mu.Lock()
	b.nodes = append(b.nodes, n)
	b.mu.Unlock()
	return n
}

// NewMemoryBus returns a single node on its own broker.
func NewMemoryBus() *MemoryBus { return NewMemoryBroker().Node() }

func (n *MemoryBus) Handle(h func(topic string, e courier.Event)) {
	n.mu.Lock()
	n.handler = h
	n.mu.Unlock()
}

func (n *MemoryBus) Publish(ctx context.Context, userIDs []string, e courier.Event) error {
	for _, id := range userIDs {
		n.PublishTopic(ctx, UserTopic(id), e)
	}
	return nil
}

// PublishTopic delivers synchronously to every subscribed node, as Redis
// would deliver in publish order.
func (n *MemoryBus) PublishTopic(_ context.Context, topic string, e courier.Event) error {
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

func (n *MemoryBus) Subscribe(_ context.Context, topic string) error {
	n.mu.Lock()
	n.refs[topic]++
	n.mu.Unlock()
	return nil
}

func (n *MemoryBus) Unsubscribe(topic string) {
	n.mu.Lock()
	if n.refs[topic]--; n.refs[topic] <= 0 {
		delete(n.refs, topic)
	}
	n.mu.Unlock()
}
