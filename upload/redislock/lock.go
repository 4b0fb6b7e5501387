package redislock

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/courier-chat/courier"
	"github.com/redis/go-redis/v9"
	"github.com/tus/tusd/v2/pkg/handler"
)

// lock is one request's claim on one upload. tusd makes a new one per
// request with NewLock, calls Lock once and Unlock once (deferred).
type lock struct {
	locker *Locker
	id     string
	key    string

	mu sync.Mutex
	h  *holding // nil unless held
}

// holding is a held lock: created on acquisition, immutable after, so the
// renewal goroutine and the hub can read it without locks.
type holding struct {
	token          string
	requestRelease func()
	asked          atomic.Bool
	stop           chan struct{}
}

// ask calls the holder's requestRelease once. Every waiter republishes its
// request while it polls; tusd only needs to hear it the first time. It
// runs on the hub's dispatch goroutine, which is fine for tusd's callback
// (it cancels a context); a callback that blocks would delay the node's
// other release requests.
func (hd *holding) ask() {
	if hd.asked.CompareAndSwap(false, true) {
		hd.requestRelease()
	}
}

// Lock acquires the lock, as tusd's memorylocker does but across nodes: if
// someone holds it, ask them (on whatever node) to release it, and wait for
// the unlock until ctx is done. Like memorylocker, a free lock is taken even
// if ctx is already done.
func (k *lock) Lock(ctx context.Context, requestRelease func()) error {
	l := k.locker
	wake := l.hub.addWaiter(k.id)
	defer l.hub.removeWaiter(k.id, wake)

	token := courier.NewID()
	delay := l.cfg.PollMin
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		// The attempt starts before SET is sent, so the lease we count
		// down locally never outlasts the one Redis keeps.
		start := time.Now()
		ok, err := k.tryAcquire(ctx, token)
		if err != nil {
			if ctx.Err() != nil {
				return handler.ErrLockTimeout
			}
			l.log.Error("acquire failed", "upload", k.id, "error", err)
			return ErrUnavailable
		}
		if ok {
			k.hold(token, requestRelease, start)
			return nil
		}
		k.publishRelease(ctx)

		timer.Reset(delay)
		select {
		case <-ctx.Done():
			return handler.ErrLockTimeout
		case <-wake:
			// Unlocked: retry now, and poll fast again if someone
			// else got there first.
			delay = l.cfg.PollMin
		case <-timer.C:
			delay = min(2*delay, l.cfg.PollMax)
		}
	}
}

// tryAcquire is SET key token NX PX ttl. If the call fails we cannot know
// whether Redis applied it, so we release by token in the background: a
// lock taken by a request that then gave up would otherwise block the
// upload for a whole lease.
func (k *lock) tryAcquire(ctx context.Context, token string) (bool, error) {
	l := k.locker
	opCtx, cancel := l.opContext(ctx)
	defer cancel()
	_, err := l.client.SetArgs(opCtx, k.key, token, redis.SetArgs{Mode: "NX", TTL: l.cfg.LeaseTTL}).Result()
	switch err {
	case nil:
		return true, nil
	case redis.Nil: // NX refused: held elsewhere
		return false, nil
	}
	go func() {
		opCtx, cancel := l.opContext(context.Background())
		defer cancel()
		unlockScript.Run(opCtx, l.client, []string{k.key}, token, l.channel(k.id))
	}()
	return false, err
}

// publishRelease asks the current holder, wherever it is, to finish early.
// A failure here is only logged: the holder finishes on its own eventually.
func (k *lock) publishRelease(ctx context.Context) {
	l := k.locker
	opCtx, cancel := l.opContext(ctx)
	defer cancel()
	if err := l.client.Publish(opCtx, l.channel(k.id), msgRelease).Err(); err != nil {
		l.log.Warn("release request failed", "upload", k.id, "error", err)
	}
}

func (k *lock) hold(token string, requestRelease func(), start time.Time) {
	hd := &holding{token: token, requestRelease: requestRelease, stop: make(chan struct{})}
	k.mu.Lock()
	k.h = hd
	k.mu.Unlock()
	k.locker.hub.setHolder(k.id, hd)
	go k.renew(hd, start)
}

// Unlock releases the lock if this request still holds it. A lock that was
// lost (lease expired, maybe retaken by another node) is left alone; that is
// logged, not returned, since tusd has nothing to do about it.
func (k *lock) Unlock() error {
	k.mu.Lock()
	hd := k.h
	k.h = nil
	k.mu.Unlock()
	if hd == nil {
		return nil
	}
	// A renewal still in flight is harmless: its compare fails once the
	// key is gone or carries another token.
	close(hd.stop)
	l := k.locker
	l.hub.clearHolder(k.id, hd)

	ctx, cancel := l.opContext(context.Background())
	defer cancel()
	n, err := unlockScript.Run(ctx, l.client, []string{k.key}, hd.token, l.channel(k.id)).Int()
	// Waiters on this node need not wait for the notice's round trip.
	l.hub.wake(k.id)
	if err != nil {
		l.log.Error("unlock failed; the lease will expire", "upload", k.id, "error", err)
		return ErrUnavailable
	}
	if n == 0 {
		l.log.Warn("unlock found the lock no longer ours", "upload", k.id)
	}
	return nil
}
