package postgres

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector exports pgxpool statistics to Prometheus.
type PoolCollector struct {
	pool                                        *pgxpool.Pool
	acquired, idle, total, max                  *prometheus.Desc
	acquireCount, acquireWait, emptyAcquireWait *prometheus.Desc
}

var _ prometheus.Collector = (*PoolCollector)(nil)

// NewPoolCollector returns a collector for pool.
func NewPoolCollector(pool *pgxpool.Pool) *PoolCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("courier_db_pool_"+name, help, nil, nil)
	}
	return &PoolCollector{
		pool:             pool,
		acquired:         d("acquired_conns", "Connections in use."),
		idle:             d("idle_conns", "Idle connections."),
		total:            d("total_conns", "Open connections."),
		max:              d("max_conns", "Pool size limit."),
		acquireCount:     d("acquires_total", "Connections acquired from the pool."),
		acquireWait:      d("acquire_wait_seconds_total", "Time spent waiting for a connection."),
		emptyAcquireWait: d("empty_acquires_total", "Acquires that had to wait for a connection."),
	}
}

func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.acquired, c.idle, c.total, c.max, c.acquireCount, c.acquireWait, c.emptyAcquireWait} {
		ch <- d
	}
}

func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	k := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(c.acquired, float64(s.AcquiredConns()))
	g(c.idle, float64(s.IdleConns()))
	g(c.total, float64(s.TotalConns()))
	g(c.max, float64(s.MaxConns()))
	k(c.acquireCount, float64(s.AcquireCount()))
	k(c.acquireWait, s.AcquireDuration().Seconds())
	k(c.emptyAcquireWait, float64(s.EmptyAcquireCount()))
}
