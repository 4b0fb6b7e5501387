package worker

import (
	"github.com/prometheus/client_golang/prometheus"
)

// PushMetrics counts what the push job does with APNs and FCM: pushes
// accepted, refusals by the provider's reason, the time from a message's
// commit to the provider's acceptance, and tokens removed because the
// provider said they are gone.
type PushMetrics struct {
	sent    *prometheus.CounterVec
	failed  *prometheus.CounterVec
	latency *prometheus.HistogramVec
	removed *prometheus.CounterVec
	skipped prometheus.Counter
}

// NewPushMetrics registers the push metrics on reg.
func NewPushMetrics(reg prometheus.Registerer) *PushMetrics {
	m := &PushMetrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "courier_push_sent_total",
			Help: "Pushes a provider accepted, by service (apns, fcm, log, webhook) and kind (message, silent, test).",
		}, []string{"service", "kind"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "courier_push_failed_total",
			Help: "Pushes a provider refused or that could not reach it, by service and the provider's reason.",
		}, []string{"service", "reason"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "courier_push_latency_seconds",
			Help: "Time from a message's commit to the provider's acceptance of its push.",
			// Pushes leave within a second or two unless a window or a
			// retry holds them (trailing pushes wait up to 10 s).
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30, 60, 300},
		}, []string{"service"}),
		removed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "courier_push_tokens_removed_total",
			Help: "Push tokens removed because the provider said they will never work again.",
		}, []string{"service"}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "courier_push_skipped_total",
			Help: "Push jobs that found nothing to send: the messages were read, or the user left.",
		}),
	}
	reg.MustRegister(m.sent, m.failed, m.latency, m.removed, m.skipped)
	return m
}

// The methods take a nil *PushMetrics as "not counted", for tests and
// tools that have no registry.

func (m *PushMetrics) observeSent(service, kind string, latency float64) {
	if m == nil {
		return
	}
	m.sent.WithLabelValues(service, kind).Inc()
	if latency >= 0 {
		m.latency.WithLabelValues(service).Observe(latency)
	}
}

func (m *PushMetrics) observeFailed(service, reason string) {
	if m != nil {
		m.failed.WithLabelValues(service, reason).Inc()
	}
}

func (m *PushMetrics) observeRemoved(service string) {
	if m != nil {
		m.removed.WithLabelValues(service).Inc()
	}
}

func (m *PushMetrics) observeSkipped() {
	if m != nil {
		m.skipped.Inc()
	}
}
