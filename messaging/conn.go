package messaging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/courier-chat/courier"
)

// conn is one WebSocket. The reader goroutine (readPump) handles client
// frames one at a time; a writer goroutine, started only while there is
// something to send (queue.go), owns the socket's writes and its
// per-conversation delivery state, so live messages and sync pages are
// ordered in one place. An idle socket holds the reader alone.
type conn struct {
	gw   *Gateway
	ws   *websocket.Conn
	dev  *courier.Device
	id   uint64 // unique on this node: the origin of events it causes
	slot uint8  // which of the pinger's slots pings it

	mu         sync.Mutex
	items      []*outItem // waiting for the writer, at most cfg.SendQueue
	pingDue    bool
	writing    bool // a writer goroutine runs (or has hung up)
	closing    bool
	closeCode  int
	closeText  string
	finished   bool          // the writer has hung up
	finishedCh chan struct{} // made by waitFinished, closed at finish

	// Writer-owned: the highest seq sent per conversation on this socket,
	// known once a sync or a live message told it.
	sent map[string]int64
	// Writer-owned: seqs this socket sent and was answered `sent` for
	// while earlier seqs of the conversation had not reached it yet; they
	// count as delivered once those have (see answered).
	ahead map[string][]int64
	// Writer-owned: frames queued for the next writev, their size, and
	// the headers of those made here (wire.go).
	out    net.Buffers
	outLen int
	hdrs   []byte
	// Reader-owned until unregister: presence topics this socket watches.
	presenceTopics []string
}

func newConn(g *Gateway, ws *websocket.Conn, dev *courier.Device) *conn {
	// Keep only what the socket uses of the device: the row read at
	// authentication carries more (name, times) that would live as long
	// as the socket.
	dev = &courier.Device{ID: dev.ID, UserID: dev.UserID}
	return &conn{gw: g, ws: ws, dev: dev, id: g.hub.nextID.Add(1), slot: uint8(g.pingSlot.Load())}
}

// reply queues a server frame.
func (c *conn) reply(f ServerFrame) { c.replyItem(f, &outItem{}) }

// replyItem queues f as it's frame.
func (c *conn) replyItem(f ServerFrame, it *outItem) {
	b, err := json.Marshal(f)
	if err != nil {
		c.gw.logger.Error("ws: encode frame", "type", f.Type, "err", err)
		return
	}
	it.frame = b
	c.enqueue(it)
}

// close asks the writer to send a close frame and hang up; the first
// reason wins.
func (c *conn) close(code int, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	c.closing, c.closeCode, c.closeText = true, code, text
	if code == courier.CloseSlowConsumer {
		// Unblock a write stuck on a full TCP window; the socket is
		// dropped either way.
		c.ws.UnderlyingConn().SetWriteDeadline(time.Now())
	}
	c.startWriter()
}

var readBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// run is the socket's reader goroutine: it reads until the socket fails
// or closes, then hangs up and unregisters.
func (c *conn) run() {
	c.readPump()
	c.close(websocket.CloseNormalClosure, "")
	c.waitFinished()
	c.gw.hub.unregister(c)
	c.gw.wg.Done()
}

// readPump reads frames until the socket fails or closes.
//
// An idle socket's reader sits in NextReader for hours, so what is on its
// stack then is what the socket costs in stack: run, readPump and gorilla's
// read path down to the netpoller, about 1 KiB. Kept lean (small frames
// here, the work in readFrame, which is off the stack while idle) that
// fits a goroutine's first 2 KiB stack; one fat frame more (readPump had
// 256 bytes of locals when it held the frame handling) and every idle
// socket holds 4 KiB. The runtime may start goroutines with a larger stack
// when its average stack is deep (GODEBUG adaptivestackstart); with
// thousands of idle readers the average is theirs.
func (c *conn) readPump() {
	c.startReading()
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			c.readFailed(err)
			return
		}
		if !c.readFrame(r) {
			return
		}
	}
}

func (c *conn) startReading() {
	c.ws.SetReadLimit(MaxWireFrame)
	c.ws.SetReadDeadline(time.Now().Add(pongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(pongWait))
	})
}

