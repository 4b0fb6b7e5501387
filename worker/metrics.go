package worker

import (
	"context"
	"errors"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts jobs as the worker runs them: how long each type takes and
// how often it fails, split into failures that will be retried and those
// that will not (bad media).
type Metrics struct {
	duration *prometheus.HistogramVec
	failures *prometheus.CounterVec
}

// NewMetrics registers the job metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "courier_job_duration_seconds",
			Help: "Time one run of a background job took, by task type.",
			// From a 50 ms thumbnail to an hour-long transcode.
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
		}, []string{"type"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "courier_job_failures_total",
			Help: "Failed job runs by task type; retry=false for permanent failures such as bad media.",
		}, []string{"type", "retry"}),
	}
	reg.MustRegister(m.duration, m.failures)
	return m
}

// Known creates the series of the given task types at zero, so that a
// fresh worker's /metrics lists them, and rates and alerts work, before the
// first job of each type has run.
func (m *Metrics) Known(types ...string) {
	for _, t := range types {
		m.duration.WithLabelValues(t)
		m.failures.WithLabelValues(t, "true")
		m.failures.WithLabelValues(t, "false")
	}
}

// Middleware observes every job the mux runs.
func (m *Metrics) Middleware(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		start := time.Now()
		err := next.ProcessTask(ctx, t)
		m.duration.WithLabelValues(t.Type()).Observe(time.Since(start).Seconds())
		if err != nil {
			retry := "true"
			if errors.Is(err, asynq.SkipRetry) {
				retry = "false"
			}
			m.failures.WithLabelValues(t.Type(), retry).Inc()
		}
		return err
	})
}

// QueueCollector reports the depth of each queue, read from Redis with the
// asynq Inspector when /metrics is scraped, so any node (API or worker)
// shows the whole cluster's queues.
type QueueCollector struct {
	insp   *asynq.Inspector
	queues []string
	size   *prometheus.Desc
	lat    *prometheus.Desc
}

// NewQueueCollector reports on the given queues through insp.
func NewQueueCollector(insp *asynq.Inspector, queues []string) *QueueCollector {
	return &QueueCollector{
		insp: insp, queues: queues,
		size: prometheus.NewDesc("courier_queue_tasks", "Tasks in a job queue, by state.", []string{"queue", "state"}, nil),
		lat:  prometheus.NewDesc("courier_queue_latency_seconds", "Age of the oldest pending task of a queue.", []string{"queue"}, nil),
	}
}

func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.size
	ch <- c.lat
}

func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	for _, q := range c.queues {
		// A queue that never had a task does not exist in Redis yet: it
		// is empty, not an error.
		info, err := c.insp.GetQueueInfo(q)
		if err != nil {
			info = &asynq.QueueInfo{Queue: q}
		}
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active,
			"scheduled": info.Scheduled, "retry": info.Retry, "archived": info.Archived} {
			ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(n), q, state)
		}
		ch <- prometheus.MustNewConstMetric(c.lat, prometheus.GaugeValue, info.Latency.Seconds(), q)
	}
}
