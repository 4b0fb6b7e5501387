package messaging

import (
	"time"

	"github.com/gorilla/websocket"

	"github.com/courier-chat/courier"
)

// outItem is one thing for a socket's writer: a rendered frame, or a sync
// to run. Message frames carry their conversation and seq so the writer
// can keep each conversation in order on the socket.
type outItem struct {
	frame []byte
	// wire, on an event rendered once for many sockets, is frame as a
	// whole WebSocket frame (frame is its payload part).
	wire []byte
	conv string
	seq  int64
	// own marks the `sent` answer to this socket's send of message seq: a
	// reply that also counts as delivering the message here.
	own bool
	// origin, on a message event caused by a socket of this node, is that
	// socket's id: it is not sent the event.
	origin uint64
	sync   *syncRequest
	// revoked, on a device.revoked event, is the device whose sockets
	// close instead of receiving it.
	revoked string
	// device, on a mailbox event, is the one device whose sockets get it.
	device string
}

// The send side of a socket. Items wait in c.items, a slice grown on
// demand (an idle socket holds none, where a buffered channel would hold
// SendQueue slots forever). The writer goroutine is started when there is
// something to write (an item, a ping, a close) and exits when there is
// nothing left, so an idle socket costs no writer goroutine and no stack;
// c.writing says one runs, so there is never more than one and frames
// leave in the order they were queued.

// enqueue queues an item for the writer; a socket already SendQueue items
// behind is dropped as a slow consumer (the client resyncs).
func (c *conn) enqueue(it *outItem) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if len(c.items) >= c.gw.cfg.SendQueue {
		c.mu.Unlock()
		c.close(courier.CloseSlowConsumer, "slow consumer, resync")
		return
	}
	c.items = append(c.items, it)
	c.startWriter()
	c.mu.Unlock()
}

// ping asks the writer for a keepalive ping (the gateway's pinger calls it
// every pingPeriod).
func (c *conn) ping() {
	c.mu.Lock()
	if !c.closing {
		c.pingDue = true
		c.startWriter()
	}
	c.mu.Unlock()
}

// startWriter starts the writer goroutine unless one runs. c.mu is held.
func (c *conn) startWriter() {
	if !c.writing {
		c.writing = true
		c.gw.runners.Go(c.writeLoop)
	}
}

// writeLoop writes what is queued, batch by batch, until the queue is
// empty (it exits) or the socket is closing (it sends the close frame and
// hangs up).
func (c *conn) writeLoop() {
	for {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			c.hangUp()
			return
		}
		items, ping := c.items, c.pingDue
		c.items, c.pingDue = nil, false
		if len(items) == 0 && !ping {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if err := c.writeBatch(items, ping); err != nil {
			c.close(websocket.CloseAbnormalClosure, "")
		}
	}
}

func (c *conn) writeBatch(items []*outItem, ping bool) error {
	if ping {
		if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)); err != nil {
			return err
		}
	}
	for _, it := range items {
		if c.isClosed() {
			return nil
		}
		if err := c.write(it); err != nil {
			return err
		}
	}
	return c.flush()
}

// hangUp sends the close frame (unless the socket already failed), closes
// the socket, which ends the reader's read, and marks the writer finished.
// c.writing stays true: no writer starts again.
func (c *conn) hangUp() {
	c.mu.Lock()
	code, text := c.closeCode, c.closeText
	c.items = nil
	c.out, c.hdrs = nil, nil // frames left unwritten
	c.mu.Unlock()
	if code != websocket.CloseAbnormalClosure {
		c.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
	}
	c.ws.Close()
	c.mu.Lock()
	c.finished = true
	if c.finishedCh != nil {
		close(c.finishedCh)
	}
	c.mu.Unlock()
}

// waitFinished waits until the socket is closed and no writer runs. The
// caller has called close, which starts a writer if none ran.
func (c *conn) waitFinished() {
	c.mu.Lock()
	if c.finished {
		c.mu.Unlock()
		return
	}
	if c.finishedCh == nil {
		c.finishedCh = make(chan struct{}) // made only by a waiter
	}
	ch := c.finishedCh
	c.mu.Unlock()
	<-ch
}
