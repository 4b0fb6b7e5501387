package upload_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/testenv"
)

// One conformance test per interop version of the IETF "Resumable Uploads
// for HTTP" draft, from the texts in the draft's tagged revisions: 3 =
// -01, 4 = -02, 5 = -03, 6 = -04/-05, 7 = -06 to -08, 8 = -09 on. Each
// case names the statement it checks.

// spec is where the versions' texts differ, as the tests read them.
type spec struct {
	problems     bool   // -04 on: problem types for offset and completed upload
	lengthType   bool   // -06 on: problem type for inconsistent length
	partialType  bool   // -04 on: appends carry application/partial-upload
	uploadLength bool   // -05 on: Upload-Length
	limitAge     string // -05: expires; -06 on: max-age; before: no Upload-Limit
	progress     bool   // -03 on: 104 progress responses during appends
	created      bool   // up to -05: an incomplete append answers 201
	strictHead   bool   // up to -05: HEAD and DELETE with upload fields get 400
	acceptPatch  bool   // -10 on (interop 8): OPTIONS has Accept-Patch
	// -11 (interop 8): content appended to a complete upload is an
	// inconsistent length
	completedLength bool
	finalStatus     int // -06 on: the target resource's answer (200, the blob)
}

var specs = map[string]spec{
	"3": {created: true, strictHead: true, finalStatus: 201},
	"4": {created: true, strictHead: true, finalStatus: 201},
	"5": {progress: true, created: true, strictHead: true, finalStatus: 201},
	"6": {problems: true, partialType: true, uploadLength: true, limitAge: "expires", progress: true, created: true, strictHead: true, finalStatus: 201},
	"7": {problems: true, lengthType: true, partialType: true, uploadLength: true, limitAge: "max-age", progress: true, finalStatus: 200},
	"8": {problems: true, lengthType: true, partialType: true, uploadLength: true, limitAge: "max-age", progress: true, acceptPatch: true, completedLength: true, finalStatus: 200},
}

// Every version conforms on every S3 server of the suite.
func TestConformance(t *testing.T) {
	for _, srv := range testenv.S3Servers() {
		t.Run(srv.Name, func(t *testing.T) {
			e := newEnvOn(t, srv.Endpoint)
			n := e.newNode(t, testConfig())
			token := e.user(t, "alice")
			for _, v := range drafts {
				t.Run("v"+v, func(t *testing.T) {
					t.Parallel()
					conform(t, n, token, v, specs[v])
				})
			}
		})
	}
}

