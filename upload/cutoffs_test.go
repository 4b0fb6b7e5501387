package upload_test

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"os"
	"testing"

	"github.com/courier-chat/courier/internal/testenv"
)

// cutoffs is how many requests each version's upload has cut off at a
// random point on the suite's first S3 server. On the others, which the
// test runs on for compatibility, fewer do, unless COURIER_SOAK=1 asks
// for the full count everywhere: the cuts exercise Courier's code the
// same way on every server, and the suite stays short.
func cutoffs(server int) int {
	if server == 0 || os.Getenv("COURIER_SOAK") == "1" {
		return 100
	}
	return 20
}

// Each version's upload is created and appended to by requests cut off at
// random points (anywhere in their content, none included), and resumed
// alternately on two API nodes that share the database, Redis and bucket:
// after every cut the other node's HEAD reports exactly the bytes sent so
// far, and the upload ends byte for byte what was sent. Bodies are small,
// so the wall time stays short; the part boundaries of S3 are exercised in
// TestInterrupted_KeepsEveryByte.
func TestCutoffs_ResumedOnAlternatingNodes(t *testing.T) {
	for si, srv := range testenv.S3Servers() {
		t.Run(srv.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnvOn(t, srv.Endpoint)
			nodes := []*node{e.newNode(t, testConfig()), e.newNode(t, testConfig())}
			token := e.user(t, "alice")
			for i, v := range drafts {
				t.Run("v"+v, func(t *testing.T) {
					t.Parallel()
					cutoffRounds(t, e, nodes, token, v, cutoffs(si), rand.New(rand.NewPCG(uint64(i), 9)))
				})
			}
		})
	}
}

func cutoffRounds(t *testing.T, e *env, nodes []*node, token, v string, cutoffs int, rng *rand.Rand) {
	data := randomBytes(256 << 10)
	chunk := len(data) / 40 // each request carries up to this much
	// The creation is cut too; the upload exists once its 104 came.
	n := rng.IntN(chunk)
	interim, _ := cut(t, "POST", nodes[0].URL+"/v1/uploads/", token, createHdr(v, false, len(data)), data[:chunk], n)
	if len(interim) == 0 {
		t.Fatal("cut creation: no 104")
	}
	loc := interim[0].Get("Location")
	id := idOf(t, loc)
	want := int64(n)
	for round := 1; round < cutoffs; round++ {
		node := nodes[round%2]
		other := nodes[(round+1)%2]
		u := node.URL + "/v1/uploads/" + id
		if got, _ := offset(t, u, token, v); got != want {
			t.Fatalf("round %d: HEAD on node %d says %d, want %d", round, round%2, got, want)
		}
		end := min(int(want)+chunk, len(data)-1) // the last byte is for the completing request
		n := rng.IntN(end - int(want) + 1)
		cut(t, "PATCH", u, token, appendHdr(v, want, false), data[want:end], n)
		want += int64(n)
		// The other node sees the same offset at once.
		if got, _ := offset(t, other.URL+"/v1/uploads/"+id, token, v); got != want {
			t.Fatalf("round %d: the other node says %d, want %d", round, got, want)
		}
	}
	// Finish on the first node: whatever the cuts left.
	resume(t, nodes[0].URL+"/v1/uploads/"+id, token, v, data, want)
	if !bytes.Equal(e.stored(t, id), data) {
		t.Fatal("the upload differs from what was sent")
	}
	if resp, _, _ := do(t, "HEAD", loc, token, hdr{"Upload-Draft-Interop-Version": v}, nil); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("HEAD after completion: %d", resp.StatusCode)
	}
}
