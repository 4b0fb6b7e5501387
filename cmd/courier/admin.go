package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/courier-chat/courier/worker"
)

// mountAdmin puts the asynq dashboard at /admin/queues, behind the admin
// secret (a browser sends it as the basic-auth password), and the depth of
// every job queue in /metrics. Both read Redis, so any API node shows the
// whole cluster's queues, whichever node runs the workers.
func (m *Main) mountAdmin() {
	opt := m.Redis.Options()
	mon := asynqmon.New(asynqmon.Options{
		RootPath: "/admin/queues",
		RedisConnOpt: asynq.RedisClientOpt{Network: opt.Network, Addr: opt.Addr, Username: opt.Username,
			Password: opt.Password, DB: opt.DB, TLSConfig: opt.TLSConfig},
	})
	m.onClose(func(context.Context) error { return mon.Close() })
	m.API.Handle("/admin/queues/", m.API.AdminOnly(mon))
	m.API.Handle("/admin/queues", m.API.AdminOnly(mon))
	m.registerQueueMetrics()
}

// registerQueueMetrics adds the depth and latency of every job queue, read
// from Redis at each scrape, to the process's registry.
func (m *Main) registerQueueMetrics() {
	insp := asynq.NewInspectorFromRedisClient(m.Redis)
	m.Registry.MustRegister(worker.NewQueueCollector(insp, slices.Sorted(maps.Keys(worker.Queues))))
}

// serveWorkerMetrics gives a standalone worker, which has no API, a
// listener of its own on -metrics-addr: /metrics (job latency and failures
// by task type, the cluster's queue depths, Go and process figures) and
// /healthz (alive; nothing else is asked, as on the API). In serve and dev
// the API's /metrics shows the same registry. A port already taken fails
// the start, naming the setting, rather than running unobserved.
func (m *Main) serveWorkerMetrics() error {
	if m.Config.MetricsAddr == "" {
		return nil
	}
	m.registerQueueMetrics()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	return m.listenAside("metrics-addr", m.Config.MetricsAddr, mux)
}

// serveDebug serves Go's profiler (/debug/pprof/) on -debug-addr. It is
// off by default and has no authentication: bind it to loopback or a
// private interface only.
func (m *Main) serveDebug() error {
	if m.Config.DebugAddr == "" {
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return m.listenAside("debug-addr", m.Config.DebugAddr, mux)
}

// listenAside serves h on addr beside the API until Close. A port already
// taken fails the start, naming the setting.
func (m *Main) listenAside(setting, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s %s: %w", setting, addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("listener stopped", "setting", setting, "err", err)
		}
	}()
	m.onClose(srv.Shutdown)
	m.Logger.Info("listening", "setting", setting, "addr", ln.Addr().String())
	return nil
}
