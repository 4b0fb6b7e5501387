package messaging

import "time"

// A socket's writer writes its frames itself rather than through gorilla's
// WriteMessage, which costs per frame a write buffer from the pool, a copy,
// a socket deadline and a write(2). The writer queues each frame's bytes
// (outgoing frames are unmasked and the gateway negotiates no compression,
// so a frame is a 2–10 byte header and the payload as it is) and writes
// all that is queued in one writev(2), after one deadline. A message to a
// group is made into a frame once per node (hub.render) and those same
// bytes are queued on every member's socket.
//
// gorilla still reads, and writes control frames: pings and the close frame
// from the writer goroutine, pongs and the close echo from the reader. Each
// of those is one Write on the connection and the kernel socket takes one
// write at a time (net.Conn serialises Write and writev), so frames never
// interleave.

// maxOut is how many queued bytes make the writer write before its batch
// ends.
const maxOut = 64 << 10

// textFrame returns payload as one unmasked text frame, header and payload
// in one slice.
func textFrame(payload []byte) []byte {
	f := appendTextHeader(make([]byte, 0, len(payload)+10), len(payload))
	return append(f, payload...)
}

// appendTextHeader appends the header of a final text frame of n bytes
// (RFC 6455 section 5.2).
func appendTextHeader(b []byte, n int) []byte {
	const finText = 0x81
	switch {
	case n < 126:
		return append(b, finText, byte(n))
	case n <= 0xFFFF:
		return append(b, finText, 126, byte(n>>8), byte(n))
	default:
		return append(b, finText, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// writeFrame queues payload as a text frame (writer goroutine only).
func (c *conn) writeFrame(payload []byte) error {
	start := len(c.hdrs)
	c.hdrs = appendTextHeader(c.hdrs, len(payload))
	// c.hdrs may move when it grows; the slices already queued keep the
	// old array alive and unchanged.
	return c.queue(c.hdrs[start:len(c.hdrs):len(c.hdrs)], payload)
}

// writeWire queues a whole frame made by textFrame.
func (c *conn) writeWire(frame []byte) error { return c.queue(frame) }

func (c *conn) queue(bufs ...[]byte) error {
	for _, b := range bufs {
		c.out = append(c.out, b)
		c.outLen += len(b)
	}
	if c.outLen >= maxOut {
		return c.flush()
	}
	return nil
}

// flush writes every queued frame in one writev.
func (c *conn) flush() error {
	if len(c.out) == 0 {
		return nil
	}
	nc := c.ws.NetConn()
	nc.SetWriteDeadline(time.Now().Add(writeWait))
	bufs := c.out // WriteTo consumes its copy
	_, err := bufs.WriteTo(nc)
	clear(c.out) // the frames are garbage now, shared ones aside
	c.out, c.outLen, c.hdrs = c.out[:0], 0, c.hdrs[:0]
	if cap(c.out) > 256 {
		c.out = nil // a burst's array is not kept by an idle socket
	}
	if cap(c.hdrs) > 1024 {
		c.hdrs = nil
	}
	return err
}
