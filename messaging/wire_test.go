package messaging

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestTextFrame writes frames of every header size (7-bit, 16-bit and
// 64-bit lengths, at their edges) straight to the connection, as a
// socket's writer does, several in one writev, and reads them back with
// gorilla's client.
func TestTextFrame(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 100_000}
	payload := func(n int) []byte { return bytes.Repeat([]byte{'a' + byte(n%26)}, n) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := &conn{ws: ws}
		for i, n := range sizes {
			var err error
			if i%2 == 0 {
				err = c.writeFrame(payload(n))
			} else {
				err = c.writeWire(textFrame(payload(n)))
			}
			if err != nil {
				t.Error(err)
			}
		}
		if err := c.flush(); err != nil {
			t.Error(err)
		}
		ws.ReadMessage() // until the client hangs up
	}))
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	ws.SetReadLimit(1 << 20)
	for _, n := range sizes {
		typ, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("frame of %d bytes: %v", n, err)
		}
		if typ != websocket.TextMessage || !bytes.Equal(b, payload(n)) {
			t.Fatalf("frame of %d bytes read as type %d, %d bytes", n, typ, len(b))
		}
	}
}
