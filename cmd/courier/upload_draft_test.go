package main

import (
	"bytes"
	"net/http"
	"testing"
)

// An iOS background task sends the whole file in one request with
// Upload-Complete: ?1; the answer is the finished blob.
func TestUpload_DraftSingleRequest(t *testing.T) {
	p := startServe(t, testConfig(t))
	alice := createAccount(t, p, "alice")
	data := randomBytes(100 << 10)
	for _, v := range []string{"6", "8"} {
		resp, body, interim := draftRequest(t, "POST", p.URL+"/v1/uploads/", alice.Token, map[string]string{
			"Upload-Draft-Interop-Version": v, "Upload-Complete": "?1", "Content-Type": "video/mp4",
			"Idempotency-Key": "bg-task-" + v}, data)
		if resp.StatusCode/100 != 2 || len(interim) == 0 {
			t.Fatalf("v%s single request: %d %s (104s: %d)", v, resp.StatusCode, body, len(interim))
		}
		id := uploadID(t, &http.Response{Header: http.Header{"Location": {interim[0].Get("Location")}}})
		if _, got := download(t, p, alice.Token, id, nil); !bytes.Equal(got, data) {
			t.Fatalf("v%s: content differs", v)
		}
		// The system retries the same task: it learns the upload is done.
		resp, _, _ = draftRequest(t, "POST", p.URL+"/v1/uploads/", alice.Token, map[string]string{
			"Upload-Draft-Interop-Version": v, "Upload-Complete": "?1", "Idempotency-Key": "bg-task-" + v}, data)
		if resp.StatusCode != 201 || uploadID(t, resp) != id || resp.Header.Get("Upload-Complete") != "?1" {
			t.Fatalf("v%s retry: %d %v", v, resp.StatusCode, resp.Header)
		}
	}
}
