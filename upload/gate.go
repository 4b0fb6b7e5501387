package upload

import (
	"context"
	"io"
	"sync"

	"github.com/tus/tusd/v2/pkg/handler"
)

// tusd 2.9 has a data race: when another request asks a PATCH to release
// its lock before the PATCH has started reading its body, tusd's context
// goroutine reads httpContext.body while the handler is assigning it. The
// gate below holds such an early release request until the body is first
// read, which happens after the assignment; a request that never reads a
// body (HEAD, DELETE, a PATCH refused for its offset) ends quickly anyway
// and releases the lock then. The draft handler has no such race and uses
// the locker directly.

// gatedLocker wraps the shared locker for tusd.
type gatedLocker struct{ handler.Locker }

func (g gatedLocker) NewLock(id string) (handler.Lock, error) {
	l, err := g.Locker.NewLock(id)
	if err != nil {
		return nil, err
	}
	return gatedLock{l}, nil
}

type gatedLock struct{ inner handler.Lock }

func (l gatedLock) Lock(ctx context.Context, requestRelease func()) error {
	gate, _ := ctx.Value(gateContextKey{}).(*bodyGate)
	if gate == nil {
		return lockError(l.inner.Lock(ctx, requestRelease))
	}
	return lockError(l.inner.Lock(ctx, func() { gate.deliver(requestRelease) }))
}

func (l gatedLock) Unlock() error { return l.inner.Unlock() }

// lockError is what clients see of a lock that could not be taken: tusd's
// own timeout as it is, Redis down as 503.
func lockError(err error) error { return tusError(classify("lock service", err)) }

type gateContextKey struct{}

// bodyGate wraps a request body and delivers release requests once the
// body is being read.
type bodyGate struct {
	io.ReadCloser
	mu      sync.Mutex
	reading bool
	pending func()
}

// gateBody installs a gate on r's body and returns the context carrying it.
func gateBody(ctx context.Context, body io.ReadCloser) (context.Context, io.ReadCloser) {
	g := &bodyGate{ReadCloser: body}
	return context.WithValue(ctx, gateContextKey{}, g), g
}

func (g *bodyGate) Read(p []byte) (int, error) {
	g.mu.Lock()
	g.reading = true
	f := g.pending
	g.pending = nil
	g.mu.Unlock()
	if f != nil {
		f()
	}
	return g.ReadCloser.Read(p)
}

func (g *bodyGate) deliver(f func()) {
	g.mu.Lock()
	if !g.reading {
		g.pending = f
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	f()
}
