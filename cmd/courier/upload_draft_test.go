package main

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
)

// Every interop version of the IETF resumable upload draft that iOS
// releases send: 3–6 are served by tusd, 7 and 8 by upload/draft.go.
// Each runs the draft's flow over real HTTP: creation with a 104 carrying
// Location, offset retrieval, append, completion, and cancellation.
func TestUpload_DraftInteropVersions(t *testing.T) {
	p := startServe(t, testConfig(t))
	alice := createAccount(t, p, "alice")
	for _, v := range []string{"3", "4", "5", "6", "7", "8"} {
		t.Run("v"+v, func(t *testing.T) {
			// complete builds the completeness header of this version.
			complete := func(done bool) (string, string) {
				if v == "3" {
					return "Upload-Incomplete", map[bool]string{true: "?0", false: "?1"}[done]
				}
				return "Upload-Complete", map[bool]string{true: "?1", false: "?0"}[done]
			}
			data := randomBytes(150 << 10)
			first := 60 << 10

			// Creation with the first part; the upload stays incomplete.
			name, value := complete(false)
			hdr := map[string]string{"Upload-Draft-Interop-Version": v, name: value,
				"Content-Type": "image/jpeg", "Content-Disposition": `inline; filename="photo.jpg"`}
			if v != "3" {
				hdr["Upload-Length"] = strconv.Itoa(len(data))
			}
			resp, body, interim := draftRequest(t, "POST", p.URL+"/v1/uploads/", alice.Token, hdr, data[:first])
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("create: %d %s", resp.StatusCode, body)
			}
			if len(interim) == 0 || interim[0].Get("Location") == "" || interim[0].Get("Upload-Draft-Interop-Version") != v {
				t.Fatalf("104 responses %v: want one with Location and the interop version", interim)
			}
			loc := interim[0].Get("Location")
			if resp.Header.Get("Location") != loc {
				t.Fatalf("final Location %q differs from 104 Location %q", resp.Header.Get("Location"), loc)
			}
			id := uploadID(t, resp)

			// Offset retrieval.
			resp, _, _ = draftRequest(t, "HEAD", loc, alice.Token, map[string]string{"Upload-Draft-Interop-Version": v}, nil)
			if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.Itoa(first) {
				t.Fatalf("HEAD: %d offset %q, want 204 offset %d", resp.StatusCode, resp.Header.Get("Upload-Offset"), first)
			}
			if n, val := complete(false); resp.Header.Get(n) != val {
				t.Fatalf("HEAD %s = %q, want %q", n, resp.Header.Get(n), val)
			}

			// A wrong offset is refused with the right one.
			name, value = complete(true)
			appendHdr := map[string]string{"Upload-Draft-Interop-Version": v, name: value,
				"Content-Type": "application/partial-upload", "Upload-Offset": "1"}
			resp, _, _ = draftRequest(t, "PATCH", loc, alice.Token, appendHdr, data[1:])
			if resp.StatusCode != http.StatusConflict {
				t.Fatalf("PATCH at a wrong offset: %d, want 409", resp.StatusCode)
			}

			// Append the rest and complete.
			appendHdr["Upload-Offset"] = strconv.Itoa(first)
			resp, body, _ = draftRequest(t, "PATCH", loc, alice.Token, appendHdr, data[first:])
			if resp.StatusCode/100 != 2 {
				t.Fatalf("completing PATCH: %d %s", resp.StatusCode, body)
			}
			if v == "7" || v == "8" {
				if b := decodeBlob(t, body); b.ID != id || b.Filename != "photo.jpg" || b.ContentType != "image/jpeg" {
					t.Fatalf("final response blob %+v", b)
				}
			}
			if _, got := download(t, p, alice.Token, id, nil); !bytes.Equal(got, data) {
				t.Fatal("downloaded bytes differ")
			}

			// Cancellation of a second upload.
			name, value = complete(false)
			resp, _, _ = draftRequest(t, "POST", p.URL+"/v1/uploads/", alice.Token,
				map[string]string{"Upload-Draft-Interop-Version": v, name: value}, data[:10])
			loc = resp.Header.Get("Location")
			resp, _, _ = draftRequest(t, "DELETE", loc, alice.Token, map[string]string{"Upload-Draft-Interop-Version": v}, nil)
			if resp.StatusCode != http.StatusNoContent {
				t.Fatalf("DELETE: %d", resp.StatusCode)
			}
			resp, _, _ = draftRequest(t, "HEAD", loc, alice.Token, map[string]string{"Upload-Draft-Interop-Version": v}, nil)
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("HEAD after DELETE: %d, want 404", resp.StatusCode)
			}
		})
	}
}

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
