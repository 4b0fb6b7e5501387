package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/courier-chat/courier"
)

// Send queues a message: it is written to the store as pending, with a
// fresh client ID, before Send returns — from then on it survives the
// process being killed — and the sender sends it when online, in order
// after the conversation's earlier messages. Attachments are uploaded
// first; the message waits in the outbox until every upload finished.
func (c *Client) Send(ctx context.Context, conversationID string, body []byte, files ...Attachment) (*Message, error) {
	if len(body) > courier.MaxMessageBody {
		return nil, courier.Errorf(courier.ETOOLARGE, "body is over %d bytes", courier.MaxMessageBody)
	} else if len(files) > courier.MaxAttachments {
		return nil, courier.Errorf(courier.ETOOLARGE, "at most %d attachments", courier.MaxAttachments)
	} else if len(body) == 0 && len(files) == 0 {
		return nil, courier.Errorf(courier.EINVALID, "a message needs a body or attachments")
	}
	sizes := make([]int64, len(files))
	for i := range files {
		f := &files[i]
		st, err := os.Stat(f.Path)
		if err != nil {
			return nil, courier.Errorf(courier.EINVALID, "attachment: %v", err)
		}
		sizes[i] = st.Size()
		if f.Filename == "" {
			f.Filename = filepath.Base(f.Path)
		}
		if f.ContentType == "" {
			f.ContentType = "application/octet-stream"
		}
	}
	// In an encrypted conversation the files are encrypted first (their
	// thumbnails made), and their keys stored with the message.
	if enc, err := c.encrypted(ctx, conversationID); err != nil {
		return nil, err
	} else if enc && len(files) > 0 {
		if files, err = c.encryptFiles(files); err != nil {
			return nil, err
		}
		sizes = make([]int64, len(files))
		for i, f := range files {
			sizes[i] = f.ref.CipherSize()
		}
	}
	m, err := c.store.Outbox().add(ctx, c.acct, conversationID, body, files, sizes)
	if err != nil {
		removeOutgoing(files)
		return nil, err
	}
	c.StopTyping(conversationID)
	c.wake()
	return m, nil
}

// Retry puts a failed message back in the outbox with its client ID; the
// conversation's queue moves again.
func (c *Client) Retry(ctx context.Context, messageID int64) error {
	if err := c.store.Outbox().retry(ctx, messageID); err != nil {
		return err
	}
	c.wake()
	return nil
}

// Discard deletes a failed message; the messages queued after it go out.
func (c *Client) Discard(ctx context.Context, messageID int64) error {
	paths, err := c.store.strings(ctx, `SELECT path FROM uploads WHERE message_id = ?`, messageID)
	if err != nil {
		return err
	}
	if err := c.store.Outbox().discard(ctx, messageID); err != nil {
		return err
	}
	for _, p := range paths {
		c.removeIfOutgoing(p)
	}
	c.wake()
	return nil
}

// sendLoop drains the outbox while online: each conversation's head is
// sent when its uploads are done, one message in flight per conversation
// (so a conversation's messages commit in the order they were written;
// conversations do not wait for each other).
func (c *Client) sendLoop() {
	defer c.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := c.sendHeads()
		if next > 0 {
			timer.Reset(next)
		}
		select {
		case <-c.ctx.Done():
			return
		case <-c.kick:
		case <-timer.C:
		}
	}
}

