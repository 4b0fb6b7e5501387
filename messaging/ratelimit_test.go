package messaging

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLimiter(20, 40)
	l.now = func() time.Time { return now }
	for i := range 40 {
		if ok, _ := l.Allow("dev"); !ok {
			t.Fatalf("burst: refused at %d of 40", i)
		}
	}
	ok, wait := l.Allow("dev")
	if ok || wait <= 0 || wait > 50*time.Millisecond {
		t.Fatalf("41st: ok=%v wait=%v, want refused with ~50ms", ok, wait)
	}
	if ok, _ := l.Allow("other"); !ok {
		t.Fatal("keys share a bucket")
	}
	now = now.Add(100 * time.Millisecond) // two tokens back
	for i := range 2 {
		if ok, _ := l.Allow("dev"); !ok {
			t.Fatalf("refill: refused at %d", i)
		}
	}
	if ok, _ := l.Allow("dev"); ok {
		t.Fatal("refilled more than the rate")
	}
	now = now.Add(2 * sweepEvery)
	l.Allow("x")
	if _, ok := l.buckets["other"]; ok {
		t.Fatal("idle full bucket not swept")
	}
}
