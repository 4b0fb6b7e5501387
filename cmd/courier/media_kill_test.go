package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/worker"
)

// TestEndToEnd_WorkerKilledMidTranscode: a worker process is killed with
// SIGKILL while it transcodes a video; a new worker picks the job up and
// finishes it once: one mp4 variant, one media.ready for it.
//
// It takes 90–110 s on two busy cores, about 60 s of it waiting: asynq gives a dead worker's task
// back only once its lease (30 s, extended every 5 s while the worker
// lives) has been expired for another 30 s, which its recoverer checks at
// start and then every minute. The test starts the second worker as soon
// as the task qualifies, and worker.RetryDelay runs it again at once.
func TestEndToEnd_WorkerKilledMidTranscode(t *testing.T) {
	cfg := testConfig(t)
	cfg.RedisURL = testenv.NewRedisDB(t)
	cfg.AutoMigrate, cfg.OpenSignup = true, true
	api := startProcess(t, "serve", cfg) // uploads and WebSockets; no worker
	alice := createAccount(t, api, "alice")
	ws := newWSClient(t, api.URL, alice.Token)
	insp := asynq.NewInspectorFromRedisClient(api.Redis)

	// 1080p, not faststart: it needs an MP4, which takes seconds to make.
	clip := filepath.Join(t.TempDir(), "clip.mp4")
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i",
		"testsrc2=size=1920x1080:rate=30:duration=10", "-c:v", "libx264", "-preset", "ultrafast", clip).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(clip)

	first := startChild(t, "worker", cfg)
	resp := tusCreate(t, api, alice.Token, len(data), tusMetadata("filename", "clip.mp4", "filetype", "video/mp4"), data)
	mustStatus(t, "upload", resp, http.StatusCreated)
	id := uploadID(t, resp)
	if ev := waitMedia(t, ws, courier.EventMediaReady, id, 60*time.Second); !ev.Transcoding || ev.Variant("poster") == nil {
		t.Fatalf("first media.ready = %+v, want the poster with an MP4 coming", ev)
	}

	// Kill the worker once ffmpeg is well into the transcode.
	taskID := "transcode:" + id
	waitFor(t, 30*time.Second, "transcode task active", func() bool {
		ti, err := insp.GetTaskInfo(worker.QueueVideo, taskID)
		return err == nil && ti.State == asynq.TaskStateActive
	})
	time.Sleep(time.Second)
	first.Kill()
	b := blobInfo(t, api, alice.Token, id)
	if b.Variant("mp4") != nil {
		t.Fatal("the transcode finished before the kill; make the clip longer")
	}

	// Start the next worker once asynq considers the task abandoned.
	lease, err := api.Redis.ZScore(context.Background(), "asynq:{"+worker.QueueVideo+"}:lease", taskID).Result()
	if err != nil {
		t.Fatalf("lease of %s: %v", taskID, err)
	}
	time.Sleep(time.Until(time.Unix(int64(lease)+31, 0)))
	startChild(t, "worker", cfg)

	ev := waitMedia(t, ws, courier.EventMediaReady, id, 2*time.Minute)
	if ev.Variant("mp4") == nil {
		t.Fatalf("second media.ready = %+v, want the mp4", ev)
	}
	select {
	case f := <-ws.frames:
		if f.Type == courier.EventMediaReady {
			t.Fatalf("a third media.ready: %s", f.Data)
		}
	case <-time.After(3 * time.Second):
	}
	b = blobInfo(t, api, alice.Token, id)
	var names []string
	for _, v := range b.Variants {
		names = append(names, v.Name)
	}
	slices.Sort(names)
	keys, _ := api.S3.Keys(context.Background(), "variants/"+id+"/")
	if b.State != courier.BlobReady || !slices.Equal(names, []string{"mp4", "poster", "thumb"}) || len(keys) != 3 {
		t.Fatalf("blob %s with variants %v and keys %v, want ready with mp4, poster, thumb once", b.State, names, keys)
	}
}

func blobInfo(t *testing.T, p *testProcess, token, id string) courier.Blob {
	t.Helper()
	var b courier.Blob
	if r := do(t, "GET", p.URL+"/v1/media/"+id+"/info", token, nil, &b); r.StatusCode != 200 {
		t.Fatalf("info: %d", r.StatusCode)
	}
	return b
}

func waitFor(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
