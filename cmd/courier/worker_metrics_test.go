package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/worker"
)

// TestEndToEnd_WorkerMetrics: a standalone `courier worker` serves /healthz
// and /metrics on -metrics-addr, with the job metrics by task type (a job
// that fails for good is counted as retry="false") and the queue depths.
func TestEndToEnd_WorkerMetrics(t *testing.T) {
	cfg := testConfig(t)
	cfg.RedisURL = testenv.NewRedisDB(t)
	cfg.MetricsAddr = freeAddr(t)
	p := startChild(t, "worker", cfg)
	base := "http://" + cfg.MetricsAddr

	waitFor(t, 30*time.Second, "worker /healthz", func() bool {
		if err, done := p.Wait(0); done {
			t.Fatalf("worker exited: %v\n%s", err, p.Logs())
		}
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	// A job for a blob that does not exist fails for good (no retry).
	opt, err := asynq.ParseRedisURI(cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	q := asynq.NewClient(opt)
	defer q.Close()
	task, _ := worker.NewProcessBlobTask(courier.NewID())
	if _, err := q.EnqueueContext(context.Background(), task); err != nil {
		t.Fatal(err)
	}

	want := []string{
		`courier_job_failures_total{retry="false",type="blob:process"} 1`,
		`courier_job_duration_seconds_count{type="blob:process"} 1`,
		`courier_job_duration_seconds_count{type="blob:transcode"} 0`,
		`courier_job_failures_total{retry="true",type="push:notify"} 0`,
		`courier_queue_tasks{queue="video",state="pending"} 0`,
		`go_goroutines`,
	}
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		missing := ""
		for _, w := range want {
			if !strings.Contains(body, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %s:\n%s\nworker logs:\n%s", missing, body, p.Logs())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
