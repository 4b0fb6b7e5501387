package messaging

import (
	"sync"
	"testing"
	"time"
)

// Jobs run one after another reuse one runner; concurrent jobs get runners
// of their own; idle runners exit.
func TestRunners(t *testing.T) {
	r := newRunners()
	// The first job starts a runner; the next ones are handed to it once
	// it waits again (Go would start another if it were not yet waiting).
	for i := range 50 {
		done := make(chan struct{})
		job := func() { close(done) }
		if i == 0 {
			r.Go(job)
		} else {
			handed := false
			for deadline := time.Now().Add(5 * time.Second); !handed && time.Now().Before(deadline); {
				select {
				case r.jobs <- job:
					handed = true
				default:
					time.Sleep(time.Millisecond)
				}
			}
			if !handed {
				t.Fatalf("job %d: no runner waiting", i)
			}
		}
		<-done
	}
	if n := r.live.Load(); n != 1 {
		t.Fatalf("%d runners for jobs one after another, want 1", n)
	}

	var started, release sync.WaitGroup
	release.Add(1)
	for range 5 {
		started.Add(1)
		r.Go(func() { started.Done(); release.Wait() })
	}
	started.Wait() // five jobs at once: five runners (and maybe the first,
	// if it was not yet waiting when the first of them came)
	if n := r.live.Load(); n < 5 || n > 6 {
		t.Fatalf("%d runners for 5 concurrent jobs", n)
	}
	release.Done()

	deadline := time.Now().Add(runnerIdle + 3*time.Second)
	for r.live.Load() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d runners left after %s idle", r.live.Load(), runnerIdle)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
