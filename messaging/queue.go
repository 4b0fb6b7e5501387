package messaging

import "sync"

// outItem is one thing for a socket's writer: a rendered frame, or a sync
// to run. Message frames carry their conversation and seq so the writer
// can keep each conversation in order on the socket.
type outItem struct {
	frame []byte
	conv  string
	seq   int64
	sync  *syncRequest
}

// sendQueue is a socket's bounded queue of outgoing items. It is a slice
// grown on demand rather than a buffered channel, so an idle socket holds
// no 256-slot buffer; push refuses beyond max and the caller drops the
// socket as a slow consumer.
type sendQueue struct {
	mu     sync.Mutex
	items  []*outItem
	max    int
	notify chan struct{} // one pending wake-up for the writer
}

func newSendQueue(max int) *sendQueue {
	return &sendQueue{max: max, notify: make(chan struct{}, 1)}
}

// push adds it, or reports false when the queue is full.
func (q *sendQueue) push(it *outItem) bool {
	q.mu.Lock()
	if len(q.items) >= q.max {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return true
}

// drain takes everything queued, in order.
func (q *sendQueue) drain() []*outItem {
	q.mu.Lock()
	items := q.items
	q.items = nil
	q.mu.Unlock()
	return items
}
