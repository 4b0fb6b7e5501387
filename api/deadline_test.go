package api_test

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/courier-chat/courier/api"
)

// A client that declares a body and never sends it is cut off after
// ReadTimeout, whether the handler reads the body or answers without it;
// one that stops reading a response is cut off after WriteTimeout, and
// the handler's write fails, so it lets go of what it streams from.
func TestServer_ReadAndWriteTimeouts(t *testing.T) {
	s := api.NewServer(api.Config{ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond},
		nil, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	s.Handle("POST /read", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
	}))
	wrote := make(chan error, 1)
	s.Handle("GET /download", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		for range 64 << 20 / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}))
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	for _, path := range []string{"/read", "/no-such-endpoint"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadAll(c) // whatever the answer, the node must hang up
		c.Close()
		if err != nil {
			t.Errorf("%s: a stalled body held the connection: %v", path, err)
		}
	}

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /download HTTP/1.1\r\nHost: x\r\n\r\n") // and never read
	select {
	case err := <-wrote:
		if err == nil {
			t.Fatal("64 MiB written to a client that reads nothing")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a download to a client that reads nothing still runs after 5 s")
	}
}
