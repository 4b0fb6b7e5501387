package redislock

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/tus/tusd/v2/pkg/filestore"
	"github.com/tus/tusd/v2/pkg/handler"
	expslog "golang.org/x/exp/slog"
)

// tusServers runs tusd's real handler on two "nodes" that share one
// filestore directory (as nodes share a bucket), each with its own locker.
// A lock wait gives up after 10s; a silent connection after networkTimeout.
func tusServers(t *testing.T, lockers [2]handler.Locker, networkTimeout time.Duration) ([2]*httptest.Server, string) {
	dir := t.TempDir()
	var servers [2]*httptest.Server
	for i := range servers {
		composer := handler.NewStoreComposer()
		filestore.New(dir).UseIn(composer)
		composer.UseLocker(lockers[i])
		h, err := handler.NewHandler(handler.Config{
			BasePath:           "/files/",
			StoreComposer:      composer,
			Logger:             expslog.New(expslog.NewTextHandler(io.Discard, nil)),
			AcquireLockTimeout: 10 * time.Second,
			NetworkTimeout:     networkTimeout,
		})
		if err != nil {
			t.Fatal(err)
		}
		servers[i] = httptest.NewServer(http.StripPrefix("/files/", h))
		t.Cleanup(servers[i].Close)
	}
	return servers, dir
}

// TestTusdResumeOnOtherNode moves an upload between nodes chunk by chunk,
// as a phone does when each retry lands on another node behind the load
// balancer, and reads it back whole from the node that did not create it.
func TestTusdResumeOnOtherNode(t *testing.T) {
	cfg := Config{Prefix: testPrefix(t)}
	servers, _ := tusServers(t, [2]handler.Locker{newNode(t, cfg).locker, newNode(t, cfg).locker}, 5*time.Second)
	data := make([]byte, 200<<10)
	rand.Read(data)
	path := createUpload(t, servers[0].URL, len(data))

	for i, offset := 0, 0; offset < len(data); i++ {
		end := min(offset+64<<10, len(data))
		req, _ := http.NewRequest(http.MethodPatch, servers[i%2].URL+path, bytes.NewReader(data[offset:end]))
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Upload-Offset", strconv.Itoa(offset))
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH %d on node %d: status %d", i, i%2, resp.StatusCode)
		}
		offset = end
	}

	resp, err := http.Get(servers[1].URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if !bytes.Equal(got, data) {
		t.Fatalf("GET returned %d bytes that differ from the %d sent", len(got), len(data))
	}
}

func createUpload(t *testing.T, base string, size int) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/files/", nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Length", strconv.Itoa(size))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: status %d", resp.StatusCode)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	return loc.Path
}

func headOffset(url string) (int, error) {
	req, _ := http.NewRequest(http.MethodHead, url, nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("HEAD: status %d", resp.StatusCode)
	}
	return strconv.Atoi(resp.Header.Get("Upload-Offset"))
}
