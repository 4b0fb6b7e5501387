package main

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/courier-chat/courier"
)

// startServe starts an API node on cfg (serve mode, schema migrated).
func startServe(t *testing.T, cfg Config) *testProcess {
	t.Helper()
	cfg.AutoMigrate = true
	cfg.OpenSignup = true
	return startProcess(t, "serve", cfg)
}

func TestUpload_SingleRequestDownloadAndAccess(t *testing.T) {
	cfg := testConfig(t)
	p := startServe(t, cfg)
	alice, bob := createAccount(t, p, "alice"), createAccount(t, p, "bob")
	data := randomBytes(300 << 10)
	meta := tusMetadata("filename", "holiday/../IMG_0001 é.jpg", "filetype", "image/jpeg", "sha256", sha256hex(data))

	resp := tusCreate(t, p, alice.Token, len(data), meta, data)
	mustStatus(t, "creation-with-upload", resp, http.StatusCreated)
	id := uploadID(t, resp)
	if got := resp.Header.Get("Upload-Offset"); got != strconv.Itoa(len(data)) {
		t.Fatalf("Upload-Offset %s, want %d", got, len(data))
	}
	if _, err := time.Parse(http.TimeFormat, resp.Header.Get("Upload-Expires")); err != nil {
		t.Fatalf("Upload-Expires %q: %v", resp.Header.Get("Upload-Expires"), err)
	}

	// The blob row exists, and its processing task was enqueued once.
	var blob courier.Blob
	r := do(t, "GET", p.URL+"/v1/media/"+id+"/info", alice.Token, nil, &blob)
	if r.StatusCode != 200 || blob.ID != id || blob.Size != int64(len(data)) || blob.State != courier.BlobProcessing || blob.SHA256 != sha256hex(data) {
		t.Fatalf("info: %d %+v", r.StatusCode, blob)
	}
	ti, err := asynq.NewInspectorFromRedisClient(p.Redis).GetTaskInfo("media", "blob:"+id)
	if err != nil || ti.Type != "blob:process" {
		t.Fatalf("processing task: %v %+v", err, ti)
	}

	resp, body := download(t, p, alice.Token, id, nil)
	mustStatus(t, "download", resp, 200)
	if !bytes.Equal(body, data) {
		t.Fatal("downloaded bytes differ")
	}
	etag := resp.Header.Get("ETag")
	for h, want := range map[string]string{
		"Content-Type":        "image/jpeg",
		"Content-Length":      strconv.Itoa(len(data)),
		"Content-Disposition": `inline; filename="IMG_0001 _.jpg"; filename*=UTF-8''IMG_0001%20%C3%A9.jpg`,
		"Cache-Control":       "private, max-age=31536000, immutable",
		"Accept-Ranges":       "bytes",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}

	// Ranges and conditionals, table-driven.
	n := len(data)
	for _, tc := range []struct {
		name, rng, ifNoneMatch string
		status                 int
		want                   []byte
		contentRange           string
	}{
		{"first bytes", "bytes=0-9", "", 206, data[:10], "bytes 0-9/" + strconv.Itoa(n)},
		{"middle", "bytes=1000-1999", "", 206, data[1000:2000], "bytes 1000-1999/" + strconv.Itoa(n)},
		{"open end", "bytes=" + strconv.Itoa(n-5) + "-", "", 206, data[n-5:], ""},
		{"suffix", "bytes=-7", "", 206, data[n-7:], ""},
		{"end past size is clipped", "bytes=10-99999999", "", 206, data[10:], ""},
		{"past the end", "bytes=" + strconv.Itoa(n) + "-", "", 416, nil, "bytes */" + strconv.Itoa(n)},
		{"several ranges ignored", "bytes=0-1,5-6", "", 200, data, ""},
		{"not modified", "", etag, 304, nil, ""},
		{"not modified, weak list", "", `"x", W/` + etag, 304, nil, ""},
		{"other etag", "", `"nope"`, 200, data, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.rng != "" {
				hdr["Range"] = tc.rng
			}
			if tc.ifNoneMatch != "" {
				hdr["If-None-Match"] = tc.ifNoneMatch
			}
			resp, body := download(t, p, alice.Token, id, hdr)
			mustStatus(t, tc.name, resp, tc.status)
			if tc.want != nil && !bytes.Equal(body, tc.want) {
				t.Fatalf("body: %d bytes, want %d", len(body), len(tc.want))
			}
			if tc.contentRange != "" && resp.Header.Get("Content-Range") != tc.contentRange {
				t.Fatalf("Content-Range %q, want %q", resp.Header.Get("Content-Range"), tc.contentRange)
			}
		})
	}

	// Bob sees neither the upload nor the blob; both answer like unknown IDs.
	unknown := courier.NewID()
	for _, u := range []string{"/v1/media/" + id, "/v1/media/" + id + "/info", "/v1/media/" + unknown, "/v1/media/" + id + "/thumb"} {
		if r := do(t, "GET", p.URL+u, bob.Token, nil, nil); r.StatusCode != 404 {
			t.Errorf("bob GET %s: %d, want 404", u, r.StatusCode)
		}
	}
	for _, m := range []string{"HEAD", "PATCH", "DELETE"} {
		resp, _ := send(t, m, p.URL+"/v1/uploads/"+id, bob.Token, map[string]string{"Tus-Resumable": "1.0.0",
			"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"}, bytes.NewReader([]byte("x")))
		mustStatus(t, "bob "+m+" alice's upload", resp, 404)
	}
	// A finished upload cannot be cancelled by its owner either: it is a blob.
	resp, _ = send(t, "DELETE", p.URL+"/v1/uploads/"+id, alice.Token, map[string]string{"Tus-Resumable": "1.0.0"}, nil)
	mustStatus(t, "delete finished upload", resp, 409)

	// No token, no upload and no download.
	mustStatus(t, "anonymous create", tusCreate(t, p, "", 10, "", nil), 401)
	resp, _ = send(t, "HEAD", p.URL+"/v1/uploads/"+id, "", map[string]string{"Tus-Resumable": "1.0.0"}, nil)
	mustStatus(t, "anonymous HEAD", resp, 401)
	resp, _ = download(t, p, "", id, nil)
	mustStatus(t, "anonymous download", resp, 401)
}

