package worker

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/redis"
)

// TestMedia_AsynqFlow runs a video through a real asynq server with the
// Redis event bus: the process task on the media queue, the transcode task
// it enqueues on the video queue, two media.ready events received by a
// subscriber on another bus connection, a refused duplicate enqueue, job
// metrics and queue depth.
func TestMedia_AsynqFlow(t *testing.T) {
	e := newMediaEnv(t, MediaConfig{})
	opt, _ := goredis.ParseURL(e.redis)
	rdb := goredis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })

	// The worker publishes on one bus; a "gateway" listens on another.
	pub := redis.NewEventBus(rdb, redis.Config{Prefix: "flow:"})
	sub := redis.NewEventBus(rdb, redis.Config{Prefix: "flow:"})
	t.Cleanup(func() { pub.Close(); sub.Close() })
	got := make(chan MediaEvent, 10)
	sub.Handle(func(_ string, ev courier.Event) {
		var me MediaEvent
		if ev.Type == courier.EventMediaReady && json.Unmarshal(ev.Data, &me) == nil {
			got <- me
		}
	})
	if err := sub.Subscribe(context.Background(), courier.UserTopic(e.owner)); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	h := NewMediaHandler(e.objects, e.blobs, pub, e.queue, MediaConfig{TempDir: t.TempDir()})
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 2, Queues: Queues,
		RetryDelayFunc: RetryDelay, LogLevel: asynq.WarnLevel})
	if err := srv.Start(NewServeMux(h, metrics)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)

	b := e.upload(ffmpegMake(t, nil, hevcClip), "video/quicktime", courier.BlobPlain)
	task, _ := NewProcessBlobTask(b.ID)
	if _, err := e.queue.Enqueue(task); err != nil {
		t.Fatal(err)
	}
	// A retried upload finish enqueues again: refused, no second job.
	if _, err := e.queue.Enqueue(task); !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Fatalf("duplicate enqueue: %v, want ErrTaskIDConflict", err)
	}

	first, second := wait(t, got), wait(t, got)
	if !first.Transcoding || first.Variant("poster") == nil || first.Variant("mp4") != nil {
		t.Errorf("first media.ready = %+v, want the poster with an MP4 coming", first)
	}
	if second.Transcoding || second.Variant("mp4") == nil || second.Variant("poster") == nil {
		t.Errorf("second media.ready = %+v, want poster and mp4", second)
	}
	select {
	case ev := <-got:
		t.Errorf("third media.ready: %+v", ev)
	case <-time.After(500 * time.Millisecond):
	}

	reg.MustRegister(NewQueueCollector(e.inspector(), []string{QueueMedia, QueueVideo}))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	samples := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "," + l.GetValue()
			}
			samples[name] = m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	for name, want := range map[string]float64{
		"courier_job_duration_seconds," + TypeProcessBlob:   1,
		"courier_job_duration_seconds," + TypeTranscodeBlob: 1,
		"courier_queue_tasks,media,pending":                 0,
		"courier_queue_tasks,video,active":                  0,
	} {
		if v, ok := samples[name]; !ok || v != want {
			t.Errorf("metric %s = %v (present %v), want %v", name, v, ok, want)
		}
	}
}

func wait(t *testing.T, ch <-chan MediaEvent) MediaEvent {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(60 * time.Second):
		t.Fatal("no media.ready within 60 s")
	}
	return MediaEvent{}
}
