package messaging

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/courier-chat/courier"
)

// conn is one WebSocket. The reader goroutine (readPump) handles client
// frames one at a time; the writer goroutine (writePump) owns the socket's
// writes and its per-conversation delivery state, so live messages and
// sync pages are ordered in one place.
type conn struct {
	gw  *Gateway
	ws  *websocket.Conn
	dev *courier.Device
	q   *sendQueue

	closeOnce  sync.Once
	closing    chan struct{}
	closeCode  int
	closeText  string
	writerDone chan struct{}

	// Writer-owned: the highest seq sent per conversation on this socket,
	// known once a sync or a live message told it.
	sent map[string]int64
	// Reader-owned until unregister: presence topics this socket watches.
	presenceTopics []string
}

func newConn(g *Gateway, ws *websocket.Conn, dev *courier.Device) *conn {
	return &conn{
		gw: g, ws: ws, dev: dev,
		q:          newSendQueue(g.cfg.SendQueue),
		closing:    make(chan struct{}),
		writerDone: make(chan struct{}),
	}
}

// enqueue queues an item for the writer; a full queue drops the socket.
func (c *conn) enqueue(it *outItem) {
	if !c.q.push(it) {
		c.close(CloseSlowConsumer, "slow consumer, resync")
	}
}

// reply queues a server frame.
func (c *conn) reply(f ServerFrame) {
	b, err := json.Marshal(f)
	if err != nil {
		c.gw.logger.Error("ws: encode frame", "type", f.Type, "err", err)
		return
	}
	c.enqueue(&outItem{frame: b})
}

// close asks the writer to send a close frame and hang up; the first
// reason wins.
func (c *conn) close(code int, text string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText = code, text
		close(c.closing)
		if code == CloseSlowConsumer {
			// Unblock a write stuck on a full TCP window; the socket is
			// dropped either way.
			c.ws.UnderlyingConn().SetWriteDeadline(time.Now())
		}
	})
}

var readBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readPump reads frames until the socket fails or closes. A frame over
// MaxFrame is read to its end (up to MaxWireFrame), discarded and answered
// with too_large; the socket stays up.
func (c *conn) readPump() {
	c.ws.SetReadLimit(MaxWireFrame)
	c.ws.SetReadDeadline(time.Now().Add(pongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(pongWait))
	})
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			return
		}
		buf := readBufs.Get().(*bytes.Buffer)
		buf.Reset()
		_, err = buf.ReadFrom(io.LimitReader(r, MaxFrame+1))
		if err == nil && buf.Len() > MaxFrame {
			id := peekID(buf.Bytes())
			_, err = io.Copy(io.Discard, r)
			if err == nil {
				c.reply(errorFrame(id, courier.Errorf(courier.ETOOLARGE, "frame over %d bytes", MaxFrame)))
			}
		} else if err == nil {
			c.ws.SetReadDeadline(time.Now().Add(pongWait))
			c.handle(buf.Bytes())
		}
		if buf.Cap() <= 4<<10 {
			readBufs.Put(buf) // keep only small buffers around
		}
		if err != nil {
			return // includes over MaxWireFrame: gorilla has sent 1009
		}
		select {
		case <-c.closing:
			return
		default:
		}
	}
}

// writePump writes queued items and pings until the socket closes.
func (c *conn) writePump() {
	ticker := time.NewTicker(pingPeriod)
	defer func() {
		ticker.Stop()
		c.ws.Close()
		close(c.writerDone)
	}()
	for {
		select {
		case <-c.q.notify:
			for _, it := range c.q.drain() {
				if c.isClosed() {
					break
				}
				if err := c.write(it); err != nil {
					c.close(websocket.CloseAbnormalClosure, "")
					return
				}
			}
		case <-ticker.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
				c.close(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-c.closing:
			if c.closeCode != websocket.CloseAbnormalClosure {
				c.ws.WriteControl(websocket.CloseMessage,
					websocket.FormatCloseMessage(c.closeCode, c.closeText), time.Now().Add(time.Second))
			}
			return
		}
	}
}

// write sends one item: a sync runs here, a message frame goes through
// the per-conversation ordering, anything else is written as it is.
func (c *conn) write(it *outItem) error {
	switch {
	case it.sync != nil:
		return c.runSync(it.sync)
	case it.conv != "":
		return c.deliver(it)
	default:
		return c.writeFrame(it.frame)
	}
}

func (c *conn) writeFrame(b []byte) error {
	c.ws.SetWriteDeadline(time.Now().Add(writeWait))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// ctx is the context for store calls on behalf of this socket.
func (c *conn) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.gw.ctx, 15*time.Second)
}

// isClosed reports whether the socket is going away.
func (c *conn) isClosed() bool {
	select {
	case <-c.closing:
		return true
	default:
		return false
	}
}
