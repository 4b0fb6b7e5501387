package redislock

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"
)

func TestLockUnlock(t *testing.T) {
	prefix := testPrefix(t)
	a := newNode(t, Config{Prefix: prefix, LeaseTTL: 2 * time.Second})
	ctx := context.Background()

	k, _ := mustLock(t, a.locker, "up1")
	token, err := a.client.Get(ctx, prefix+"up1").Result()
	if err != nil || token != k.h.token {
		t.Fatalf("key holds %q (%v), want the lock's token %q", token, err, k.h.token)
	}
	ttl := a.client.PTTL(ctx, prefix+"up1").Val()
	if ttl <= 0 || ttl > 2*time.Second {
		t.Fatalf("lease TTL %v, want in (0, 2s]", ttl)
	}
	if err := k.Unlock(); err != nil {
		t.Fatal(err)
	}
	if n := a.client.Exists(ctx, prefix+"up1").Val(); n != 0 {
		t.Fatal("key still exists after Unlock")
	}
	// Unlock is idempotent, and the lock can be taken again.
	if err := k.Unlock(); err != nil {
		t.Fatal(err)
	}
	k2, _ := mustLock(t, a.locker, "up1")
	if err := k2.Unlock(); err != nil {
		t.Fatal(err)
	}
	// Nothing left subscribed for the upload on this node.
	a.locker.hub.mu.Lock()
	n := len(a.locker.hub.interests)
	a.locker.hub.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d interests left after unlock", n)
	}
}

func TestLeaseIsRenewedWhileHeld(t *testing.T) {
	prefix := testPrefix(t)
	a := newNode(t, Config{Prefix: prefix, LeaseTTL: 300 * time.Millisecond})
	k, _ := mustLock(t, a.locker, "up")
	defer k.Unlock()
	// Three leases later the key must still be ours.
	time.Sleep(900 * time.Millisecond)
	if got := a.client.Get(context.Background(), prefix+"up").Val(); got != k.h.token {
		t.Fatalf("after 3 leases key holds %q, want our token", got)
	}
}

