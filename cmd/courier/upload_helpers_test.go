package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/courier-chat/courier"
)

// Helpers that speak tus 1.0 over real HTTP, as a phone would.

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func tusMetadata(kv ...string) string {
	var pairs []string
	for i := 0; i < len(kv); i += 2 {
		pairs = append(pairs, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	return strings.Join(pairs, ",")
}

// send makes one request and returns the response with its body read.
func send(t *testing.T, method, url, token string, hdr map[string]string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := body.(*bytes.Reader); ok {
		req.ContentLength = int64(b.Len())
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

// tusCreate creates an upload of size bytes, sending body with it when not
// nil (creation-with-upload), and returns the response.
func tusCreate(t *testing.T, p *testProcess, token string, size int, meta string, body []byte) *http.Response {
	t.Helper()
	hdr := map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": strconv.Itoa(size), "Upload-Metadata": meta}
	var r io.Reader = http.NoBody
	if body != nil {
		hdr["Content-Type"] = "application/offset+octet-stream"
		r = bytes.NewReader(body)
	}
	resp, _ := send(t, "POST", p.URL+"/v1/uploads/", token, hdr, r)
	return resp
}

// uploadID returns the last path segment of the Location header.
func uploadID(t *testing.T, resp *http.Response) string {
	t.Helper()
	loc := resp.Header.Get("Location")
	id := path.Base(loc)
	if !courier.ValidID(id) {
		t.Fatalf("Location %q (status %d): last segment is not a blob ID", loc, resp.StatusCode)
	}
	return id
}

func tusPatch(t *testing.T, base, token, id string, offset int64, data []byte) *http.Response {
	t.Helper()
	resp, _ := send(t, "PATCH", base+"/v1/uploads/"+id, token, map[string]string{
		"Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream",
		"Upload-Offset": strconv.FormatInt(offset, 10)}, bytes.NewReader(data))
	return resp
}

// tusOffset asks for the offset with HEAD; -1 when the upload is not found.
func tusOffset(t *testing.T, base, token, id string) int64 {
	t.Helper()
	resp, _ := send(t, "HEAD", base+"/v1/uploads/"+id, token, map[string]string{"Tus-Resumable": "1.0.0"}, nil)
	if resp.StatusCode == http.StatusNotFound {
		return -1
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD: %d", resp.StatusCode)
	}
	n, _ := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	return n
}

// cutPatch sends a PATCH whose body breaks after cut bytes, as a phone
// losing its network does; the server keeps what it received.
func cutPatch(t *testing.T, base, token, id string, offset int64, data []byte, cut int) {
	t.Helper()
	req, _ := http.NewRequest("PATCH", base+"/v1/uploads/"+id, &brokenReader{data: data[:cut]})
	req.ContentLength = int64(len(data))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

// brokenReader yields data, then fails: the client aborts the request.
type brokenReader struct {
	data []byte
	off  int
}

func (b *brokenReader) Read(p []byte) (int, error) {
	if b.off >= len(b.data) {
		return 0, errors.New("network gone")
	}
	n := copy(p, b.data[b.off:])
	b.off += n
	return n, nil
}

// download fetches a blob (or a variant) and returns status and body.
func download(t *testing.T, p *testProcess, token, id string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	return send(t, "GET", p.URL+"/v1/media/"+id, token, hdr, nil)
}

// draftRequest sends an IETF draft request and records the 104 responses.
func draftRequest(t *testing.T, method, url, token string, hdr map[string]string, body []byte) (*http.Response, []byte, []http.Header) {
	t.Helper()
	var interim []http.Header
	var r io.Reader = http.NoBody
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, r)
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		if code == 104 {
			interim = append(interim, http.Header(h))
		}
		return nil
	}}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data, interim
}

func mustStatus(t *testing.T, what string, resp *http.Response, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s: status %d, want %d", what, resp.StatusCode, want)
	}
}

var ioEOF = io.EOF

func sleepBriefly() { time.Sleep(10 * time.Millisecond) }
