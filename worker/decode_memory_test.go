package worker

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/thumbnails"
)

// A photo whose decode alone would take more than the worker's decode
// memory is refused from its header, as bad media: never retried.
func TestMedia_DecodeMemoryPerJob(t *testing.T) {
	e := newMediaEnv(t, MediaConfig{DecodeMemory: 1 << 20})
	b := e.upload(encodeJPEG(t, quadrants(1000, 1000)), "application/octet-stream", courier.BlobPlain)
	if err := e.run(TypeProcessBlob, b.ID); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("err = %v, want SkipRetry", err)
	}
	got := e.blob(b.ID)
	if got.State != courier.BlobFailed || !strings.Contains(got.FailReason, "MiB to decode") || got.Kind != courier.KindPhoto {
		t.Fatalf("blob = %s %q kind %q, want a failed photo over the decode memory", got.State, got.FailReason, got.Kind)
	}
}

// The budget is shared by jobs: while one photo holds it, the next waits
// (and gives up with its context), and runs once it is given back; jobs
// run side by side on a budget that fits one photo at a time all finish.
func TestMedia_DecodeMemoryAcrossJobs(t *testing.T) {
	photo := encodeJPEG(t, quadrants(1000, 800))
	info, err := thumbnails.Probe(bytes.NewReader(photo), int64(len(photo)), thumbnails.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	cost := info.DecodeBytes(int64(len(photo)))
	e := newMediaEnv(t, MediaConfig{DecodeMemory: cost + cost/2})
	ctx := context.Background()

	release, err := e.handler.reserveDecode(ctx, info, int64(len(photo)))
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := e.handler.reserveDecode(short, info, int64(len(photo))); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second photo while the first holds the budget: %v, want it to wait", err)
	}
	release()
	soon, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	again, err := e.handler.reserveDecode(soon, info, int64(len(photo)))
	if err != nil {
		t.Fatalf("after the first gave its memory back: %v", err)
	}
	again()

	var blobs []*courier.Blob
	for range 4 {
		blobs = append(blobs, e.upload(photo, "image/jpeg", courier.BlobPlain))
	}
	var wg sync.WaitGroup
	for _, b := range blobs {
		wg.Go(func() {
			if err := e.run(TypeProcessBlob, b.ID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, b := range blobs {
		if got := e.blob(b.ID); got.State != courier.BlobReady {
			t.Errorf("blob %s is %s (%s)", b.ID, got.State, got.FailReason)
		}
	}
}