func TestUpload_E2EReadyAtOnceAndWrongSHA256(t *testing.T) {
	p := startServe(t, testConfig(t))
	alice := createAccount(t, p, "alice")
	data := randomBytes(64 << 10)

	resp := tusCreate(t, p, alice.Token, len(data), tusMetadata("mode", "e2e", "filename", "x.bin"), data)
	mustStatus(t, "e2e upload", resp, 201)
	var blob courier.Blob
	do(t, "GET", p.URL+"/v1/media/"+uploadID(t, resp)+"/info", alice.Token, nil, &blob)
	if blob.State != courier.BlobReady || blob.Mode != courier.BlobE2E {
		t.Fatalf("e2e blob: %+v", blob)
	}

	resp = tusCreate(t, p, alice.Token, len(data), tusMetadata("sha256", sha256hex([]byte("other"))), data)
	if resp.StatusCode != 460 {
		t.Fatalf("wrong sha256: %d, want 460", resp.StatusCode)
	}
	// tusd sends no Location with an error; find the upload by its state.
	var id string
	p.DB.QueryRow(context.Background(), `SELECT id FROM uploads WHERE state = 'terminated'`).Scan(&id)
	if !courier.ValidID(id) {
		t.Fatal("upload with wrong sha256 not marked terminated")
	}
	if off := tusOffset(t, p.URL, alice.Token, id); off != -1 {
		t.Fatalf("upload with wrong sha256 still there (offset %d)", off)
	}
	if r := do(t, "GET", p.URL+"/v1/media/"+id+"/info", alice.Token, nil, nil); r.StatusCode != 404 {
		t.Fatalf("blob of wrong sha256: %d, want 404", r.StatusCode)
	}
	keys, _ := p.S3.Keys(context.Background(), "blobs/"+id)
	if len(keys) != 0 {
		t.Fatalf("objects left for a wrong sha256: %v", keys)
	}
}

