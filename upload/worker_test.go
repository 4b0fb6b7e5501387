package upload_test

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/inmem"
	"github.com/courier-chat/courier/worker"
)

// A real worker behind the uploads, for tests that follow a blob from its
// last byte to ready.

// startWorker runs a media worker on the env's job queue, as a worker node
// does, until the test ends.
func startWorker(t *testing.T, e *env) {
	t.Helper()
	h := worker.NewMediaHandler(e.s3, e.blobs, inmem.NewEventBus(), e.queue,
		worker.MediaConfig{TempDir: t.TempDir(), Logger: quietLogger()})
	srv := asynq.NewServerFromRedisClient(e.queueRDB, asynq.Config{Concurrency: 2, Queues: worker.Queues,
		RetryDelayFunc: worker.RetryDelay, LogLevel: asynq.FatalLevel})
	if err := srv.Start(worker.NewServeMux(h, nil)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
}

// jpegPhoto returns a photo the worker can make variants of: noise, so
// that it is tens of kilobytes, like a small real one.
func jpegPhoto(t *testing.T) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	img := image.NewNRGBA(image.Rect(0, 0, 200, 150))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.Uint32())
	}
	img.Set(0, 0, color.NRGBA{A: 255})
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// readyWait bounds the wait for a worker to process a small photo: not a
// performance figure, only a stop for a test that would otherwise hang.
const readyWait = time.Minute

// mustReady waits for the worker to make blob id ready.
func mustReady(t *testing.T, e *env, id string) {
	t.Helper()
	deadline := time.Now().Add(readyWait)
	for {
		b := e.blob(t, id)
		switch {
		case b.State == courier.BlobReady:
			return
		case b.State == courier.BlobFailed:
			t.Fatalf("blob %s failed: %s", id, b.FailReason)
		case time.Now().After(deadline):
			t.Fatalf("blob %s still %s after %s", id, b.State, readyWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
