package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/courier-chat/courier"
)

// readyTimeout bounds each dependency check of /readyz.
const readyTimeout = 2 * time.Second

func (s *Server) registerHealthRoutes(reg *prometheus.Registry) {
	// /healthz says the process is alive: no dependency is asked, so a
	// database outage does not make an orchestrator restart every node.
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		JSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	s.mux.Handle("GET /metrics", metricsHandler(reg))
}

// handleReady asks every dependency at once and answers 503 naming each
// one that is down.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	type result struct {
		Status string `json:"status"`
	}
	results := make(map[string]result, len(s.ready))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range s.ready {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			res := result{Status: "ok"}
			if err := c.Check(ctx); err != nil {
				// /readyz is public: the detail (addresses, hosts) goes to
				// the log for operators, not to whoever asks.
				courier.Logger(r.Context()).Warn("readiness check failed", "check", c.Name, "err", err)
				res = result{Status: "down"}
			}
			mu.Lock()
			results[c.Name] = res
			mu.Unlock()
		}()
	}
	wg.Wait()
	status, code := "ok", http.StatusOK
	down := []string{}
	for name, res := range results {
		if res.Status != "ok" {
			down = append(down, name)
		}
	}
	if len(down) > 0 {
		status, code = "unavailable", http.StatusServiceUnavailable
	}
	JSON(w, code, map[string]any{"status": status, "down": down, "checks": results})
}
