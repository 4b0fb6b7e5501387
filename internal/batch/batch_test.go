package batch

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestFill(t *testing.T) {
	ch := make(chan int, 10)
	for i := range 5 {
		ch <- i
	}
	if got := fill(ch, []int{-1}, 4, 0); !slices.Equal(got, []int{-1, 0, 1, 2}) {
		t.Fatalf("max: got %v", got)
	}
	if got := fill(ch, nil, 10, 0); !slices.Equal(got, []int{3, 4}) {
		t.Fatalf("drain without linger: got %v", got)
	}
	if got := fill(ch, nil, 10, 0); len(got) != 0 {
		t.Fatalf("empty channel: got %v", got)
	}

	// With linger, an item arriving within it joins the batch.
	go func() { time.Sleep(10 * time.Millisecond); ch <- 7 }()
	if got := fill(ch, []int{6}, 2, 5*time.Second); !slices.Equal(got, []int{6, 7}) {
		t.Fatalf("linger: got %v", got)
	}
	start := time.Now()
	if got := fill(ch, []int{8}, 2, 20*time.Millisecond); !slices.Equal(got, []int{8}) {
		t.Fatalf("linger expiry: got %v", got)
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Fatal("returned before the linger was over")
	}

	ch <- 9
	close(ch)
	if got := fill(ch, nil, 10, time.Hour); !slices.Equal(got, []int{9}) {
		t.Fatalf("closed: got %v", got)
	}
}

func TestQueue(t *testing.T) {
	var mu sync.Mutex
	var got []int
	var sizes []int
	release := make(chan struct{})
	q := NewQueue(Options{Size: 100, Workers: 1, Max: 10}, func(b []int) {
		<-release // hold the worker so the rest queue up behind the first
		mu.Lock()
		got = append(got, b...)
		sizes = append(sizes, len(b))
		mu.Unlock()
	})
	ctx := context.Background()
	for i := range 25 {
		if err := q.Put(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	if q.Len() == 0 {
		t.Fatal("nothing waiting while the worker is held")
	}
	close(release)
	q.Close()
	want := make([]int, 25)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(got, want) {
		t.Fatalf("handled %v, want 0..24 in order", got)
	}
	if slices.Max(sizes) != 10 || len(sizes) > 4 {
		t.Fatalf("batch sizes %v: want batches of up to 10", sizes)
	}
	if err := q.Put(ctx, 1); err != ErrClosed {
		t.Fatalf("Put after Close: %v", err)
	}
	if q.TryPut(1) {
		t.Fatal("TryPut after Close succeeded")
	}
}

func TestQueue_Full(t *testing.T) {
	block := make(chan struct{})
	q := NewQueue(Options{Size: 1, Workers: 1, Max: 1}, func([]int) { <-block })
	defer q.Close()
	defer close(block)
	q.Put(context.Background(), 1) // taken by the worker, which blocks
	for q.Len() != 0 {
		time.Sleep(time.Millisecond)
	}
	if !q.TryPut(2) {
		t.Fatal("TryPut into an empty slot failed")
	}
	if q.TryPut(3) {
		t.Fatal("TryPut into a full queue succeeded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := q.Put(ctx, 3); err != context.DeadlineExceeded {
		t.Fatalf("Put into a full queue: %v, want the context's error", err)
	}
}

// A Put waiting for room when Close comes returns ErrClosed rather than
// holding Close up until a worker makes room.
func TestQueue_CloseReleasesWaitingPut(t *testing.T) {
	release := make(chan struct{})
	q := NewQueue(Options{Size: 1, Workers: 1, Max: 1}, func([]int) { <-release })
	q.Put(context.Background(), 1) // the worker takes it and blocks
	for q.Len() != 0 {
		time.Sleep(time.Millisecond)
	}
	q.Put(context.Background(), 2) // fills the queue
	putErr := make(chan error)
	go func() { putErr <- q.Put(context.Background(), 3) }() // waits for room
	time.Sleep(20 * time.Millisecond)
	closed := make(chan struct{})
	go func() { q.Close(); close(closed) }()
	select {
	case err := <-putErr:
		if err != ErrClosed {
			t.Fatalf("waiting Put: %v, want ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a waiting Put held up Close")
	}
	close(release) // the worker finishes 1, then 2
	<-closed
}
