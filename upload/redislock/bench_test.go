package redislock

import (
	"context"
	"strconv"
	"testing"

	"github.com/tus/tusd/v2/pkg/handler"
)

// BenchmarkLockUnlock is the cost tusd pays per request on a free upload:
// SET NX, subscribe, compare-and-delete with its notice, unsubscribe.
func BenchmarkLockUnlock(b *testing.B) {
	n := newNode(b, Config{Prefix: testPrefix(b)})
	ctx := context.Background()
	i := 0
	for b.Loop() {
		hl, _ := n.locker.NewLock("up" + strconv.Itoa(i%64))
		if err := hl.Lock(ctx, noop); err != nil {
			b.Fatal(err)
		}
		if err := hl.Unlock(); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkHandover is one node taking an upload from a holder on another
// node that releases when asked, as a resumed request does.
func BenchmarkHandover(b *testing.B) {
	cfg := Config{Prefix: testPrefix(b)}
	nodes := [2]node{newNode(b, cfg), newNode(b, cfg)}
	ctx := context.Background()
	var held handler.Lock
	take := func(l *Locker) {
		hl, _ := l.NewLock("up")
		// Release when asked, off the hub's goroutine, as tusd does.
		if err := hl.Lock(ctx, func() { go hl.Unlock() }); err != nil {
			b.Fatal(err)
		}
		held = hl
	}
	take(nodes[0].locker)
	i := 1
	for b.Loop() {
		take(nodes[i%2].locker)
		i++
	}
	held.Unlock()
}
