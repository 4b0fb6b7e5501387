package messaging

import (
	"encoding/json"
	"slices"

	"github.com/courier-chat/courier"
)

// Sync paging: at most syncLimit messages per conversation per sync (the
// `synced` frame lists the conversations cut short), read syncPage at a
// time; a gap in live delivery is filled from the store up to maxGapFill.
const (
	syncLimit  = 1000
	syncPage   = 200
	maxGapFill = 1000
)

type syncRequest struct {
	id      string
	cursors map[string]int64
	limit   int
}

// runSync sends, for every conversation of the user, the messages after
// the device's cursor in seq order, then `synced`. It runs on the writer
// goroutine, so live messages queued meanwhile are handled after it, by
// deliver: those at or below what the sync sent are dropped, the next ones
// go out in order. Nothing committed during the sync is lost (the socket
// was subscribed before) or sent out of order.
func (c *conn) runSync(req *syncRequest) error {
	if err := c.flush(); err != nil { // what is queued goes before the reads
		return err
	}
	ctx, cancel := c.ctx()
	defer cancel()
	svc := c.gw.svc
	heads, err := svc.heads(ctx, c.dev.UserID)
	if err != nil {
		return c.writeError(req.id, err)
	}
	limit := req.limit
	if limit <= 0 || limit > syncLimit {
		limit = syncLimit
	}
	if c.sent == nil {
		c.sent = make(map[string]int64, len(heads))
	}
	done := SyncedData{Cursors: make(map[string]int64, len(heads)), More: []string{}}
	for _, h := range heads {
		last := max(req.cursors[h.ConversationID], 0)
		for n := 0; last < h.LastSeq && n < limit; {
			msgs, err := svc.Messages(ctx, c.dev.UserID, h.ConversationID, last, 0, min(syncPage, limit-n))
			if err != nil {
				return c.writeError(req.id, err)
			}
			if len(msgs) == 0 {
				// Nothing after last is visible to this member (they joined
				// later, or were removed): every seq up to the head is
				// committed, so the cursor moves to it rather than
				// reporting "more" on every sync.
				last = h.LastSeq
				break
			}
			for _, m := range msgs {
				if err := c.writeMessage(m); err != nil {
					return err
				}
				last = m.Seq
			}
			n += len(msgs)
		}
		if last < h.LastSeq {
			done.More = append(done.More, h.ConversationID)
		}
		c.sent[h.ConversationID] = last
		c.catchUp(h.ConversationID)
		done.Cursors[h.ConversationID] = last
	}
	b, _ := json.Marshal(ServerFrame{Type: courier.FrameSynced, ID: req.id, Data: done})
	return c.writeFrame(b)
}

// deliver writes a live message in per-conversation order. Before the
// first sync the socket knows nothing of the client's state and passes
// messages through. After it, a message at or below the conversation's
// watermark is a duplicate, the next one goes out, and a later one means
// messages committed earlier were published later (or lost with a crashed
// node): they are read from the store first. Seqs are assigned under a row
// lock, so everything below a committed seq is committed too.
func (c *conn) deliver(it *outItem) error {
	if c.sent == nil {
		return c.writeItem(it)
	}
	last := c.sent[it.conv] // 0 for a conversation joined after the sync
	switch {
	case it.seq <= last:
		return nil
	case it.seq > last+1 && it.seq-last-1 <= maxGapFill:
		if err := c.flush(); err != nil {
			return err
		}
		ctx, cancel := c.ctx()
		defer cancel()
		for last < it.seq-1 {
			msgs, err := c.gw.svc.Messages(ctx, c.dev.UserID, it.conv, last, it.seq, syncPage)
			if err != nil {
				// The store is unreachable (a database outage): deliver
				// what we have and tell the client to sync, which heals
				// the gap once the store is back. Without the resync the
				// client would hold the gap until it syncs for another
				// reason: a silent miss.
				c.logFailure(err)
				if err := c.writeFrame(eventFrame(courier.Event{Type: courier.EventResync})); err != nil {
					return err
				}
				break
			}
			if len(msgs) == 0 {
				break // nothing visible to this member in the gap
			}
			for _, m := range msgs {
				if !slices.Contains(c.ahead[it.conv], m.Seq) { // this socket sent it
					if err := c.writeMessage(m); err != nil {
						return err
					}
				}
				last = m.Seq
			}
		}
	}
	c.sent[it.conv] = it.seq
	if err := c.writeItem(it); err != nil {
		return err
	}
	c.catchUp(it.conv)
	return nil
}

// maxAhead bounds the own seqs a socket keeps per conversation waiting for
// earlier ones; past it, its own messages reach it again by gap-fill.
const maxAhead = 64

// answered writes the `sent` answer to this socket's own send. The socket
// holds that message now (it is not sent the message frame), so the
// conversation's watermark moves to it when everything before it is here
// too; otherwise it waits in ahead until the earlier ones arrive.
func (c *conn) answered(it *outItem) error {
	if err := c.writeFrame(it.frame); err != nil {
		return err
	}
	if c.sent == nil {
		return nil
	}
	switch last := c.sent[it.conv]; {
	case it.seq == last+1:
		c.sent[it.conv] = it.seq
		c.catchUp(it.conv)
	case it.seq > last+1 && len(c.ahead[it.conv]) < maxAhead:
		if c.ahead == nil {
			c.ahead = map[string][]int64{}
		}
		c.ahead[it.conv] = append(c.ahead[it.conv], it.seq)
	}
	return nil
}

// catchUp moves the conversation's watermark over own seqs waiting in
// ahead that now follow it, and forgets those below it.
func (c *conn) catchUp(conv string) {
	own := c.ahead[conv]
	if len(own) == 0 {
		return
	}
	last := c.sent[conv]
	for {
		own = slices.DeleteFunc(own, func(seq int64) bool { return seq <= last })
		if !slices.Contains(own, last+1) {
			break
		}
		last++
	}
	c.sent[conv] = last
	if len(own) > 0 {
		c.ahead[conv] = own
	} else if delete(c.ahead, conv); len(c.ahead) == 0 {
		c.ahead = nil
	}
}

func (c *conn) writeMessage(m *courier.Message) error {
	b, err := json.Marshal(ServerFrame{Type: courier.EventMessage, Data: m})
	if err != nil {
		return err
	}
	return c.writeFrame(b)
}

// writeError writes an error frame directly (writer goroutine only).
func (c *conn) writeError(id string, err error) error {
	c.logFailure(err)
	b, _ := json.Marshal(errorFrame(id, err))
	return c.writeFrame(b)
}
