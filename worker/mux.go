package worker

import (
	"errors"
	"math"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"

	"github.com/courier-chat/courier"
)

// NewServeMux routes the media job types to h, observed by metrics (which
// may be nil). Other handlers (pushes) are added by the caller.
func NewServeMux(h *MediaHandler, metrics *Metrics) *asynq.ServeMux {
	mux := asynq.NewServeMux()
	if metrics != nil {
		mux.Use(metrics.Middleware)
		metrics.Known(TypeProcessBlob, TypeTranscodeBlob)
	}
	mux.Handle(TypeProcessBlob, h)
	mux.Handle(TypeTranscodeBlob, h)
	return mux
}

// maxRetryDelay caps the backoff: a worker that lost S3 for an hour starts
// again within minutes of its return.
const maxRetryDelay = 10 * time.Minute

// RetryDelay is the asynq.Config RetryDelayFunc. A task whose worker died
// (its lease expired: SIGKILL, OOM, a lost node) is run again at once,
// since waiting fixes nothing; a push provider's Retry-After is obeyed;
// other failures back off exponentially from
// about 2 s (n=0) to maxRetryDelay, with jitter so that tasks failed by the
// same outage do not come back together.
func RetryDelay(n int, err error, _ *asynq.Task) time.Duration {
	if errors.Is(err, asynq.ErrLeaseExpired) {
		return time.Second
	}
	// A push provider that said when to come back (Retry-After) is obeyed.
	var pe *courier.PushError
	if errors.As(err, &pe) && pe.RetryAfter > 0 {
		return min(pe.RetryAfter, maxRetryDelay)
	}
	d := time.Duration(math.Min(float64(maxRetryDelay), float64(2*time.Second)*math.Pow(2, float64(n))))
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
