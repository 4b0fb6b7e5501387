package redislock

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/redis/go-redis/v9"
)

const redisAddr = "127.0.0.1:6379"

// newClient connects to the real Redis, one client per simulated node.
// Redis is required: a missing server fails the test.
func newClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: redisAddr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at %s is required for these tests: %v", redisAddr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testPrefix isolates a test's keys and channels, and deletes its keys after.
func testPrefix(t testing.TB) string {
	t.Helper()
	prefix := "courier:test:tuslock:" + courier.NewID() + ":"
	admin := newClient(t)
	t.Cleanup(func() {
		ctx := context.Background()
		iter := admin.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			admin.Del(ctx, iter.Val())
		}
	})
	return prefix
}

// node is one simulated API node: its own Redis client and Locker.
type node struct {
	client *redis.Client
	locker *Locker
}

func newNode(t testing.TB, cfg Config) node {
	t.Helper()
	c := newClient(t)
	if cfg.Logger == nil {
		cfg.Logger = quietLogger(t)
	}
	l := New(c, cfg)
	t.Cleanup(func() { l.Close() })
	return node{client: c, locker: l}
}

// quietLogger keeps expected warnings out of the output unless -v.
func quietLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// mustLock acquires id on l within a generous bound and returns the lock
// and a channel closed when someone requests its release.
func mustLock(t testing.TB, l *Locker, id string) (*lock, <-chan struct{}) {
	t.Helper()
	hl, err := l.NewLock(id)
	if err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	var once bool
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hl.Lock(ctx, func() {
		// ask() guarantees one call; a second would panic here.
		if once {
			panic("requestRelease called twice")
		}
		once = true
		close(released)
	}); err != nil {
		t.Fatalf("Lock(%s): %v", id, err)
	}
	return hl.(*lock), released
}

// lockAsync starts Lock in a goroutine and returns its result channel.
func lockAsync(l *Locker, id string, timeout time.Duration, requestRelease func()) (*lock, <-chan error) {
	hl, _ := l.NewLock(id)
	res := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		res <- hl.Lock(ctx, requestRelease)
	}()
	return hl.(*lock), res
}

// within waits for an error result or fails after d.
func within(t testing.TB, res <-chan error, d time.Duration, what string) error {
	t.Helper()
	select {
	case err := <-res:
		return err
	case <-time.After(d):
		t.Fatalf("%s: no result after %v", what, d)
		return nil
	}
}

// closedWithin fails unless ch closes within d.
func closedWithin(t testing.TB, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s: not within %v", what, d)
	}
}

func noop() {}
