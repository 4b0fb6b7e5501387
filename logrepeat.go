package courier

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// RepeatLog logs failures that come in floods once per interval per cause,
// with how many times the cause recurred since its last line, and counts
// every occurrence for /metrics. A database restart fails every request
// and frame for seconds: one line per failure (thousands a second) buries
// everything else in the log and costs more than the requests themselves.
type RepeatLog struct {
	every time.Duration

	mu     sync.Mutex
	causes map[string]*repeat
}

type repeat struct {
	last   time.Time // when the cause was last logged
	missed int       // occurrences since then, not logged
	total  uint64
}

// LogEvery is how often one cause is logged while it recurs.
const LogEvery = 10 * time.Second

// NewRepeatLog returns a RepeatLog logging each cause at most once per every.
func NewRepeatLog(every time.Duration) *RepeatLog {
	return &RepeatLog{every: every, causes: map[string]*repeat{}}
}

// Repeats is the process's RepeatLog: the HTTP and WebSocket edges and the
// event bus report through it, and /metrics shows its counts.
var Repeats = NewRepeatLog(LogEvery)

// Log counts one occurrence of cause and logs it unless the cause was
// logged less than the interval ago; the line then carries "repeated", the
// occurrences skipped since the last line. cause must come from a small
// fixed set (a dependency name, a fixed message): it is a metric label.
func (r *RepeatLog) Log(logger *slog.Logger, level slog.Level, cause, msg string, args ...any) {
	now := time.Now()
	r.mu.Lock()
	c := r.causes[cause]
	if c == nil {
		c = &repeat{}
		r.causes[cause] = c
	}
	c.total++
	if now.Sub(c.last) < r.every {
		c.missed++
		r.mu.Unlock()
		return
	}
	missed := c.missed
	c.last, c.missed = now, 0
	r.mu.Unlock()
	if missed > 0 {
		args = append(args, "repeated", missed)
	}
	logger.Log(context.Background(), level, msg, append(args, "cause", cause)...)
}

// Counts returns every cause seen and its occurrences, causes sorted.
func (r *RepeatLog) Counts() (causes []string, totals []uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.causes {
		causes = append(causes, k)
	}
	sort.Strings(causes)
	for _, k := range causes {
		totals = append(totals, r.causes[k].total)
	}
	return causes, totals
}

// LogFailure logs err answered to a client: an outage (EUNAVAILABLE) at
// warning level through Repeats, under its dependency; an internal error
// at error level, each one. Client errors (invalid, not found, …) are not
// logged here.
func LogFailure(logger *slog.Logger, msg string, err error) {
	var e *Error
	switch {
	case errors.As(err, &e) && e.Code == EUNAVAILABLE:
		dep := e.Dependency
		if dep == "" {
			dep = "unavailable"
		}
		Repeats.Log(logger, slog.LevelWarn, dep, msg, "err", err)
	case ErrorCode(err) == EINTERNAL:
		logger.Error(msg, "err", err)
	}
}
