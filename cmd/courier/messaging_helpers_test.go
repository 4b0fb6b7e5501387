package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// wsClient is a real WebSocket client of GET /v1/ws that reads in the
// background and keeps every frame.
type wsClient struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan wsFrame
	mu     sync.Mutex
	n      int
	held   []wsFrame // read while waiting for another frame; kept in order
}

type wsFrame struct {
	Type string          `json:"type"`
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

type wsMessage struct {
	ConversationID string `json:"conversation_id"`
	Seq            int64  `json:"seq"`
	SenderID       string `json:"sender_id"`
	ClientID       string `json:"client_id"`
	Body           []byte `json:"body"`
}

// dialSocket connects with the token in the Authorization header, or in the
// query when inQuery is set.
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
	ws, _, err := dialSocket(baseURL, token, len(token)%2 == 0) // both ways get used
	if err != nil {
		t.Fatalf("dial %s: %v", baseURL, err)
	}
	c := &wsClient{t: t, ws: ws, frames: make(chan wsFrame, 10000)}
	t.Cleanup(func() { ws.Close() })
	go func() {
		defer close(c.frames)
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var f wsFrame
			json.Unmarshal(b, &f)
			c.frames <- f
		}
	}()
	// A pong proves the socket is subscribed to its user's events.
	c.next("pong", c.send("ping", nil))
	return c
}

func (c *wsClient) send(typ string, data any) string {
	c.t.Helper()
	c.mu.Lock()
	c.n++
	id := fmt.Sprintf("q%d", c.n)
	c.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"type": typ, "id": id, "data": data})
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
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
