//go:build !race

// These tests end PATCHes mid-body, which trips a data race inside tusd
// v2.9.1 itself (httpContext.body is written by the request goroutine and
// read by the goroutine that handles cancellation, unsynchronized; see
// tus/tusd#1192). It shows with tusd's own memorylocker in one process too,
// so they run without -race: go test ./upload/redislock/

package redislock

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
)

// TestTusdAcrossTwoNodes runs tusd's real handler on two "nodes" that share
// one filestore directory (as nodes share a bucket), each with its own
// Redis client and Locker. Several clients push the same upload at once,
// each alternating between the nodes. Every HEAD or PATCH asks the current
// holder, usually on the other node, to release; tusd saves what that PATCH
// received and the next request continues from the new offset. Without a
// lock that holds across nodes, two PATCHes at the same offset both append
// and the file comes out garbled.
func TestTusdAcrossTwoNodes(t *testing.T) {
	prefix := testPrefix(t)
	cfg := Config{Prefix: prefix, PollMin: 5 * time.Millisecond, PollMax: 100 * time.Millisecond}
	pushConcurrently(t, [2]handler.Locker{newNode(t, cfg).locker, newNode(t, cfg).locker})
}

// TestTusdHalfOpenPatchYieldsToOtherNode is the phone that switched from
// Wi-Fi to cellular: its PATCH on node A hangs on a dead connection the
// server cannot tell from a slow one, and the app resumes on node B. The
// network timeout (60s here) is far beyond the lock wait (10s), so B's HEAD
// succeeds only if its release request reaches A and ends the hung PATCH.
func TestTusdHalfOpenPatchYieldsToOtherNode(t *testing.T) {
	cfg := Config{Prefix: testPrefix(t)}
	servers, _ := tusServers(t, [2]handler.Locker{newNode(t, cfg).locker, newNode(t, cfg).locker}, time.Minute)
	const size = 1 << 20
	path := createUpload(t, servers[0].URL, size)

	// Send 100 KiB on node A, then go silent without closing.
	pr, pw := io.Pipe()
	defer pw.Close()
	hung := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPatch, servers[0].URL+path, pr)
		req.ContentLength = size
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Offset", "0")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			hung <- 0
			return
		}
		resp.Body.Close()
		hung <- resp.StatusCode
	}()
	if _, err := pw.Write(make([]byte, 100<<10)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let node A take the lock and write

	start := time.Now()
	offset, err := headOffset(servers[1].URL + path)
	if err != nil {
		t.Fatalf("HEAD on node B while node A's PATCH hangs: %v", err)
	}
	t.Logf("HEAD on node B answered after %v with offset %d", time.Since(start), offset)
	if offset != 100<<10 {
		t.Fatalf("offset %d, want the %d bytes node A received", offset, 100<<10)
	}
	if status := <-hung; status != http.StatusBadRequest && status != 0 {
		t.Fatalf("hung PATCH ended with status %d, want it interrupted", status)
	}
}

// pushConcurrently pushes uploads through both nodes at once, four
// clients per upload.
func pushConcurrently(t *testing.T, lockers [2]handler.Locker) {
	servers, dir := tusServers(t, lockers, 5*time.Second)
	// Several uploads at once, so a broken lock shows in nearly every run.
	const uploads, size = 6, 512 << 10
	var stats pushStats
	deadline := time.Now().Add(30 * time.Second)
	var wg sync.WaitGroup
	datas, paths := make([][]byte, uploads), make([]string, uploads)
	for u := range uploads {
		datas[u] = make([]byte, size)
		rand.Read(datas[u])
		paths[u] = createUpload(t, servers[u%2].URL, size)
		for c := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := push(servers, paths[u], datas[u], c, deadline, &stats); err != nil {
					t.Errorf("upload %d, client %d: %v", u, c, err)
				}
			}()
		}
	}
	wg.Wait()
	t.Logf("PATCHes %d: complete %d, interrupted by a release request %d, cut off mid-body %d, offset conflicts %d, other %d",
		stats.patches.Load(), stats.done.Load(), stats.interrupted.Load(), stats.cut.Load(), stats.conflicts.Load(), stats.other.Load())

	for u := range uploads {
		got, err := os.ReadFile(filepath.Join(dir, filepath.Base(paths[u])))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, datas[u]) {
			t.Errorf("upload %d: stored bytes differ from what was sent (%d stored, %d sent)", u, len(got), size)
		}
	}
	// The test only proves something if requests really fought over the
	// locks and release requests ended PATCHes early.
	if stats.interrupted.Load() == 0 {
		t.Fatal("no PATCH was interrupted: the clients never contended for a lock")
	}
}

type pushStats struct{ patches, done, interrupted, cut, conflicts, other atomic.Int64 }

// push sends data to the upload at path as a tus client does: continue from
// the offset a PATCH returned, ask with HEAD after a failure. Each request
// goes to the other node than the one before; client c starts on node c%2.
func push(servers [2]*httptest.Server, path string, data []byte, c int, deadline time.Time, stats *pushStats) error {
	const chunk = 64 << 10
	offset, node := -1, c
	for time.Now().Before(deadline) {
		if offset < 0 {
			var err error
			if offset, err = headOffset(servers[node%2].URL + path); err != nil {
				stats.other.Add(1)
				offset = -1
				continue
			}
			node++
		}
		if offset == len(data) {
			return nil
		}
		if offset > len(data) {
			return fmt.Errorf("offset %d beyond the upload's length %d: two PATCHes wrote at once", offset, len(data))
		}
		end := min(offset+chunk, len(data))
		stats.patches.Add(1)
		status, body, next := slowPatch(servers[node%2].URL+path, offset, data[offset:end])
		node++
		offset = -1
		switch {
		case status == http.StatusNoContent:
			stats.done.Add(1)
			offset = next
		case bytes.Contains(body, []byte("ERR_UPLOAD_INTERRUPTED")):
			stats.interrupted.Add(1)
		case status == http.StatusConflict:
			stats.conflicts.Add(1)
		case status == 0:
			// The server ended the request while the body was still
			// being sent: interrupted too, seen from the client side.
			stats.cut.Add(1)
		default:
			stats.other.Add(1)
		}
	}
	return fmt.Errorf("not finished by the deadline")
}

// slowPatch sends b in small pieces with pauses, like a phone on a slow
// link, so requests overlap. It returns the status (0 on a transport error),
// the response body and the new offset.
func slowPatch(url string, offset int, b []byte) (int, []byte, int) {
	size := len(b)
	pr, pw := io.Pipe()
	go func(b []byte) {
		for len(b) > 0 {
			n := min(len(b), 2<<10)
			if _, err := pw.Write(b[:n]); err != nil {
				return // the server stopped reading: the PATCH was ended
			}
			b = b[n:]
			time.Sleep(500 * time.Microsecond)
		}
		pw.Close()
	}(b)
	defer pr.Close() // unblocks the writer if the request ended early
	req, _ := http.NewRequest(http.MethodPatch, url, pr)
	req.ContentLength = int64(size)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", strconv.Itoa(offset))
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, -1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	next, err := strconv.Atoi(resp.Header.Get("Upload-Offset"))
	if err != nil {
		next = -1
	}
	return resp.StatusCode, body, next
}