// readFrame reads and handles one frame, and reports whether to go on. A
// frame over MaxFrame is read to its end (up to MaxWireFrame), discarded
// and answered with too_large; the socket stays up.
func (c *conn) readFrame(r io.Reader) bool {
	buf := readBufs.Get().(*bytes.Buffer)
	buf.Reset()
	_, err := buf.ReadFrom(io.LimitReader(r, MaxFrame+1))
	if err == nil && buf.Len() > MaxFrame {
		id := peekID(buf.Bytes())
		_, err = io.Copy(io.Discard, r)
		if err == nil {
			c.reply(errorFrame(id, courier.Errorf(courier.ETOOLARGE, "frame over %d bytes", MaxFrame)))
		}
	} else if err == nil {
		c.ws.SetReadDeadline(time.Now().Add(pongWait))
		c.handleApart(buf.Bytes())
	}
	if buf.Cap() <= 4<<10 {
		readBufs.Put(buf) // keep only small buffers around
	}
	if err != nil {
		c.readFailed(err)
	}
	return err == nil && !c.isClosed()
}

// readFailed ends reading. A frame over MaxWireFrame, refused by gorilla
// with 1009 at its header or in the middle of a fragmented message, is
// drained first.
func (c *conn) readFailed(err error) {
	if errors.Is(err, websocket.ErrReadLimit) {
		c.drainRefused()
	}
}

// Bounds of drainRefused: how much of a refused frame is read, how long
// in all, and how long the client may pause before it counts as done.
const (
	drainBytes = 8 * MaxWireFrame
	drainWait  = 2 * time.Second
	drainIdle  = 200 * time.Millisecond
)

// drainRefused reads and discards what the client still sends of a frame
// refused with 1009, until it pauses. Hanging up with those bytes unread
// makes the kernel reset the connection, and a client still writing the
// frame (a Node ws client) is destroyed by the reset before it reads the
// 1009 and reports 1006 instead.
func (c *conn) drainRefused() {
	nc := c.ws.NetConn()
	end := time.Now().Add(drainWait)
	buf := make([]byte, 32<<10)
	for total := 0; total < drainBytes; {
		deadline := time.Now().Add(drainIdle)
		if deadline.After(end) {
			deadline = end
		}
		nc.SetReadDeadline(deadline)
		n, err := nc.Read(buf)
		total += n
		if err != nil {
			return
		}
	}
}

// handleApart handles a frame on another goroutine (a runner) and waits
// for it. Handling reaches the store and JSON, deep call chains that would
// grow the reader's stack to tens of KiB and keep it so while the socket
// idles (a stack shrinks only at a GC, by half); this way the reader's
// stack stays at what a blocked read needs.
func (c *conn) handleApart(b []byte) {
	var wg sync.WaitGroup
	wg.Add(1)
	c.gw.runners.Go(func() {
		defer wg.Done()
		// A panic in one frame's handling must cost that frame, not the
		// node and every socket on it (net/http recovers only handlers).
		defer func() {
			if p := recover(); p != nil {
				c.gw.logger.Error("ws: panic handling a frame", "device_id", c.dev.ID, "panic", p)
				c.fail("", fmt.Errorf("panic: %v", p))
			}
		}()
		c.handle(b)
	})
	wg.Wait()
}

// write sends one item: a sync runs here, a message frame goes through
// the per-conversation ordering, anything else is written as it is.
func (c *conn) write(it *outItem) error {
	switch {
	case it.sync != nil:
		return c.runSync(it.sync)
	case it.own:
		return c.answered(it)
	case it.conv != "":
		return c.deliver(it)
	default:
		return c.writeItem(it)
	}
}

// writeItem queues an item's frame: the bytes made once for every socket
// when it has them.
func (c *conn) writeItem(it *outItem) error {
	if it.wire != nil {
		return c.writeWire(it.wire)
	}
	return c.writeFrame(it.frame)
}

// ctx is the context for store calls on behalf of this socket.
func (c *conn) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.gw.ctx, 15*time.Second)
}

// isClosed reports whether the socket is going away.
func (c *conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}
