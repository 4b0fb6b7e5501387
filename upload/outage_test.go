package upload_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/upload"
	"github.com/courier-chat/courier/worker"
)

// Outages while an upload finishes: the client gets 503 with Retry-After
// and a Courier error body that names no address, bucket, key or SDK
// text, and the upload is finished after the outage by the client's next
// request (or, if it never comes, by the worker's reconciler).

// outageEnv is an env whose job queue, or whose S3 for tusd's store, is
// reached through a proxy the test can cut.
type outageEnv struct {
	*env
	queueProxy *proxy
	s3Proxy    *proxy
	node       *node
	token      string
}

func newOutageEnv(t *testing.T) *outageEnv {
	e := &outageEnv{env: newEnv(t)}
	opt := e.queueRDB.Options()
	e.queueProxy = newProxy(t, opt.Addr)
	cut := redis.NewClient(&redis.Options{Addr: e.queueProxy.Addr(), DB: opt.DB, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { cut.Close() })
	e.s3Proxy = newProxy(t, strings.TrimPrefix(e.s3cfg.Endpoint, "http://"))
	s3cfg := e.s3cfg
	s3cfg.Endpoint = "http://" + e.s3Proxy.Addr()
	e.node = e.newNode(t, testConfig(), func(d *upload.Deps) {
		d.Jobs = worker.BlobJobs{Queue: asynq.NewClientFromRedisClient(cut)}
		d.S3 = s3cfg
	})
	e.token = e.user(t, "alice")
	return e
}

// flows are the two handlers an upload can finish in: tusd (tus 1.0 and
// its draft versions) and draft.go.
var flows = []string{"tus", "8"}

// start creates an upload of data and sends all of it but the last n
// bytes; it returns the upload URL.
func (e *outageEnv) start(t *testing.T, flow string, data []byte, n int) string {
	t.Helper()
	if flow == "tus" {
		resp, body, _ := do(t, "POST", e.node.URL+"/v1/uploads/", e.token, hdr{"Tus-Resumable": "1.0.0",
			"Upload-Length": strconv.Itoa(len(data)), "Content-Type": "application/offset+octet-stream"}, data[:len(data)-n])
		if resp.StatusCode != 201 {
			t.Fatalf("tus creation: %d %s", resp.StatusCode, body)
		}
		return resp.Header.Get("Location")
	}
	resp, body, _ := do(t, "POST", e.node.URL+"/v1/uploads/", e.token, createHdr(flow, false, len(data)), data[:len(data)-n])
	if resp.StatusCode != 201 {
		t.Fatalf("v%s creation: %d %s", flow, resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// finish sends data[from:] as the completing request.
func (e *outageEnv) finish(t *testing.T, flow, loc string, data []byte, from int64) (*http.Response, []byte) {
	t.Helper()
	h := appendHdr(flow, from, true)
	if flow == "tus" {
		h = hdr{"Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream", "Upload-Offset": strconv.FormatInt(from, 10)}
	}
	resp, body, _ := do(t, "PATCH", loc, e.token, h, data[from:])
	return resp, body
}

// head asks for the offset in a flow's protocol.
func (e *outageEnv) head(t *testing.T, flow, loc string) (*http.Response, int64) {
	t.Helper()
	h := hdr{"Upload-Draft-Interop-Version": flow}
	if flow == "tus" {
		h = hdr{"Tus-Resumable": "1.0.0"}
	}
	resp, _, _ := do(t, "HEAD", loc, e.token, h, nil)
	n, _ := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	return resp, n
}

// mustUnavailable checks a 503 answer: Retry-After, a Courier body, and
// nothing that names the infrastructure.
func (e *outageEnv) mustUnavailable(t *testing.T, what string, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%s: %d (Retry-After %q) %s, want 503 with Retry-After", what, resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp.Request.Method == http.MethodHead {
		return
	}
	var eb struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code != courier.EUNAVAILABLE {
		t.Fatalf("%s: body %s, want a Courier error with code unavailable", what, body)
	}
	mustBeSafe(t, what, body, e.s3cfg.Bucket, e.queueProxy.Addr(), e.s3Proxy.Addr())
}

// mustBeSafe fails when an error body carries infrastructure details.
func mustBeSafe(t *testing.T, what string, body []byte, names ...string) {
	t.Helper()
	leaks := append([]string{"127.0.0.1", "localhost", "dial tcp", "operation error", "blobs/", "uploads/",
		"UploadId", "multipart", "redis", "s3store", "amz", "connection refused", "EOF"}, names...)
	for _, l := range leaks {
		if bytes.Contains(bytes.ToLower(body), []byte(strings.ToLower(l))) {
			t.Fatalf("%s: error body names %q: %s", what, l, body)
		}
	}
}

func TestFinish_QueueOutage(t *testing.T) {
	e := newOutageEnv(t)
	for _, flow := range flows {
		t.Run(flow, func(t *testing.T) {
			data := randomBytes(300 << 10)
			loc := e.start(t, flow, data, 10)
			id := idOf(t, loc)
			e.queueProxy.setDown(true)
			resp, body := e.finish(t, flow, loc, data, int64(len(data)-10))
			e.mustUnavailable(t, "completing request, queue down", resp, body)
			if st := e.state(t, id); st != courier.UploadFinishing {
				t.Fatalf("state after the failed finish: %s, want finishing", st)
			}
			resp, _ = e.head(t, flow, loc)
			e.mustUnavailable(t, "HEAD, queue down", resp, nil)

			e.queueProxy.setDown(false)
			resp, off := e.head(t, flow, loc)
			if resp.StatusCode/100 != 2 || off != int64(len(data)) {
				t.Fatalf("HEAD after the outage: %d offset %d", resp.StatusCode, off)
			}
			mustFinished(t, e.env, id, data)
		})
	}
}

func TestFinish_StorageOutage(t *testing.T) {
	e := newOutageEnv(t)
	for _, flow := range flows {
		t.Run(flow, func(t *testing.T) {
			data := randomBytes(300 << 10)
			loc := e.start(t, flow, data, 10)
			e.s3Proxy.setDown(true)
			resp, body := e.finish(t, flow, loc, data, int64(len(data)-10))
			e.mustUnavailable(t, "completing request, S3 down", resp, body)
			resp, _ = e.head(t, flow, loc)
			e.mustUnavailable(t, "HEAD, S3 down", resp, nil)

			// The client's retry: offset, then the rest.
			e.s3Proxy.setDown(false)
			resp, off := e.head(t, flow, loc)
			if resp.StatusCode/100 != 2 || off > int64(len(data)) {
				t.Fatalf("HEAD after the outage: %d offset %d", resp.StatusCode, off)
			}
			if off < int64(len(data)) {
				if resp, body := e.finish(t, flow, loc, data, off); resp.StatusCode/100 != 2 {
					t.Fatalf("retry after the outage: %d %s", resp.StatusCode, body)
				}
			}
			mustFinished(t, e.env, idOf(t, loc), data)
		})
	}
}

// An upload stranded by an outage that nobody comes back to is finished
// by the worker's reconciler; a job Redis lost is queued again.
func TestReconciler_FinishesStrandedAndRequeuesLostJobs(t *testing.T) {
	e := newOutageEnv(t)
	data := randomBytes(100 << 10)
	loc := e.start(t, "8", data, 10)
	id := idOf(t, loc)
	e.queueProxy.setDown(true)
	resp, body := e.finish(t, "8", loc, data, int64(len(data)-10))
	e.mustUnavailable(t, "completing request, queue down", resp, body)
	e.queueProxy.setDown(false)

	r := &worker.Reconciler{Uploads: e.node.h, Blobs: e.uploads(), Jobs: worker.BlobJobs{Queue: e.queue},
		Leases: e.leases(), Age: time.Nanosecond, Logger: quietLogger()}
	ctx := context.Background()
	finished, _, err := r.Round(ctx)
	if err != nil || finished != 1 {
		t.Fatalf("round: finished %d, err %v; want 1", finished, err)
	}
	mustFinished(t, e.env, id, data)

	// Redis restarts without persistence: the job is gone.
	insp := asynq.NewInspectorFromRedisClient(e.queueRDB)
	if err := insp.DeleteTask(worker.QueueMedia, "blob:"+id); err != nil {
		t.Fatal(err)
	}
	if _, requeued, err := r.Round(ctx); err != nil || requeued != 1 {
		t.Fatalf("round after the job was lost: requeued %d, err %v; want 1", requeued, err)
	}
	if _, err := insp.GetTaskInfo(worker.QueueMedia, "blob:"+id); err != nil {
		t.Fatalf("job after the reconciler: %v", err)
	}
	// A job that is there is not queued twice.
	if _, requeued, err := r.Round(ctx); err != nil || requeued != 0 {
		t.Fatalf("round with the job queued: requeued %d, err %v; want 0", requeued, err)
	}
}

// mustFinished checks an upload became a blob with every byte and, for
// plain media, a processing job.
func mustFinished(t *testing.T, e *env, id string, data []byte) {
	t.Helper()
	if st := e.state(t, id); st != courier.UploadFinished {
		t.Fatalf("upload state %s, want finished", st)
	}
	if b := e.blob(t, id); b.Size != int64(len(data)) || b.State != courier.BlobProcessing {
		t.Fatalf("blob %+v", b)
	}
	if !bytes.Equal(e.stored(t, id), data) {
		t.Fatal("stored bytes differ")
	}
	insp := asynq.NewInspectorFromRedisClient(e.queueRDB)
	if _, err := insp.GetTaskInfo(worker.QueueMedia, "blob:"+id); err != nil {
		t.Fatalf("processing job of %s: %v", id, err)
	}
}