// sendHeads starts what can start now and returns when to look again for
// a conversation that is backing off (0: only when woken).
func (c *Client) sendHeads() time.Duration {
	conn := c.currentConn()
	heads, err := c.store.Outbox().Heads(c.ctx)
	if err != nil {
		if c.ctx.Err() == nil {
			c.warn("client: read outbox", "err", err)
		}
		return time.Second
	}
	var next time.Duration
	now := time.Now()
	for _, h := range heads {
		if h.Failed {
			continue // waits for Retry or Discard: later messages must not overtake it
		}
		if !h.ready() {
			c.startUploads(h.MessageID)
			continue
		}
		if conn == nil {
			continue
		}
		c.mu.Lock()
		busy := c.inflight[h.ConversationID]
		until := c.waitTill[h.ConversationID]
		if !busy && !now.Before(until) {
			c.inflight[h.ConversationID] = true
		}
		c.mu.Unlock()
		if wait := until.Sub(now); wait > 0 && !busy {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		if !busy {
			go c.sendOne(conn, h)
		}
	}
	return next
}

// sendOne sends one outbox head and records the outcome: sent (seq, ts),
// a wait (rate_limited, unavailable, a lost connection: the same client
// ID goes again), or a permanent failure.
func (c *Client) sendOne(conn *Conn, it OutboxItem) {
	defer c.wake()
	defer func() {
		c.mu.Lock()
		delete(c.inflight, it.ConversationID)
		c.mu.Unlock()
	}()
	c.store.Outbox().attempted(c.ctx, it.MessageID)
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	body, devices := it.Body, []string(nil)
	enc, err := c.encrypted(ctx, it.ConversationID)
	if err == nil && enc {
		body, devices, err = c.encryptItem(ctx, it)
	}
	if err != nil {
		c.warn("client: encrypt", "conversation_id", it.ConversationID, "err", err)
		c.delay(it.ConversationID, max(courier.ErrorRetryAfter(err), c.backoff(it.Attempts)))
		return
	}
	f, err := conn.Request(ctx, courier.FrameSend, map[string]any{
		"conversation_id": it.ConversationID, "client_id": it.ClientID, "body": body, "attachments": it.Attachments,
		"devices": devices,
	})
	if err == nil {
		var d struct {
			ConversationID string    `json:"conversation_id"`
			ClientID       string    `json:"client_id"`
			Seq            int64     `json:"seq"`
			TS             time.Time `json:"ts"`
		}
		if err := f.Decode(&d); err == nil {
			c.sent(it, d.Seq, d.TS)
		}
		return
	}
	var ce *CloseError
	switch code := courier.ErrorCode(err); {
	case enc && courier.ErrorDevices(err) != nil:
		// The recipients changed: a new chain for the devices named.
		if err := c.recipientsChanged(c.ctx, it.ConversationID, courier.ErrorDevices(err)); err != nil {
			c.warn("client: recipients changed", "err", err)
		}
		// Again at once the first times (a conversation's first send
		// learns its recipients so); then backing off, should a device
		// the server names have no keys to fetch.
		wait := time.Millisecond
		if it.Attempts >= 2 {
			wait = c.backoff(it.Attempts)
		}
		c.delay(it.ConversationID, wait)
	case errors.As(err, &ce), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		// No answer: the reconnect (or a later try) sends it again.
		c.delay(it.ConversationID, c.cfg.MinBackoff)
	case code == courier.ERATELIMIT:
		c.delay(it.ConversationID, courier.ErrorRetryAfter(err))
	case code == courier.EUNAVAILABLE || code == courier.EINTERNAL:
		c.delay(it.ConversationID, c.backoff(it.Attempts))
	default:
		// invalid, too_large, not_found, forbidden, conflict: resending
		// the same frame gets the same answer.
		reason := code + ": " + courier.ErrorMessage(err)
		if c.store.Outbox().fail(c.ctx, it.MessageID, reason) == nil {
			c.events.emit(StateEvent{ConversationID: it.ConversationID, MessageID: it.MessageID, State: MessageFailed, Error: reason})
		}
	}
}

// delay holds a conversation's queue for d.
func (c *Client) delay(conv string, d time.Duration) {
	c.mu.Lock()
	c.waitTill[conv] = time.Now().Add(max(d, time.Millisecond))
	c.mu.Unlock()
}

// sent records the server's seq and ts for an own message.
func (c *Client) sent(it OutboxItem, seq int64, ts time.Time) {
	var isNew bool
	err := c.store.tx(c.ctx, func(tx *sqlTx) (err error) {
		_, isNew, err = markSent(c.ctx, tx, it.ConversationID, it.ClientID, seq, ts)
		return err
	})
	if err != nil {
		c.warn("client: record sent", "err", err)
		return
	}
	if isNew {
		c.events.emit(StateEvent{ConversationID: it.ConversationID, MessageID: it.MessageID, Seq: seq, State: MessageSent})
	}
}
