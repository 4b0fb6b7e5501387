package upload_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"path"
	"strconv"
	"testing"
	"time"

	"github.com/courier-chat/courier"
)

// The client side of the tests: requests as a phone sends them, over real
// HTTP, and requests cut off after a given number of body bytes.

type hdr map[string]string

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// complete returns the header a version uses to say whether the upload (or
// the request's part of it) is complete: draft -01 (interop version 3) said
// it the other way round, with Upload-Incomplete.
func complete(version string, done bool) (string, string) {
	if version == "3" {
		return "Upload-Incomplete", map[bool]string{true: "?0", false: "?1"}[done]
	}
	return "Upload-Complete", map[bool]string{true: "?1", false: "?0"}[done]
}

// isComplete reads a response's completeness header for a version; ok is
// false when the header is missing.
func isComplete(version string, h http.Header) (done, ok bool) {
	name, yes := complete(version, true)
	switch h.Get(name) {
	case yes:
		return true, true
	case "?0", "?1":
		return false, true
	}
	return false, false
}

// do sends one request and returns the final response, its body, and the
// 104 interim responses that came before it.
func do(t *testing.T, method, u, token string, h hdr, body []byte) (*http.Response, []byte, []http.Header) {
	t.Helper()
	var r io.Reader = http.NoBody
	if body != nil {
		r = bytes.NewReader(body)
	}
	return send(t, method, u, token, h, r)
}

// chunked is do with a body of unknown length, sent with the chunked
// transfer coding, as from a client streaming what it does not know the
// size of.
func chunked(t *testing.T, method, u, token string, h hdr, body []byte) (*http.Response, []byte, []http.Header) {
	t.Helper()
	return send(t, method, u, token, h, io.MultiReader(bytes.NewReader(body)))
}

func send(t *testing.T, method, u, token string, h hdr, r io.Reader) (*http.Response, []byte, []http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	var interim []http.Header
	req = withInterim(req, &interim)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data, interim
}

// withInterim records the request's 104 responses in interim.
func withInterim(req *http.Request, interim *[]http.Header) *http.Request {
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		if code == 104 {
			*interim = append(*interim, http.Header(h).Clone())
		}
		return nil
	}}
	return req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
}

// cut sends a request announcing all of body, writes only its first n
// bytes, and closes the sending side: the server reads exactly n bytes and
// then the end of the connection, as when a phone loses its network. It
// returns the 104 responses and the final status (0 when none came).
func cut(t *testing.T, method, u, token string, h hdr, body []byte, n int) ([]http.Header, int) {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", pu.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nAuthorization: Bearer %s\r\n",
		method, pu.RequestURI(), pu.Host, len(body), token)
	for k, v := range h {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	b.Write(body[:n])
	if _, err := conn.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).CloseWrite()
	br := bufio.NewReader(conn)
	var interim []http.Header
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return interim, 0
		}
		if resp.StatusCode == 104 {
			interim = append(interim, resp.Header)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return interim, resp.StatusCode
	}
}

// offset asks for an upload's offset with HEAD in a draft version.
func offset(t *testing.T, u, token, version string) (int64, bool) {
	t.Helper()
	resp, body, _ := do(t, "HEAD", u, token, hdr{"Upload-Draft-Interop-Version": version}, nil)
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("HEAD v%s: %d %s", version, resp.StatusCode, body)
	}
	n, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		t.Fatalf("HEAD v%s: Upload-Offset %q", version, resp.Header.Get("Upload-Offset"))
	}
	done, ok := isComplete(version, resp.Header)
	if !ok {
		t.Fatalf("HEAD v%s: no completeness header in %v", version, resp.Header)
	}
	return n, done
}

// appendHdr is the header of an append in a draft version.
func appendHdr(version string, off int64, done bool) hdr {
	name, value := complete(version, done)
	h := hdr{"Upload-Draft-Interop-Version": version, name: value, "Upload-Offset": strconv.FormatInt(off, 10)}
	if version >= "6" {
		h["Content-Type"] = "application/partial-upload"
	}
	return h
}

// createHdr is the header of a creation in a draft version; length < 0
// leaves the length out.
func createHdr(version string, done bool, length int) hdr {
	name, value := complete(version, done)
	h := hdr{"Upload-Draft-Interop-Version": version, name: value}
	if length >= 0 && version >= "6" {
		h["Upload-Length"] = strconv.Itoa(length)
	}
	return h
}

// idOf returns the upload ID at the end of an upload URL.
func idOf(t *testing.T, loc string) string {
	t.Helper()
	id := path.Base(loc)
	if !courier.ValidID(id) {
		t.Fatalf("upload URL %q: last segment is not a blob ID", loc)
	}
	return id
}

// resume appends body[from:] in one request on u and expects it to
// complete the upload.
func resume(t *testing.T, u, token, version string, body []byte, from int64) {
	t.Helper()
	resp, msg, _ := do(t, "PATCH", u, token, appendHdr(version, from, true), body[from:])
	if resp.StatusCode/100 != 2 {
		t.Fatalf("v%s completing append at %d: %d %s", version, from, resp.StatusCode, msg)
	}
	if done, ok := isComplete(version, resp.Header); ok && !done {
		t.Fatalf("v%s completing append: response says incomplete", version)
	}
}
