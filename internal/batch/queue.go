package batch

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrClosed is what Put returns after Close.
var ErrClosed = errors.New("batch: queue closed")

// Queue is a bounded queue whose workers take its items in batches: a
// worker takes the first waiting item, fills the batch (fill) and hands it
// to the handler; while the handler runs, new items wait for the next
// batch.
type Queue[T any] struct {
	ch     chan T
	done   chan struct{} // closed first by Close: waiting Puts give up
	once   sync.Once
	mu     sync.RWMutex // guards closed against a send on the closed ch
	closed bool
	wg     sync.WaitGroup
}

// Options configure a Queue.
type Options struct {
	Size    int           // items the queue holds; Put waits and TryPut fails beyond it
	Workers int           // goroutines running the handler, each on its own batch
	Max     int           // most items in one batch
	Linger  time.Duration // how long a worker waits for more (fill); 0 never waits
}

// NewQueue starts the workers. handle must not keep the slice it is given
// after it returns.
func NewQueue[T any](o Options, handle func(batch []T)) *Queue[T] {
	q := &Queue[T]{ch: make(chan T, o.Size), done: make(chan struct{})}
	for range o.Workers {
		q.wg.Add(1)
		go q.work(o.Max, o.Linger, handle)
	}
	return q
}

func (q *Queue[T]) work(max int, linger time.Duration, handle func([]T)) {
	defer q.wg.Done()
	buf := make([]T, 0, max)
	for v := range q.ch {
		b := fill(q.ch, append(buf[:0], v), max, linger)
		handle(b)
		clear(b) // let the items go
	}
}

// Put queues v, waiting for room until ctx ends.
func (q *Queue[T]) Put(ctx context.Context, v T) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrClosed
	}
	select {
	case q.ch <- v:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-q.done:
		return ErrClosed
	}
}

// TryPut queues v if there is room now, and reports whether it did.
func (q *Queue[T]) TryPut(v T) bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return false
	}
	select {
	case q.ch <- v:
		return true
	default:
		return false
	}
}

// Len is the number of items waiting for a worker.
func (q *Queue[T]) Len() int { return len(q.ch) }

// Close stops taking items and returns once the workers have handled
// every item queued before it. A Put waiting for room returns ErrClosed at
// once, so Close never waits on a caller.
func (q *Queue[T]) Close() {
	q.once.Do(func() { close(q.done) })
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
	q.wg.Wait()
}
