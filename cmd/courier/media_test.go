package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/internal/testenv"
)

// TestEndToEnd_PhotoUploadToThumb: a phone uploads a JPEG with tus, the dev
// process's worker makes its variants, the phone's WebSocket receives
// media.ready, and the thumb downloads as a 320-pixel JPEG. The original
// as downloaded has lost its GPS. Operators see the queues.
func TestEndToEnd_PhotoUploadToThumb(t *testing.T) {
	cfg := testConfig(t)
	cfg.RedisURL = testenv.NewRedisDB(t) // a worker of its own: no other test takes the job
	cfg.AdminSecret = "admin-secret-for-tests"
	p := startProcess(t, "dev", cfg)
	alice := createAccount(t, p, "alice")
	ws := newWSClient(t, p.URL, alice.Token)

	data := gpsJPEG(t, 1600, 1200)
	resp := tusCreate(t, p, alice.Token, len(data), tusMetadata("filename", "IMG_0001.jpg", "filetype", "image/jpeg"), nil)
	mustStatus(t, "create", resp, http.StatusCreated)
	id := uploadID(t, resp)
	mustStatus(t, "patch", tusPatch(t, p.URL, alice.Token, id, 0, data), http.StatusNoContent)

	ev := waitMedia(t, ws, courier.EventMediaReady, id, 60*time.Second)
	if ev.Width != 1600 || ev.Height != 1200 || ev.Blurhash == "" || ev.Variant("thumb") == nil {
		t.Fatalf("media.ready = %+v", ev)
	}

	r, body := send(t, "GET", p.URL+"/v1/media/"+id+"/thumb", alice.Token, nil, nil)
	mustStatus(t, "thumb", r, 200)
	img, err := jpeg.Decode(bytes.NewReader(body))
	if err != nil || r.Header.Get("Content-Type") != "image/jpeg" || img.Bounds().Dx() != 320 || img.Bounds().Dy() != 240 {
		t.Fatalf("thumb: %v %s %v, want a 320x240 JPEG", err, r.Header.Get("Content-Type"), img)
	}
	r, body = send(t, "GET", p.URL+"/v1/media/"+id, alice.Token, nil, nil)
	mustStatus(t, "original", r, 200)
	if bytes.Contains(body, []byte("GPS-SECRET")) || !bytes.HasSuffix(body, data[len(data)-512:]) {
		t.Fatal("downloaded original carries GPS, or was re-encoded")
	}

	// Operators: the dashboard needs the admin secret; /metrics has queues and jobs.
	mustStatus(t, "admin without secret", mustGet(t, p.URL+"/admin/queues", ""), 401)
	mustStatus(t, "admin", mustGet(t, p.URL+"/admin/queues", cfg.AdminSecret), 200)
	_, metrics := send(t, "GET", p.URL+"/metrics", "", nil, nil)
	for _, want := range []string{`courier_queue_tasks{queue="media",state="pending"} 0`,
		`courier_job_duration_seconds_count{type="blob:process"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func mustGet(t *testing.T, url, adminSecret string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if adminSecret != "" {
		req.SetBasicAuth("admin", adminSecret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// mediaEvent is the data of media.ready / media.failed frames.
type mediaEvent struct {
	courier.Blob
	Transcoding bool `json:"transcoding"`
}

// waitMedia returns the next media event of type typ about blob id.
func waitMedia(t *testing.T, c *wsClient, typ, id string, timeout time.Duration) mediaEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				t.Fatalf("socket closed waiting for %s of %s", typ, id)
			}
			var ev mediaEvent
			if f.Type == typ && json.Unmarshal(f.Data, &ev) == nil && ev.ID == id {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s of %s within %v", typ, id, timeout)
		}
	}
}

// gpsJPEG is a w×h JPEG with an EXIF block holding a GPS IFD whose text
// "GPS-SECRET" must not survive into the served original.
func gpsJPEG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	tiff := le.AppendUint32([]byte("II*\x00"), 8)
	tiff = le.AppendUint16(tiff, 1)
	tiff = le.AppendUint16(tiff, 0x8825) // GPS IFD pointer
	tiff = le.AppendUint16(tiff, 4)
	tiff = le.AppendUint32(tiff, 1)
	tiff = le.AppendUint32(tiff, 26)
	tiff = le.AppendUint32(tiff, 0)
	tiff = append(le.AppendUint16(tiff, 0), "GPS-SECRET"...)
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := append([]byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}, payload...)
	jpg := buf.Bytes()
	return append(append(append([]byte{}, jpg[:2]...), seg...), jpg[2:]...)
}