func TestSecondNodeBlockedUntilUnlock(t *testing.T) {
	prefix := testPrefix(t)
	cfg := Config{Prefix: prefix}
	a, b := newNode(t, cfg), newNode(t, cfg)

	k, _ := mustLock(t, a.locker, "up")
	kb, res := lockAsync(b.locker, "up", 10*time.Second, noop)
	select {
	case err := <-res:
		t.Fatalf("second node got the lock while the first held it (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := k.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := within(t, res, 3*time.Second, "lock after unlock"); err != nil {
		t.Fatal(err)
	}
	kb.Unlock()
}

func TestReleaseRequestReachesHolderOnAnotherNode(t *testing.T) {
	prefix := testPrefix(t)
	cfg := Config{Prefix: prefix}
	a, b := newNode(t, cfg), newNode(t, cfg)

	k, released := mustLock(t, a.locker, "up")
	// tusd's reaction to requestRelease: end the request, then Unlock.
	go func() {
		<-released
		k.Unlock()
	}()
	kb, res := lockAsync(b.locker, "up", 5*time.Second, noop)
	closedWithin(t, released, 3*time.Second, "release request on node A")
	if err := within(t, res, 3*time.Second, "node B lock"); err != nil {
		t.Fatal(err)
	}
	kb.Unlock()
}

func TestLeaseExpiresWhenHolderDies(t *testing.T) {
	prefix := testPrefix(t)
	cfg := Config{Prefix: prefix, LeaseTTL: 600 * time.Millisecond}
	a, b := newNode(t, cfg), newNode(t, cfg)

	_, lost := mustLock(t, a.locker, "up")
	// Node A's connection to Redis dies: no renewal, no unlock, and the
	// release request B publishes reaches nobody.
	a.client.Close()
	a.locker.hub.close() // its pub/sub connection too; the process lives on

	start := time.Now()
	kb, res := lockAsync(b.locker, "up", 5*time.Second, noop)
	if err := within(t, res, 5*time.Second, "takeover"); err != nil {
		t.Fatalf("node B could not take over the dead node's upload: %v", err)
	}
	defer kb.Unlock()
	t.Logf("takeover after %v (lease 600ms)", time.Since(start))
	// Node A, still running, learns its lease lapsed and interrupts its request.
	closedWithin(t, lost, 3*time.Second, "lease loss reported to node A's holder")
}

func TestCloseStopsRenewal(t *testing.T) {
	prefix := testPrefix(t)
	cfg := Config{Prefix: prefix, LeaseTTL: 300 * time.Millisecond}
	a, b := newNode(t, cfg), newNode(t, cfg)
	mustLock(t, a.locker, "up")
	// Shutdown without unlocking: the client stays open, but the lease
	// must not be kept alive by an orphaned renewal.
	a.locker.Close()
	kb, res := lockAsync(b.locker, "up", 5*time.Second, noop)
	if err := within(t, res, 5*time.Second, "takeover after Close"); err != nil {
		t.Fatal(err)
	}
	kb.Unlock()
}

func TestStaleUnlockLeavesNewHolder(t *testing.T) {
	prefix := testPrefix(t)
	cfg := Config{Prefix: prefix, LeaseTTL: 300 * time.Millisecond}
	a, b := newNode(t, cfg), newNode(t, cfg)
	ctx := context.Background()

	ka, lostA := mustLock(t, a.locker, "up")
	// A's lease ends behind its back (a pause longer than the lease looks
	// the same to Redis), and B takes the lock.
	a.client.Del(ctx, prefix+"up")
	kb, _ := mustLock(t, b.locker, "up")
	defer kb.Unlock()

	closedWithin(t, lostA, 2*time.Second, "node A's renewal noticing the loss")
	if err := ka.Unlock(); err != nil {
		t.Fatal(err)
	}
	if got := b.client.Get(ctx, prefix+"up").Val(); got != kb.h.token {
		t.Fatalf("stale unlock removed B's lock: key holds %q", got)
	}
}

func TestNeverTwoHolders(t *testing.T) {
	prefix := testPrefix(t)
	cfg := Config{Prefix: prefix, PollMin: 5 * time.Millisecond, PollMax: 50 * time.Millisecond}
	nodes := []node{newNode(t, cfg), newNode(t, cfg), newNode(t, cfg)}

	const workers, rounds = 12, 8
	var holders, maxHolders, acquired atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := nodes[w%len(nodes)].locker
			for range rounds {
				hl, _ := l.NewLock("up")
				stop := make(chan struct{})
				var once sync.Once
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				err := hl.Lock(ctx, func() { once.Do(func() { close(stop) }) })
				cancel()
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				n := holders.Add(1)
				for m := maxHolders.Load(); n > m && !maxHolders.CompareAndSwap(m, n); m = maxHolders.Load() {
				}
				// Work until asked to release, as a PATCH does, or 20ms.
				select {
				case <-stop:
				case <-time.After(20 * time.Millisecond):
				}
				holders.Add(-1)
				acquired.Add(1)
				if err := hl.Unlock(); err != nil {
					t.Errorf("unlock: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if m := maxHolders.Load(); m != 1 {
		t.Fatalf("max simultaneous holders %d, want 1", m)
	}
	if got := acquired.Load(); got != workers*rounds {
		t.Fatalf("%d acquisitions, want %d", got, workers*rounds)
	}
}

func TestLockTimesOut(t *testing.T) {
	prefix := testPrefix(t)
	cfg := Config{Prefix: prefix}
	a, b := newNode(t, cfg), newNode(t, cfg)
	k, released := mustLock(t, a.locker, "up")
	defer k.Unlock()

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	deadline, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	for _, tc := range []struct {
		name string
		ctx  context.Context
	}{
		{"deadline while waiting", deadline},
		{"already canceled", canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hl, _ := b.locker.NewLock("up")
			err := hl.Lock(tc.ctx, noop)
			if !errors.Is(err, handler.ErrLockTimeout) {
				t.Fatalf("Lock = %v, want ErrLockTimeout", err)
			}
		})
	}
	// The holder was asked (it ignored it), and still holds the lock.
	closedWithin(t, released, time.Second, "release request")
	if got := a.client.Get(context.Background(), prefix+"up").Val(); got != k.h.token {
		t.Fatalf("after timeouts key holds %q, want the holder's token", got)
	}
}

func TestFreeLockTakenWithDoneContext(t *testing.T) {
	// memorylocker semantics: the context only bounds the wait.
	a := newNode(t, Config{Prefix: testPrefix(t)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	hl, _ := a.locker.NewLock("up")
	if err := hl.Lock(ctx, noop); err != nil {
		t.Fatalf("Lock on a free upload with a done context: %v", err)
	}
	hl.Unlock()
}

func TestRedisDownIsUnavailable(t *testing.T) {
	// Port 1 on loopback: nothing listens, the dial is refused at once.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer c.Close()
	l := New(c, Config{Prefix: testPrefix(t), Logger: quietLogger(t)})
	defer l.Close()
	hl, _ := l.NewLock("up")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := hl.Lock(ctx, noop)
	var herr handler.Error
	if !errors.As(err, &herr) || herr.HTTPResponse.StatusCode != 503 {
		t.Fatalf("Lock with Redis down = %v, want a 503 handler.Error", err)
	}
}