func TestUpload_LimitsRefuseBeforeAnyByte(t *testing.T) {
	cfg := testConfig(t)
	cfg.UploadMaxE2E = 1 << 20
	cfg.UploadMaxInProgress = 2
	cfg.UploadMaxBytes = 10 << 20
	p := startServe(t, cfg)
	alice := createAccount(t, p, "alice")

	for _, tc := range []struct {
		name   string
		size   int
		meta   string
		status int
	}{
		{"e2e over its limit", 2 << 20, tusMetadata("mode", "e2e"), 413},
		{"over the global limit", 3 << 30, "", 413},
		{"over bytes in progress", 11 << 20, "", 413},
		{"bad metadata", 10, tusMetadata("mode", "secret"), 400},
	} {
		resp := tusCreate(t, p, alice.Token, tc.size, tc.meta, randomBytes(1024))
		mustStatus(t, tc.name, resp, tc.status)
	}
	keys, _ := p.S3.Keys(context.Background(), "")
	if len(keys) != 0 {
		t.Fatalf("refused uploads stored objects: %v", keys)
	}
	mustStatus(t, "first in progress", tusCreate(t, p, alice.Token, 100, "", nil), 201)
	mustStatus(t, "second in progress", tusCreate(t, p, alice.Token, 100, "", nil), 201)
	mustStatus(t, "third in progress", tusCreate(t, p, alice.Token, 100, "", nil), 429)
}

// An upload whose length is deferred may grow to its mode's limit, so it
// counts as that much against the bytes in progress: otherwise any number
// of them could each be filled to the limit.
func TestUpload_DeferredLengthCountsAtItsLimit(t *testing.T) {
	cfg := testConfig(t)
	cfg.UploadMaxE2E = 4 << 20
	cfg.UploadMaxBytes = 10 << 20
	p := startServe(t, cfg)
	alice := createAccount(t, p, "alice")
	deferred := func() int {
		resp, _ := send(t, "POST", p.URL+"/v1/uploads/", alice.Token, map[string]string{
			"Tus-Resumable": "1.0.0", "Upload-Defer-Length": "1", "Upload-Metadata": tusMetadata("mode", "e2e"),
		}, http.NoBody)
		return resp.StatusCode
	}
	for i, want := range []int{201, 201, 413} {
		if got := deferred(); got != want {
			t.Fatalf("deferred-length upload #%d: %d, want %d", i+1, got, want)
		}
	}
	// A small upload of known length still fits in what is left.
	mustStatus(t, "known length", tusCreate(t, p, alice.Token, 1<<20, "", nil), 201)
}

func TestUpload_IdempotentCreation(t *testing.T) {
	p := startServe(t, testConfig(t))
	alice, bob := createAccount(t, p, "alice"), createAccount(t, p, "bob")
	data := randomBytes(200 << 10)
	meta := tusMetadata("filename", "a.bin", "idempotency-key", "task-42")

	first := tusCreate(t, p, alice.Token, len(data), meta, nil)
	mustStatus(t, "create", first, 201)
	id := uploadID(t, first)
	mustStatus(t, "patch", tusPatch(t, p.URL, alice.Token, id, 0, data[:1000]), 204)

	// The system retries the background task: same upload, current offset.
	again := tusCreate(t, p, alice.Token, len(data), meta, data)
	mustStatus(t, "repeat", again, 201)
	if uploadID(t, again) != id || again.Header.Get("Upload-Offset") != "1000" {
		t.Fatalf("repeat: %s offset %s, want %s offset 1000", again.Header.Get("Location"), again.Header.Get("Upload-Offset"), id)
	}
	// The key is per user: Bob's upload with the same key is his own.
	if other := tusCreate(t, p, bob.Token, len(data), meta, nil); uploadID(t, other) == id {
		t.Fatal("bob got alice's upload")
	}
	mustStatus(t, "finish", tusPatch(t, p.URL, alice.Token, id, 1000, data[1000:]), 204)
	again = tusCreate(t, p, alice.Token, len(data), meta, data)
	if uploadID(t, again) != id || again.Header.Get("Upload-Offset") != strconv.Itoa(len(data)) {
		t.Fatalf("repeat after finish: offset %s", again.Header.Get("Upload-Offset"))
	}
	if _, body := download(t, p, alice.Token, id, nil); !bytes.Equal(body, data) {
		t.Fatal("content differs")
	}

	// A cancelled upload gives its key up: the next creation with it is a
	// new upload, not a 409 forever.
	meta = tusMetadata("filename", "b.bin", "idempotency-key", "task-43")
	cancelled := uploadID(t, tusCreate(t, p, alice.Token, len(data), meta, nil))
	resp, _ := send(t, "DELETE", p.URL+"/v1/uploads/"+cancelled, alice.Token, map[string]string{"Tus-Resumable": "1.0.0"}, nil)
	mustStatus(t, "cancel", resp, 204)
	fresh := tusCreate(t, p, alice.Token, len(data), meta, nil)
	mustStatus(t, "create after cancel", fresh, 201)
	if uploadID(t, fresh) == cancelled {
		t.Fatal("creation after cancel answered the cancelled upload")
	}
}

