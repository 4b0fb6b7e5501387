package messaging

import (
	"sync/atomic"
	"time"
)

// runners runs short jobs (one frame's handling, one writer's burst) on
// goroutines it keeps for a while after their job. A goroutine's stack
// grows on the way through JSON, the store and gorilla's writer, and a new
// goroutine per job would grow it again each time (runtime.copystack was
// 7% of a busy node's CPU); a runner grew it once. Runners idle longer
// than runnerIdle exit, so a quiet node keeps none.
type runners struct {
	jobs chan func() // unbuffered: a send succeeds only to a waiting runner
	live atomic.Int32
}

const runnerIdle = 2 * time.Second

func newRunners() *runners { return &runners{jobs: make(chan func())} }

// Go runs f on a waiting runner, or on a new one.
func (r *runners) Go(f func()) {
	select {
	case r.jobs <- f:
	default:
		r.live.Add(1)
		go r.run(f)
	}
}

func (r *runners) run(f func()) {
	defer r.live.Add(-1)
	idle := time.NewTimer(runnerIdle)
	defer idle.Stop()
	for {
		f()
		f = nil // nothing of the job outlives it
		idle.Reset(runnerIdle)
		select {
		case f = <-r.jobs:
		case <-idle.C:
			return
		}
	}
}
