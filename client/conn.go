package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/courier-chat/courier"
)

// Close codes the server uses (docs/protocol.md, "Close codes").
const (
	CloseGoingAway = websocket.CloseGoingAway     // 1001: node shutting down; reconnect at once
	CloseTooLarge  = websocket.CloseMessageTooBig // 1009: a frame over 1 MiB
	CloseTryLater  = websocket.CloseTryAgainLater // 1013: node could not subscribe; back off
	// 4000 (slow consumer), 4001 (revoked) and 4002 (replaced) are
	// courier.CloseSlowConsumer, CloseRevoked and CloseReplaced.
)

// Keepalive: the server pings every 54 s and drops a socket silent for
// 60 s. The client sends its own ping frame every PingInterval, so a
// half-open connection (a phone that changed networks) is noticed after
// readTimeout instead of at the next send.
const (
	defaultPingInterval = 25 * time.Second
	maxServerFrame      = 2 << 20 // server frames are under 100 KiB; anything far larger is a broken peer
)

// Frame is one WebSocket frame: {"type", "id", "data"}.
type Frame struct {
	Type string          `json:"type"`
	ID   string          `json:"id,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// Decode parses the frame's data into v.
func (f Frame) Decode(v any) error { return json.Unmarshal(f.Data, v) }

// CloseError is why a connection ended: the close code the server sent
// (0 when the network failed without one) and its text.
type CloseError struct {
	Code int
	Text string
	Err  error
}

func (e *CloseError) Error() string {
	if e.Code == 0 {
		return fmt.Sprintf("client: connection lost: %v", e.Err)
	}
	return fmt.Sprintf("client: connection closed %d %s", e.Code, e.Text)
}

func (e *CloseError) Unwrap() error { return e.Err }

// Conn is one WebSocket connection to /v1/ws: the connection layer the
// Client is built on, usable alone (tests and benchmarks drive the server
// through it). One reader goroutine reads every frame: answers to Request
// go to their caller, everything else to the handler, in arrival order.
// The handler runs on the reader goroutine and must not call Request.
type Conn struct {
	ws      *websocket.Conn
	wmu     sync.Mutex // one writer at a time
	mu      sync.Mutex
	waiters map[string]chan Frame
	nextID  atomic.Int64
	handler func(Frame)
	done    chan struct{}
	err     error // set before done closes
}

// ConnConfig tunes Dial.
type ConnConfig struct {
	// PingInterval is how often the client pings; 25 s by default. A
	// connection that receives nothing for twice as long is closed.
	PingInterval time.Duration
	// Dialer is the WebSocket dialer; websocket.DefaultDialer by default.
	Dialer *websocket.Dialer
}

// Dial connects to the server at baseURL (http or https) with the device
// token. handler receives every frame that is not an answer to Request.
// A refused token is an error with code unauthorized.
func Dial(ctx context.Context, baseURL, token string, cfg ConnConfig, handler func(Frame)) (*Conn, error) {
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = defaultPingInterval
	}
	d := cfg.Dialer
	if d == nil {
		d = websocket.DefaultDialer
	}
	u := "ws" + strings.TrimPrefix(strings.TrimSuffix(baseURL, "/"), "http") + "/v1/ws"
	ws, resp, err := d.DialContext(ctx, u, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return nil, &courier.Error{Code: courier.EUNAUTHORIZED, Message: "the device token was refused", Cause: err}
		}
		if resp != nil {
			err = fmt.Errorf("%w (%s)", err, resp.Status)
		}
		return nil, fmt.Errorf("client: dial %s: %w", u, err)
	}
	if handler == nil {
		handler = func(Frame) {}
	}
	c := &Conn{ws: ws, waiters: map[string]chan Frame{}, handler: handler, done: make(chan struct{})}
	ws.SetReadLimit(maxServerFrame)
	readTimeout := 2*cfg.PingInterval + 10*time.Second
	ws.SetReadDeadline(time.Now().Add(readTimeout))
	ws.SetPingHandler(func(data string) error {
		ws.SetReadDeadline(time.Now().Add(readTimeout))
		c.wmu.Lock()
		defer c.wmu.Unlock()
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(10*time.Second))
	})
	go c.read(readTimeout)
	go c.keepalive(cfg.PingInterval)
	return c, nil
}

// read dispatches frames until the connection ends.
func (c *Conn) read(readTimeout time.Duration) {
	var err error
	for {
		var b []byte
		if _, b, err = c.ws.ReadMessage(); err != nil {
			break
		}
		c.ws.SetReadDeadline(time.Now().Add(readTimeout))
		var f Frame
		if json.Unmarshal(b, &f) != nil {
			continue // not a frame: nothing to answer, nothing to show
		}
		if f.ID != "" {
			c.mu.Lock()
			w := c.waiters[f.ID]
			delete(c.waiters, f.ID)
			c.mu.Unlock()
			if w != nil {
				w <- f
				continue
			}
		}
		c.handler(f)
	}
	ce := &CloseError{Err: err}
	var wsErr *websocket.CloseError
	if errors.As(err, &wsErr) {
		ce.Code, ce.Text = wsErr.Code, wsErr.Text
	}
	c.mu.Lock()
	c.err = ce
	c.mu.Unlock()
	c.ws.Close()
	close(c.done)
}

// keepalive pings until the connection ends.
func (c *Conn) keepalive(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.Send(courier.FramePing, "", nil)
		}
	}
}

// Send writes one frame without waiting for its answer.
func (c *Conn) Send(typ, id string, data any) error {
	f := struct {
		Type string `json:"type"`
		ID   string `json:"id,omitempty"`
		Data any    `json:"data,omitempty"`
	}{typ, id, data}
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// Request sends a frame and waits for its answer. An error frame comes
// back as a *courier.Error with the server's code, message and
// retry_after_ms; a connection that ends first as its *CloseError.
func (c *Conn) Request(ctx context.Context, typ string, data any) (Frame, error) {
	id := fmt.Sprintf("r%d", c.nextID.Add(1))
	w := make(chan Frame, 1)
	c.mu.Lock()
	c.waiters[id] = w
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiters, id)
		c.mu.Unlock()
	}()
	if err := c.Send(typ, id, data); err != nil {
		return Frame{}, &CloseError{Err: err}
	}
	select {
	case f := <-w:
		if f.Type == courier.FrameError {
			return f, frameError(f)
		}
		return f, nil
	case <-c.done:
		return Frame{}, c.Err()
	case <-ctx.Done():
		return Frame{}, ctx.Err()
	}
}

// frameError turns an error frame into a *courier.Error.
func frameError(f Frame) error {
	var d struct {
		Code         string `json:"code"`
		Message      string `json:"message"`
		RetryAfterMS int64  `json:"retry_after_ms"`
		*courier.DeviceMismatch
	}
	f.Decode(&d)
	if d.Code == "" {
		d.Code = courier.EINTERNAL
	}
	return &courier.Error{Code: d.Code, Message: d.Message, RetryAfter: time.Duration(d.RetryAfterMS) * time.Millisecond,
		Devices: d.DeviceMismatch}
}

// Done is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended (a *CloseError), or nil while open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		return nil
	}
	return c.err
}

// Close closes the connection with 1000 and waits for the reader to end.
func (c *Conn) Close() error {
	c.wmu.Lock()
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	c.ws.Close()
	<-c.done
	return nil
}
