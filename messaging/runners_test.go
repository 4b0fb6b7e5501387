package messaging

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// Jobs run one after another reuse one runner; concurrent jobs get runners
// of their own; idle runners exit.
func TestRunners(t *testing.T) {
	r := newRunners()
	base := runtime.NumGoroutine()
	for range 50 {
		done := make(chan struct{})
		r.Go(func() { close(done) })
		<-done
		time.Sleep(time.Millisecond) // the runner is back waiting
	}
	if n := runtime.NumGoroutine() - base; n != 1 {
		t.Fatalf("%d goroutines for jobs one after another, want 1 runner", n)
	}

	var started, release sync.WaitGroup
	release.Add(1)
	for range 5 {
		started.Add(1)
		r.Go(func() { started.Done(); release.Wait() })
	}
	started.Wait() // five jobs at once: five runners
	if n := runtime.NumGoroutine() - base; n != 5 {
		t.Fatalf("%d goroutines for 5 concurrent jobs", n)
	}
	release.Done()

	deadline := time.Now().Add(runnerIdle + 3*time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d runners left after %s idle", runtime.NumGoroutine()-base, runnerIdle)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