func conform(t *testing.T, n *node, token, v string, s spec) {
	base := n.URL + "/v1/uploads/"
	vh := hdr{"Upload-Draft-Interop-Version": v}
	data := randomBytes(64 << 10)

	// OPTIONS: limits from -05 (version 6), Accept-Patch from -10.
	resp, _, _ := do(t, "OPTIONS", base, token, vh, nil)
	if lim := resp.Header.Get("Upload-Limit"); (s.limitAge == "") != (lim == "") || !strings.Contains(lim, s.limitAge) || (lim != "" && !strings.Contains(lim, "max-size=")) {
		t.Errorf("OPTIONS Upload-Limit %q, want max-size and %q", lim, s.limitAge)
	}
	if ap := resp.Header.Get("Accept-Patch"); s.acceptPatch != strings.Contains(ap, "application/partial-upload") {
		t.Errorf("OPTIONS Accept-Patch %q", ap)
	}

	// Creation with Upload-Complete false (-01: Upload-Incomplete true):
	// a 104 with Location and the interop version, then 201 with
	// Location, Upload-Offset and the completeness header saying
	// incomplete.
	first := 20 << 10
	// Representation metadata comes from the creation's Content-Type and
	// Content-Disposition.
	ch := createHdr(v, false, len(data))
	ch["Content-Type"], ch["Content-Disposition"] = "image/jpeg", `inline; filename="photo.jpg"`
	resp, body, interim := do(t, "POST", base, token, ch, data[:first])
	if resp.StatusCode != 201 {
		t.Fatalf("creation: %d %s, want 201", resp.StatusCode, body)
	}
	if len(interim) == 0 || interim[0].Get("Location") == "" {
		t.Fatalf("creation: 104s %v, want the first with Location", interim)
	}
	for i, h := range interim {
		if h.Get("Upload-Draft-Interop-Version") != v {
			t.Errorf("104 #%d: interop version %q, want %s", i, h.Get("Upload-Draft-Interop-Version"), v)
		}
		if i > 0 && h.Get("Location") != "" {
			t.Errorf("104 #%d carries Location; only the first may", i)
		}
	}
	loc := resp.Header.Get("Location")
	if loc != interim[0].Get("Location") {
		t.Errorf("Location %q, 104 said %q", loc, interim[0].Get("Location"))
	}
	if done, ok := isComplete(v, resp.Header); !ok || done {
		t.Errorf("creation: completeness header missing or complete in %v", resp.Header)
	}
	if resp.Header.Get("Upload-Offset") != strconv.Itoa(first) {
		t.Errorf("creation: Upload-Offset %q, want %d", resp.Header.Get("Upload-Offset"), first)
	}

	// Offset retrieval: 204, Upload-Offset, completeness, no-store.
	resp, _, _ = do(t, "HEAD", loc, token, vh, nil)
	if resp.StatusCode != 204 || resp.Header.Get("Upload-Offset") != strconv.Itoa(first) ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
		t.Errorf("HEAD: %d %v", resp.StatusCode, resp.Header)
	}
	if done, ok := isComplete(v, resp.Header); !ok || done {
		t.Errorf("HEAD: completeness %v", resp.Header)
	}
	if s.uploadLength && resp.Header.Get("Upload-Length") != strconv.Itoa(len(data)) {
		t.Errorf("HEAD: Upload-Length %q, want %d", resp.Header.Get("Upload-Length"), len(data))
	}
	if s.strictHead {
		// "The server MUST reject requests with either of these fields"
		h := hdr{"Upload-Draft-Interop-Version": v, "Upload-Offset": "0"}
		if resp, _, _ := do(t, "HEAD", loc, token, h, nil); resp.StatusCode != 400 {
			t.Errorf("HEAD with Upload-Offset: %d, want 400", resp.StatusCode)
		}
	}

	// An append at the wrong offset: 409 with the right Upload-Offset.
	resp, body, _ = do(t, "PATCH", loc, token, appendHdr(v, 5, false), data[5:first])
	if resp.StatusCode != 409 || resp.Header.Get("Upload-Offset") != strconv.Itoa(first) {
		t.Errorf("wrong offset: %d Upload-Offset %q, want 409 with %d", resp.StatusCode, resp.Header.Get("Upload-Offset"), first)
	}
	if s.problems {
		var p map[string]any
		json.Unmarshal(body, &p)
		if p["type"] != "https://iana.org/assignments/http-problem-types#mismatching-upload-offset" ||
			p["expected-offset"] != float64(first) || p["provided-offset"] != float64(5) {
			t.Errorf("wrong offset: problem %s", body)
		}
	}

	// From -04, an append without application/partial-upload is refused.
	if s.partialType {
		h := appendHdr(v, int64(first), false)
		h["Content-Type"] = "application/octet-stream"
		if resp, _, _ := do(t, "PATCH", loc, token, h, data[first:first+10]); resp.StatusCode/100 == 2 {
			t.Errorf("append without application/partial-upload: %d", resp.StatusCode)
		}
	}

	// An append that leaves the upload incomplete: up to -05 201 with the
	// completeness header; later any 2xx, with Upload-Complete: ?0.
	second := 40 << 10
	resp, body, _ = do(t, "PATCH", loc, token, appendHdr(v, int64(first), false), data[first:second])
	if resp.StatusCode/100 != 2 || (s.created && resp.StatusCode != 201) {
		t.Errorf("incomplete append: %d %s", resp.StatusCode, body)
	}
	if done, ok := isComplete(v, resp.Header); !ok || done {
		t.Errorf("incomplete append: completeness %v", resp.Header)
	}
	if resp.Header.Get("Upload-Offset") != strconv.Itoa(second) && !(v >= "7") {
		t.Errorf("incomplete append: Upload-Offset %q, want %d", resp.Header.Get("Upload-Offset"), second)
	}

	// Inconsistent lengths are refused (from -05, when both are given).
	if s.uploadLength {
		h := appendHdr(v, int64(second), true)
		h["Upload-Length"] = strconv.Itoa(len(data) + 1)
		resp, body, _ := do(t, "PATCH", loc, token, h, data[second:])
		if resp.StatusCode != 400 {
			t.Errorf("inconsistent length: %d, want 400", resp.StatusCode)
		}
		if s.lengthType && !strings.Contains(string(body), "#inconsistent-upload-length") {
			t.Errorf("inconsistent length: problem %s", body)
		}
	}

	// The completing append: 2xx, complete; from -06 the target
	// resource's answer, the blob.
	resp, body, _ = do(t, "PATCH", loc, token, appendHdr(v, int64(second), true), data[second:])
	if resp.StatusCode != s.finalStatus {
		t.Errorf("completing append: %d %s, want %d", resp.StatusCode, body, s.finalStatus)
	}
	if done, ok := isComplete(v, resp.Header); ok && !done {
		t.Errorf("completing append says incomplete: %v", resp.Header)
	}
	var b courier.Blob
	if json.Unmarshal(body, &b) != nil || b.ID != idOf(t, loc) || b.Size != int64(len(data)) ||
		b.Filename != "photo.jpg" || b.ContentType != "image/jpeg" {
		t.Errorf("completing append: body %s, want the blob", body)
	}

	// HEAD on the finished upload says complete; appending is refused.
	if off, done := offset(t, loc, token, v); off != int64(len(data)) || !done {
		t.Errorf("HEAD after completion: offset %d complete %v", off, done)
	}
	resp, body, _ = do(t, "PATCH", loc, token, appendHdr(v, int64(len(data)), true), []byte("x"))
	problem := "#completed-upload"
	if s.completedLength {
		problem = "#inconsistent-upload-length"
	}
	if resp.StatusCode != 400 || (s.problems && !strings.Contains(string(body), problem)) {
		t.Errorf("append to a completed upload: %d %s, want 400 with %s", resp.StatusCode, body, problem)
	}

	// Content past the declared length, chunked so that no Content-Length
	// gives it away: -05 "MUST stop appending bytes once the offset
	// reaches the final size and reject the request with a 400"; -06 on
	// also mark the upload invalid and reject any further interaction.
	if s.uploadLength {
		resp, body, _ := do(t, "POST", base, token, createHdr(v, false, 1000), data[:10])
		if resp.StatusCode != 201 {
			t.Fatalf("creation: %d %s", resp.StatusCode, body)
		}
		over := resp.Header.Get("Location")
		resp, body, _ = chunked(t, "PATCH", over, token, appendHdr(v, 10, true), data[10:2000])
		if resp.StatusCode != 400 || (s.lengthType && !strings.Contains(string(body), "#inconsistent-upload-length")) {
			t.Errorf("content past the length: %d %s, want 400", resp.StatusCode, body)
		}
		if resp, _, _ := do(t, "HEAD", over, token, vh, nil); resp.StatusCode != 404 {
			t.Errorf("HEAD after content past the length: %d, want 404", resp.StatusCode)
		}
	}

	// Cancellation: 204, then 404.
	resp, _, _ = do(t, "POST", base, token, createHdr(v, false, -1), data[:10])
	loc = resp.Header.Get("Location")
	if s.strictHead {
		h := hdr{"Upload-Draft-Interop-Version": v, "Upload-Offset": "10"}
		if resp, _, _ := do(t, "DELETE", loc, token, h, nil); resp.StatusCode != 400 {
			t.Errorf("DELETE with Upload-Offset: %d, want 400", resp.StatusCode)
		}
	}
	if resp, _, _ := do(t, "DELETE", loc, token, vh, nil); resp.StatusCode != 204 {
		t.Errorf("DELETE: %d, want 204", resp.StatusCode)
	}
	if resp, _, _ := do(t, "HEAD", loc, token, vh, nil); resp.StatusCode != 404 {
		t.Errorf("HEAD after DELETE: %d, want 404", resp.StatusCode)
	}
}

