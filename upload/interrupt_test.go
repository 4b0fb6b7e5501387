package upload_test

import (
	"bytes"
	"testing"

	"github.com/courier-chat/courier/internal/testenv"
)

// drafts are the interop versions of the IETF resumable upload draft that
// iOS releases send (docs/uploads.md has which sends which).
var drafts = []string{"3", "4", "5", "6", "7", "8"}

// A request cut off keeps every byte that reached the server, in every
// version: the next HEAD reports exactly what was sent, and the offset
// never goes back. The cuts are placed around S3's 5 MiB part minimum:
// the first leaves a tail shorter than a part (kept in a .part object),
// the second takes that tail into a full part and leaves a new tail, the
// third appends a few bytes to a tail.
func TestInterrupted_KeepsEveryByte(t *testing.T) {
	for _, srv := range testenv.S3Servers() {
		t.Run(srv.Name, func(t *testing.T) { keepsEveryByte(t, newEnvOn(t, srv.Endpoint)) })
	}
}

func keepsEveryByte(t *testing.T, e *env) {
	n := e.newNode(t, testConfig())
	token := e.user(t, "alice")
	for _, v := range drafts {
		t.Run("v"+v, func(t *testing.T) {
			t.Parallel()
			data := randomBytes(7<<20 + 77)
			first := 4<<20 + 77
			interim, _ := cut(t, "POST", n.URL+"/v1/uploads/", token, createHdr(v, false, len(data)), data[:first], first-13)
			if len(interim) == 0 || interim[0].Get("Location") == "" {
				t.Fatalf("cut creation: no 104 with Location (%v)", interim)
			}
			loc := interim[0].Get("Location")
			want := int64(first - 13)
			if got, done := offset(t, loc, token, v); got != want || done {
				t.Fatalf("after the cut creation: offset %d complete %v, want %d incomplete", got, done, want)
			}
			for _, c := range []struct{ send, cut int }{{3 << 20, 2<<20 + 5}, {1 << 20, 100}} {
				cut(t, "PATCH", loc, token, appendHdr(v, want, false), data[want:want+int64(c.send)], c.cut)
				want += int64(c.cut)
				if got, _ := offset(t, loc, token, v); got != want {
					t.Fatalf("after a cut append: offset %d, want %d", got, want)
				}
			}
			resume(t, loc, token, v, data, want)
			if !bytes.Equal(e.stored(t, idOf(t, loc)), data) {
				t.Fatal("stored bytes differ from the sent ones")
			}
		})
	}
}

// An upload created without a length and completed by an append that
// takes it past S3's part minimum, while its stored bytes ended in a tail
// shorter than a part: the completing append answers success and the blob
// holds every byte (drafts -01 and -04, interop versions 3 and 6, have
// only this form of partial creation; the others allow it too).
func TestDeferredLength_CompletedPastAPart(t *testing.T) {
	for _, srv := range testenv.S3Servers() {
		t.Run(srv.Name, func(t *testing.T) { completedPastAPart(t, newEnvOn(t, srv.Endpoint)) })
	}
}

func completedPastAPart(t *testing.T, e *env) {
	n := e.newNode(t, testConfig())
	token := e.user(t, "alice")
	for _, v := range drafts {
		t.Run("v"+v, func(t *testing.T) {
			t.Parallel()
			data := randomBytes(6<<20 + 1)
			first := int64(3 << 20)
			resp, msg, interim := do(t, "POST", n.URL+"/v1/uploads/", token, createHdr(v, false, -1), data[:first])
			if resp.StatusCode != 201 || len(interim) == 0 {
				t.Fatalf("creation: %d %s (104s: %d)", resp.StatusCode, msg, len(interim))
			}
			loc := resp.Header.Get("Location")
			resume(t, loc, token, v, data, first)
			if got, done := offset(t, loc, token, v); got != int64(len(data)) || !done {
				t.Fatalf("HEAD after completion: offset %d complete %v", got, done)
			}
			id := idOf(t, loc)
			if !bytes.Equal(e.stored(t, id), data) {
				t.Fatal("stored bytes differ from the sent ones")
			}
			if b := e.blob(t, id); b.Size != int64(len(data)) {
				t.Fatalf("blob size %d, want %d", b.Size, len(data))
			}
		})
	}
}
