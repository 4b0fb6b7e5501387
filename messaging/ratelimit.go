package messaging

import (
	"math"
	"sync"
	"time"
)

// Limiter is a set of token buckets keyed by a string (a device ID, or a
// user and conversation). Limits are per API node: a device's socket lives
// on one node and a device's HTTP sends usually go to one, and a node-local
// limiter costs no Redis round trip per message. A device spreading
// requests over N nodes gets at most N times the rate, which bounds abuse
// well enough; the store's own limits (group sizes) are global.
type Limiter struct {
	rate  float64 // tokens per second
	burst float64

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
	now       func() time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLimiter allows rate events per second with bursts of burst.
func NewLimiter(rate float64, burst int) *Limiter {
	if burst < 1 {
		burst = 1
	}
	return &Limiter{rate: rate, burst: float64(burst), buckets: map[string]*bucket{}, now: time.Now}
}

// sweepEvery is how often idle, full buckets are dropped so the map holds
// only keys active in the last minute or so.
const sweepEvery = time.Minute

// Allow takes a token for key. When none is left it reports how long until
// one is.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	if l == nil || l.rate <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > sweepEvery {
		l.sweep(now)
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

func (l *Limiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}
