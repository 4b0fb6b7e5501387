package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/courier-chat/courier"
)

// httpMetrics counts requests by route pattern (never raw paths, so IDs in
// URLs cannot blow up cardinality), method and status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg *prometheus.Registry) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "courier_http_requests_total",
			Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "courier_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.duration, newRepeatCollector())
	return m
}

func (m *httpMetrics) observe(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// repeatCollector shows courier.Repeats: failures by cause (a dependency
// name for outages), including those its log left out.
type repeatCollector struct{ desc *prometheus.Desc }

func newRepeatCollector() *repeatCollector {
	return &repeatCollector{desc: prometheus.NewDesc("courier_failures_total",
		"Failures answered or met by cause: a dependency name (database, storage, event bus) for outages, else a fixed message. Logged once per interval each.",
		[]string{"cause"}, nil)}
}

func (c *repeatCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *repeatCollector) Collect(ch chan<- prometheus.Metric) {
	causes, totals := courier.Repeats.Counts()
	for i, cause := range causes {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(totals[i]), cause)
	}
}

func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
