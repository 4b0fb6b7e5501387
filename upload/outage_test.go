package upload_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/faultnet"
	"github.com/courier-chat/courier/postgres"
	"github.com/courier-chat/courier/upload"
	"github.com/courier-chat/courier/worker"
)

// Outages while an upload finishes: the client gets 503 with Retry-After
// and a Courier error body that names no address, bucket, key or SDK
// text, and after the outage the upload becomes a blob that a real worker
// makes ready, with at most one retry by the client (or, if it never
// comes, by the worker's reconciler).

// outageEnv is an env whose job queue, database, or S3 for tusd's store
// is reached through a proxy the test can cut.
type outageEnv struct {
	*env
	queueProxy *faultnet.Proxy
	dbProxy    *faultnet.Proxy
	s3Proxy    *faultnet.Proxy
	node       *node
	token      string
}

func newOutageEnv(t *testing.T) *outageEnv {
	e := &outageEnv{env: newEnv(t)}
	opt := e.queueRDB.Options()
	e.queueProxy = faultnet.Listen(t, opt.Addr)
	cut := redis.NewClient(&redis.Options{Addr: e.queueProxy.Addr(), DB: opt.DB, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { cut.Close() })
	dbURL, err := url.Parse(e.db.URL)
	if err != nil {
		t.Fatal(err)
	}
	e.dbProxy = faultnet.Listen(t, dbURL.Host)
	dbURL.Host = e.dbProxy.Addr()
	pool, err := postgres.Open(context.Background(), postgres.Config{URL: dbURL.String(), Schema: e.db.Schema, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e.s3Proxy = faultnet.Listen(t, strings.TrimPrefix(e.s3cfg.Endpoint, "http://"))
	s3cfg := e.s3cfg
	s3cfg.Endpoint = "http://" + e.s3Proxy.Addr()
	e.node = e.newNode(t, testConfig(), func(d *upload.Deps) {
		d.Jobs = worker.BlobJobs{Queue: asynq.NewClientFromRedisClient(cut)}
		d.Uploads = postgres.NewUploadStore(pool)
		d.Blobs = postgres.NewBlobStore(pool)
		d.S3 = s3cfg
	})
	e.token = e.user(t, "alice")
	return e
}

// flows are the two handlers an upload can finish in: tusd (tus 1.0 and
// its draft versions) and draft.go.
var flows = []string{"tus", "8"}

// flowCreateHdr is the header of a creation of a JPEG of length bytes in a
// flow.
func flowCreateHdr(flow string, length int) hdr {
	if flow == "tus" {
		return hdr{"Tus-Resumable": "1.0.0", "Upload-Length": strconv.Itoa(length),
			"Content-Type":    "application/offset+octet-stream",
			"Upload-Metadata": "filetype " + base64.StdEncoding.EncodeToString([]byte("image/jpeg"))}
	}
	h := createHdr(flow, false, length)
	h["Content-Type"] = "image/jpeg"
	return h
}

// start creates an upload of data and sends all of it but the last n
// bytes; it returns the upload URL.
func (e *outageEnv) start(t *testing.T, flow string, data []byte, n int) string {
	t.Helper()
	resp, body, _ := do(t, "POST", e.node.URL+"/v1/uploads/", e.token, flowCreateHdr(flow, len(data)), data[:len(data)-n])
	if resp.StatusCode != 201 {
		t.Fatalf("%s creation: %d %s", flow, resp.StatusCode, body)
	}
	return resp.Header.Get("Location")
}

// appendFlowHdr is the header of a completing append at from in a flow.
func appendFlowHdr(flow string, from int64) hdr {
	if flow == "tus" {
		return hdr{"Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream", "Upload-Offset": strconv.FormatInt(from, 10)}
	}
	return appendHdr(flow, from, true)
}

// finish sends data[from:] as the completing request.
func (e *outageEnv) finish(t *testing.T, flow, loc string, data []byte, from int64) (*http.Response, []byte) {
	t.Helper()
	resp, body, _ := do(t, "PATCH", loc, e.token, appendFlowHdr(flow, from), data[from:])
	return resp, body
}

// finishDuring sends data[from:] as the completing request, and cuts p
// while the request is under way, its last byte not yet sent: the outage
// hits wherever the server is then (loading, storing or finishing), and
// whichever it is, the client must get a 503.
func (e *outageEnv) finishDuring(t *testing.T, p *faultnet.Proxy, flow, loc string, data []byte, from int64) (*http.Response, []byte) {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		pw.Write(data[from : len(data)-1])
		time.Sleep(200 * time.Millisecond) // the server reads what came
		p.Cut()
		pw.Write(data[len(data)-1:])
		pw.Close()
	}()
	req, err := http.NewRequest("PATCH", loc, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(data)) - from
	req.Header.Set("Authorization", "Bearer "+e.token)
	for k, v := range appendFlowHdr(flow, from) {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("completing request: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
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

// retry is what a client does after a 503: it asks for the offset and
// sends what the server lacks, if anything.
func (e *outageEnv) retry(t *testing.T, flow, loc string, data []byte) {
	t.Helper()
	resp, off := e.head(t, flow, loc)
	if resp.StatusCode/100 != 2 || off > int64(len(data)) {
		t.Fatalf("HEAD after the outage: %d offset %d", resp.StatusCode, off)
	}
	if off < int64(len(data)) {
		if resp, body := e.finish(t, flow, loc, data, off); resp.StatusCode/100 != 2 {
			t.Fatalf("retry after the outage: %d %s", resp.StatusCode, body)
		}
	}
}

// reconciler is the worker's upload reconciler over this env, taking over
// anything older than a nanosecond.
func (e *outageEnv) reconciler() *worker.Reconciler {
	return &worker.Reconciler{Uploads: e.node.h, Blobs: e.uploads(), Jobs: worker.BlobJobs{Queue: e.queue},
		Leases: e.leases(), Age: time.Nanosecond, Logger: quietLogger()}
}

// An upload whose last byte arrives while the job queue, the database or
// S3 is down: the completing request answers 503, and so does a HEAD
// during the outage; afterwards one client retry (HEAD, and the bytes the
// server lacks) or, with no client, the reconciler's round makes a blob of
// it, which a real worker makes ready.
func TestOutage_EndsReady(t *testing.T) {
	e := newOutageEnv(t)
	startWorker(t, e.env)
	photo := jpegPhoto(t)
	for _, tc := range []struct {
		name   string
		proxy  *faultnet.Proxy
		client bool // the client retries; otherwise nobody does, but the reconciler
	}{
		{"queue", e.queueProxy, true},
		{"queue-reconciler", e.queueProxy, false},
		{"database", e.dbProxy, true},
		{"storage", e.s3Proxy, true},
	} {
		for _, flow := range flows {
			t.Run(tc.name+"/"+flow, func(t *testing.T) {
				n := 1000
				loc := e.start(t, flow, photo, n)
				id := idOf(t, loc)
				resp, body := e.finishDuring(t, tc.proxy, flow, loc, photo, int64(len(photo)-n))
				e.mustUnavailable(t, "completing request, "+tc.name+" down", resp, body)
				resp, _ = e.head(t, flow, loc)
				e.mustUnavailable(t, "HEAD, "+tc.name+" down", resp, nil)
				tc.proxy.Restore()

				if tc.client {
					e.retry(t, flow, loc, photo)
				} else if finished, _, err := e.reconciler().Round(context.Background()); err != nil || finished != 1 {
					t.Fatalf("reconciler round: finished %d, err %v; want 1", finished, err)
				}
				if st := e.state(t, id); st != courier.UploadFinished {
					t.Fatalf("upload state %s, want finished", st)
				}
				if !bytes.Equal(e.stored(t, id), photo) {
					t.Fatal("stored bytes differ")
				}
				mustReady(t, e.env, id)
			})
		}
	}
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
	mustBeSafe(t, what, body, e.s3cfg.Bucket, e.queueProxy.Addr(), e.dbProxy.Addr(), e.s3Proxy.Addr(), e.db.Schema)
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

// An upload stranded by an outage that nobody comes back to is finished
// by the worker's reconciler; a job Redis lost is queued again.
func TestReconciler_FinishesStrandedAndRequeuesLostJobs(t *testing.T) {
	e := newOutageEnv(t)
	data := randomBytes(100 << 10)
	loc := e.start(t, "8", data, 10)
	id := idOf(t, loc)
	e.queueProxy.Cut()
	resp, body := e.finish(t, "8", loc, data, int64(len(data)-10))
	e.mustUnavailable(t, "completing request, queue down", resp, body)
	e.queueProxy.Restore()

	r := e.reconciler()
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

// A creation while the database, the job queue or S3 is down answers 503
// (the queue is not needed to create, so that one succeeds).
func TestOutage_Creation(t *testing.T) {
	e := newOutageEnv(t)
	for _, tc := range []struct {
		name  string
		proxy *faultnet.Proxy
	}{{"database", e.dbProxy}, {"storage", e.s3Proxy}, {"queue", e.queueProxy}} {
		for _, flow := range flows {
			t.Run(tc.name+"/"+flow, func(t *testing.T) {
				tc.proxy.Cut()
				defer tc.proxy.Restore()
				resp, body, _ := do(t, "POST", e.node.URL+"/v1/uploads/", e.token, flowCreateHdr(flow, 100), []byte("x"))
				if tc.proxy == e.queueProxy {
					if resp.StatusCode != 201 {
						t.Fatalf("creation with the queue down: %d %s", resp.StatusCode, body)
					}
					return
				}
				e.mustUnavailable(t, "creation, "+tc.name+" down", resp, body)
			})
		}
	}
}
