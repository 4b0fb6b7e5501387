package upload_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/courier-chat/courier"
)

// Malformed or repeated metadata is refused with 400 and a Courier error
// body on every creation path: tus 1.0 (with and without a body) and
// every draft version. With a repeated key the last one used to win, so
// "mode e2e,mode plain" made a plain blob of what the client encrypted.
func TestCreate_BadMetadataRefusedOnEveryPath(t *testing.T) {
	e := newEnv(t)
	n := e.newNode(t, testConfig())
	token := e.user(t, "alice")
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	bad := map[string]string{
		"duplicate key":  "mode " + b64("e2e") + ",mode " + b64("plain"),
		"not base64":     "filename !!!",
		"three parts":    "filename a b",
		"empty pair":     "filename " + b64("a") + ",,mode " + b64("plain"),
		"unknown mode":   "mode " + b64("secret"),
		"malformed type": "filetype " + b64("jpeg"),
	}
	paths := map[string]hdr{
		"tus":             {"Tus-Resumable": "1.0.0", "Upload-Length": "10"},
		"tus with a body": {"Tus-Resumable": "1.0.0", "Upload-Length": "10", "Content-Type": "application/offset+octet-stream"},
	}
	for _, v := range drafts {
		paths["v"+v] = createHdr(v, true, -1)
	}
	for pname, base := range paths {
		for bname, meta := range bad {
			t.Run(pname+"/"+bname, func(t *testing.T) {
				h := hdr{"Upload-Metadata": meta}
				for k, v := range base {
					h[k] = v
				}
				resp, body, _ := do(t, "POST", n.URL+"/v1/uploads/", token, h, []byte("0123456789"))
				mustError(t, resp, body, http.StatusBadRequest, courier.EINVALID)
			})
		}
	}
}

// tusd's own errors reach clients as Courier error bodies too.
func TestTusErrors_AreCourierBodies(t *testing.T) {
	e := newEnv(t)
	n := e.newNode(t, testConfig())
	token := e.user(t, "alice")
	resp, body, _ := do(t, "POST", n.URL+"/v1/uploads/", token, hdr{"Tus-Resumable": "1.0.0", "Upload-Length": "10"}, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("creation: %d %s", resp.StatusCode, body)
	}
	loc := resp.Header.Get("Location")
	for _, tc := range []struct {
		name   string
		method string
		url    string
		h      hdr
		status int
		code   string
	}{
		{"wrong offset", "PATCH", loc, hdr{"Tus-Resumable": "1.0.0", "Upload-Offset": "5", "Content-Type": "application/offset+octet-stream"}, 409, courier.ECONFLICT},
		{"wrong content type", "PATCH", loc, hdr{"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "text/plain"}, 400, courier.EINVALID},
		{"no version", "PATCH", loc, hdr{"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}, 412, courier.EINVALID},
		{"unknown upload", "PATCH", n.URL + "/v1/uploads/" + courier.NewID(), hdr{"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}, 404, courier.ENOTFOUND},
		{"past the length", "PATCH", loc, hdr{"Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}, 413, courier.ETOOLARGE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := []byte("01234")
			if tc.status == 413 {
				body = []byte("0123456789ab")
			}
			resp, msg, _ := do(t, tc.method, tc.url, token, tc.h, body)
			mustError(t, resp, msg, tc.status, tc.code)
		})
	}
}

// mustError checks a status and a Courier error body with a code, and that
// the body names nothing of the infrastructure.
func mustError(t *testing.T, resp *http.Response, body []byte, status int, code string) {
	t.Helper()
	var eb struct {
		Error struct{ Code, Message string }
	}
	if resp.StatusCode != status || json.Unmarshal(body, &eb) != nil || eb.Error.Code != code || eb.Error.Message == "" {
		t.Fatalf("got %d %s, want %d with a Courier error of code %s", resp.StatusCode, body, status, code)
	}
	mustBeSafe(t, "error body", body)
}