// A version Courier does not speak gets no 104 ("MUST NOT send a 104
// ... when the interop version ... is mismatching"), and a 400.
func TestConformance_UnknownVersion(t *testing.T) {
	e := newEnv(t)
	n := e.newNode(t, testConfig())
	token := e.user(t, "alice")
	resp, _, interim := do(t, "POST", n.URL+"/v1/uploads/", token, hdr{"Upload-Draft-Interop-Version": "2", "Upload-Complete": "?1"}, []byte("x"))
	if len(interim) != 0 || resp.StatusCode != 400 {
		t.Fatalf("version 2: %d with %d 104s, want 400 and none", resp.StatusCode, len(interim))
	}
}

// A long append in version 5 on gets repeated 104 responses with the
// offset reached, and without Location; versions 3 and 4 get none.
func TestConformance_ProgressOnLongAppends(t *testing.T) {
	e := newEnv(t)
	cfg := testConfig()
	cfg.ProgressInterval = 50 * time.Millisecond
	n := e.newNode(t, cfg)
	token := e.user(t, "alice")
	for _, v := range drafts {
		t.Run("v"+v, func(t *testing.T) {
			t.Parallel()
			data := randomBytes(64 << 10)
			resp, _, _ := do(t, "POST", n.URL+"/v1/uploads/", token, createHdr(v, false, len(data)), nil)
			loc := resp.Header.Get("Location")
			// The body trickles in over about half a second.
			interim := slowAppend(t, loc, token, appendHdr(v, 0, true), data, 8, 60*time.Millisecond)
			var last int64
			for _, h := range interim {
				if h.Get("Location") != "" || h.Get("Upload-Draft-Interop-Version") != v {
					t.Fatalf("progress 104 %v: want no Location and version %s", h, v)
				}
				off, err := strconv.ParseInt(h.Get("Upload-Offset"), 10, 64)
				if err != nil || off < last || off > int64(len(data)) {
					t.Fatalf("progress 104 Upload-Offset %q after %d", h.Get("Upload-Offset"), last)
				}
				last = off
			}
			if specs[v].progress && len(interim) < 2 {
				t.Fatalf("%d progress 104s, want several", len(interim))
			} else if !specs[v].progress && len(interim) != 0 {
				t.Fatalf("%d progress 104s in a version without them", len(interim))
			}
		})
	}
}

// slowAppend sends data in parts pieces, pause apart, and returns the 104
// responses.
func slowAppend(t *testing.T, u, token string, h hdr, data []byte, parts int, pause time.Duration) []http.Header {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		step := len(data) / parts
		for i := 0; i < len(data); i += step {
			time.Sleep(pause)
			pw.Write(data[i:min(i+step, len(data))])
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("PATCH", u, pr)
	req.ContentLength = int64(len(data))
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	var interim []http.Header
	req = withInterim(req, &interim)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("slow append: %d", resp.StatusCode)
	}
	return interim
}
