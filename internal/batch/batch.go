// Package batch collects work queued on a channel into batches, so one
// round trip (a commit, a Redis pipeline, a lookup) serves many callers:
// the busier the queue, the larger the batches, and an idle queue adds no
// wait.
package batch

import "time"

// fill appends to b whatever ch holds right now, until b has max items.
// With linger > 0 it then waits up to linger for more; with 0 it never
// waits. It stops early when ch is closed.
func fill[T any](ch <-chan T, b []T, max int, linger time.Duration) []T {
	var deadline <-chan time.Time
	for len(b) < max {
		select {
		case v, ok := <-ch:
			if !ok {
				return b
			}
			b = append(b, v)
			continue
		default:
		}
		if linger <= 0 {
			return b
		}
		if deadline == nil {
			t := time.NewTimer(linger)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case v, ok := <-ch:
			if !ok {
				return b
			}
			b = append(b, v)
		case <-deadline:
			return b
		}
	}
	return b
}
