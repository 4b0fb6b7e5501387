package main

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
)

// Uploads across API nodes: two serve processes share the database, Redis
// and bucket, as nodes behind a load balancer do.

func TestUpload_ResumedAfterRandomCutsOnAlternatingNodes(t *testing.T) {
	cfg := testConfig(t)
	nodes := []*testProcess{startServe(t, cfg), startServe(t, cfg)}
	alice := createAccount(t, nodes[0], "alice")
	data := randomBytes(12 << 20) // more than two S3 parts, so resumes land mid-part
	resp := tusCreate(t, nodes[0], alice.Token, len(data), tusMetadata("sha256", sha256hex(data)), nil)
	id := uploadID(t, resp)

	// Each round: HEAD on one node, then a PATCH that breaks at a random
	// point of its chunk; the next round resumes on the other node.
	rng := rand.New(rand.NewPCG(1, 2))
	offset, rounds := int64(0), 0
	for ; rounds < 8; rounds++ {
		node := nodes[rounds%2]
		offset = tusOffset(t, node.URL, alice.Token, id)
		rest := data[offset:]
		cut := 1 + rng.IntN(min(len(rest)-1, 3<<20))
		cutPatch(t, node.URL, alice.Token, id, offset, rest, cut)
	}
	// Finish as a tus client does: HEAD, PATCH the rest, and HEAD again on
	// 409 (a cut request that reached the server late moved the offset) or
	// 400 interrupted (that late request asked this one to stop).
	for try := 0; ; try++ {
		node := nodes[(rounds+try)%2]
		offset = tusOffset(t, node.URL, alice.Token, id)
		if offset <= 0 || offset > int64(len(data)) {
			t.Fatalf("offset after %d cuts: %d", rounds, offset)
		}
		resp := tusPatch(t, node.URL, alice.Token, id, offset, data[offset:])
		if resp.StatusCode == http.StatusNoContent {
			break
		} else if (resp.StatusCode != http.StatusConflict && resp.StatusCode != http.StatusBadRequest) || try == 4 {
			t.Fatalf("final patch: %d", resp.StatusCode)
		}
	}
	_, body := download(t, nodes[0], alice.Token, id, nil)
	if sha256hex(body) != sha256hex(data) {
		t.Fatal("sha256 of the resumed upload differs")
	}
}

func TestUpload_ServeRestartedMidUpload(t *testing.T) {
	cfg := testConfig(t)
	first := startServe(t, cfg)
	alice := createAccount(t, first, "alice")
	data := randomBytes(6 << 20)
	id := uploadID(t, tusCreate(t, first, alice.Token, len(data), "", nil))
	cutPatch(t, first.URL, alice.Token, id, 0, data, 4<<20)
	first.Close() // the node goes away (deploy, crash)

	second := startServe(t, cfg)
	offset := tusOffset(t, second.URL, alice.Token, id)
	if offset <= 0 {
		t.Fatalf("offset after restart: %d", offset)
	}
	mustStatus(t, "resume", tusPatch(t, second.URL, alice.Token, id, offset, data[offset:]), 204)
	if _, body := download(t, second, alice.Token, id, nil); !bytes.Equal(body, data) {
		t.Fatal("content differs after restart")
	}
}

// Two PATCHes for the same upload from two nodes at once: the Redis lock
// lets one write at a time (the newer asks the older to stop), and the
// loser learns the true offset, so the file comes out intact.
func TestUpload_ConcurrentPatchesFromTwoNodes(t *testing.T) {
	cfg := testConfig(t)
	nodes := []*testProcess{startServe(t, cfg), startServe(t, cfg)}
	alice := createAccount(t, nodes[0], "alice")
	data := randomBytes(4 << 20)
	id := uploadID(t, tusCreate(t, nodes[0], alice.Token, len(data), "", nil))

	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The node that loses the lock may cut this request off
			// mid-body (connection reset): a real client then asks for
			// the offset and resumes, as the loop below does.
			req, _ := http.NewRequest("PATCH", n.URL+"/v1/uploads/"+id, &slowReader{data: data})
			req.ContentLength = int64(len(data))
			req.Header.Set("Authorization", "Bearer "+alice.Token)
			req.Header.Set("Tus-Resumable", "1.0.0")
			req.Header.Set("Content-Type", "application/offset+octet-stream")
			req.Header.Set("Upload-Offset", "0")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			}
		}()
	}
	wg.Wait()
	// Finish whatever is missing, as a client would after a 409 or 400.
	for range 5 {
		off := tusOffset(t, nodes[1].URL, alice.Token, id)
		if off == int64(len(data)) {
			break
		}
		tusPatch(t, nodes[1].URL, alice.Token, id, off, data[off:])
	}
	if _, body := download(t, nodes[0], alice.Token, id, nil); !bytes.Equal(body, data) {
		t.Fatalf("content differs after concurrent PATCHes (statuses %v)", statuses)
	}
	if statuses[0] == 204 && statuses[1] == 204 {
		t.Fatalf("both PATCHes at offset 0 succeeded: %v", statuses)
	}
}

// slowReader sends its data in small pieces so two requests overlap.
type slowReader struct {
	data []byte
	off  int
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.off >= len(s.data) {
		return 0, ioEOF
	}
	n := copy(p[:min(len(p), 256<<10)], s.data[s.off:])
	s.off += n
	sleepBriefly()
	return n, nil
}
