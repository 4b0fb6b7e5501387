package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client"
)

// wsClient is a device on the client SDK's connection layer that keeps
// every frame it gets, so a test can wait for the frames it expects in
// any order.
type wsClient struct {
	t      *testing.T
	conn   *client.Conn
	frames chan wsFrame
	mu     sync.Mutex
	n      int
	held   []wsFrame // read while waiting for another frame; kept in order
}

type wsFrame = client.Frame

type wsMessage struct {
	ConversationID string `json:"conversation_id"`
	Seq            int64  `json:"seq"`
	SenderID       string `json:"sender_id"`
	ClientID       string `json:"client_id"`
	Body           []byte `json:"body"`
}

// dialSocket connects a raw socket with the token in the Authorization
// header, or in the query when inQuery is set: for tests that misbehave
// as the SDK never does (a reader that stops reading, a missing token).
func dialSocket(baseURL, token string, inQuery bool) (*websocket.Conn, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(baseURL, "http") + "/v1/ws"
	h := http.Header{}
	if inQuery {
		u += "?token=" + token
	} else {
		h.Set("Authorization", "Bearer "+token)
	}
	return websocket.DefaultDialer.Dial(u, h)
}

func newWSClient(t *testing.T, baseURL, token string) *wsClient {
	t.Helper()
	c := &wsClient{t: t, frames: make(chan wsFrame, 10000)}
	conn, err := client.Dial(context.Background(), baseURL, token, client.ConnConfig{}, func(f client.Frame) { c.frames <- f })
	if err != nil {
		t.Fatalf("dial %s: %v", baseURL, err)
	}
	c.conn = conn
	t.Cleanup(func() { conn.Close() })
	go func() {
		<-conn.Done()
		close(c.frames)
	}()
	// A pong proves the socket is subscribed to its user's events.
	c.next(courier.FramePong, c.send(courier.FramePing, nil))
	return c
}

func (c *wsClient) send(typ string, data any) string {
	c.t.Helper()
	c.mu.Lock()
	c.n++
	id := fmt.Sprintf("q%d", c.n)
	c.mu.Unlock()
	if err := c.conn.Send(typ, id, data); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	return id
}

// next returns the first frame of type typ (and request id, if not "")
// not yet returned; frames it passes over are held for later calls.
func (c *wsClient) next(typ, id string) wsFrame {
	c.t.Helper()
	match := func(f wsFrame) bool { return f.Type == typ && (id == "" || f.ID == id) }
	for i, f := range c.held {
		if match(f) {
			c.held = append(c.held[:i], c.held[i+1:]...)
			return f
		}
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("socket closed waiting for %s", typ)
			}
			if match(f) {
				return f
			}
			c.held = append(c.held, f)
		case <-timeout:
			var types []string
			for _, f := range c.held {
				types = append(types, f.Type)
			}
			c.t.Fatalf("no %s frame in 10s (holding %v)", typ, types)
		}
	}
}

func decodeAs[T any](t *testing.T, f wsFrame) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(f.Data, &v); err != nil {
		t.Fatalf("decode %s: %v", f.Data, err)
	}
	return v
}

// createConversation creates a conversation over HTTP and returns its ID.
func createConversation(t *testing.T, p string, token string, body map[string]any) string {
	t.Helper()
	var c struct {
		ID string `json:"conversation_id"`
	}
	resp := do(t, "POST", p+"/v1/conversations", token, body, &c)
	if resp.StatusCode >= 300 || c.ID == "" {
		t.Fatalf("create conversation: %d", resp.StatusCode)
	}
	return c.ID
}
