package api_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/courier-chat/courier/api"
	"github.com/courier-chat/courier/internal/testenv"
	"github.com/courier-chat/courier/postgres"
)

// One address holds at most MaxPreauthConnsPerIP connections that have not
// authenticated; one more is closed at once. A connection that has
// authenticated no longer counts, and a closed one frees its place.
func TestServer_PreauthConnsPerIP(t *testing.T) {
	db := testenv.NewDB(t)
	accounts := postgres.NewAccountService(db.Pool)
	_, _, token, err := accounts.CreateAccount(context.Background(), "alice", "phone")
	if err != nil {
		t.Fatal(err)
	}
	s := api.NewServer(api.Config{Addr: "127.0.0.1:0", MaxPreauthConnsPerIP: 3}, accounts,
		slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	addr := s.Addr().String()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// refused reports whether the node hung up on c at once.
	refused := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		return err == io.EOF
	}

	signedIn := dial()
	req, _ := http.NewRequest("GET", "http://"+addr+"/v1/devices", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Write(signedIn)
	resp, err := http.ReadResponse(bufio.NewReader(signedIn), req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("authenticated request: %v %v", resp, err)
	}
	resp.Body.Close()

	var idle []net.Conn
	for range 3 {
		idle = append(idle, dial())
	}
	for i, c := range idle {
		if refused(c) {
			t.Fatalf("connection %d of 3 without a token refused", i+1)
		}
	}
	if !refused(dial()) {
		t.Fatal("a fourth connection without a token was accepted")
	}
	idle[0].Close()
	time.Sleep(100 * time.Millisecond) // the node sees the close
	if refused(dial()) {
		t.Fatal("a closed connection did not free its place")
	}
}