func TestUpload_ExpiryRemovesEverything(t *testing.T) {
	cfg := testConfig(t)
	// Long enough for the PATCH below to finish on a loaded machine (a
	// 3 MiB PATCH under -race at load 20 outlived 2 s and was cut off by
	// the sweeper).
	cfg.UploadExpiry = 6 * time.Second
	p := startServe(t, cfg)
	alice := createAccount(t, p, "alice")
	data := randomBytes(3 << 20) // below S3's smallest part: kept as a .part object

	resp := tusCreate(t, p, alice.Token, 20<<20, "", nil)
	id := uploadID(t, resp)
	mustStatus(t, "patch", tusPatch(t, p.URL, alice.Token, id, 0, data), 204)
	keys, _ := p.S3.Keys(context.Background(), "uploads/")
	if len(keys) < 2 {
		t.Fatalf("before expiry, bookkeeping objects = %v, want .info and .part", keys)
	}
	waitExpired(t, p, alice.Token, id)
	keys, _ = p.S3.Keys(context.Background(), "")
	if len(keys) != 0 {
		t.Fatalf("objects left after expiry: %v", keys)
	}
	for up := range p.S3.Minio().ListIncompleteUploads(context.Background(), cfg.S3.Bucket, "", true) {
		if up.Err == nil {
			t.Fatalf("multipart upload left after expiry: %+v", up)
		}
	}
}

// TestUpload_ExpirySlidesWithProgress: an upload that keeps receiving
// PATCHes outlives its first expiry (each PATCH moves Upload-Expires to
// Expiry from now); HEADs alone do not keep it, and once the PATCHes stop
// it expires.
func TestUpload_ExpirySlidesWithProgress(t *testing.T) {
	cfg := testConfig(t)
	cfg.UploadExpiry = 3 * time.Second
	p := startServe(t, cfg)
	alice := createAccount(t, p, "alice")
	data := randomBytes(64 << 10)

	created := tusCreate(t, p, alice.Token, len(data), "", nil)
	id := uploadID(t, created)
	first, err := http.ParseTime(created.Header.Get("Upload-Expires"))
	if err != nil {
		t.Fatalf("Upload-Expires %q: %v", created.Header.Get("Upload-Expires"), err)
	}
	// A PATCH every second, past the first expiry.
	var last time.Time
	chunk := len(data) / 8
	for off := 0; time.Now().Before(first.Add(2 * time.Second)); off += chunk {
		if off+chunk >= len(data) {
			t.Fatal("ran out of data before the first expiry passed")
		}
		resp := tusPatch(t, p.URL, alice.Token, id, int64(off), data[off:off+chunk])
		mustStatus(t, "patch", resp, 204)
		if last, err = http.ParseTime(resp.Header.Get("Upload-Expires")); err != nil {
			t.Fatalf("patch Upload-Expires %q: %v", resp.Header.Get("Upload-Expires"), err)
		}
		time.Sleep(time.Second)
	}
	if !last.After(first) {
		t.Fatalf("expiry did not move: %v, first %v", last, first)
	}
	if off := tusOffset(t, p.URL, alice.Token, id); off <= 0 {
		t.Fatalf("upload gone while in progress (offset %d)", off)
	}
	// Left alone (HEADs only), it expires.
	waitExpired(t, p, alice.Token, id)
}

// waitExpired waits until the sweeper has expired the upload (its row says
// so), within 15 s, and checks it answers 404 (-1) then.
func waitExpired(t *testing.T, p *testProcess, token, id string) {
	t.Helper()
	waitFor(t, 15*time.Second, "upload expired by the sweeper", func() bool {
		var state string
		p.DB.QueryRow(context.Background(), `SELECT state FROM uploads WHERE id = $1`, id).Scan(&state)
		return state == "expired"
	})
	if off := tusOffset(t, p.URL, token, id); off != -1 {
		t.Fatalf("expired upload answers offset %d, want 404", off)
	}
}
