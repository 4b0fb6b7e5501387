package client

import (
	"context"
	"sync"
	"time"

	"github.com/courier-chat/courier"
)

// maxInboundBatch bounds one inbound transaction, so a sync of thousands
// holds the writer (and a Send waiting for it) for a page at a time.
const maxInboundBatch = 1000

// inbound stores the server's message frames in batches. The reader
// queues each one and reads on; one goroutine (storeLoop) stores
// everything queued so far in one transaction: a sync page, or a burst of
// live frames, is one commit instead of one per message (a commit is most
// of the cost of storing a message). Frames are applied in arrival order.
type inbound struct {
	mu      sync.Mutex
	queue   []*courier.Message
	queued  uint64 // messages queued since New
	applied uint64 // messages stored (or given up on) since New
	waiters []inboundWaiter
	signal  chan struct{}
}

type inboundWaiter struct {
	upTo uint64
	done chan struct{}
}

func (in *inbound) init() { in.signal = make(chan struct{}, 1) }

// add queues a message for the store.
func (in *inbound) add(m *courier.Message) {
	in.mu.Lock()
	in.queue = append(in.queue, m)
	in.queued++
	in.mu.Unlock()
	select {
	case in.signal <- struct{}{}:
	default:
	}
}

// take returns up to maxInboundBatch queued messages and how many were
// applied once they are.
func (in *inbound) take() ([]*courier.Message, uint64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := min(len(in.queue), maxInboundBatch)
	batch := in.queue[:n:n]
	in.queue = in.queue[n:]
	return batch, in.applied + uint64(n)
}

// done records that messages up to applied were applied and wakes the
// flushes waiting for them.
func (in *inbound) done(applied uint64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.applied = applied
	kept := in.waiters[:0]
	for _, w := range in.waiters {
		if w.upTo <= applied {
			close(w.done)
		} else {
			kept = append(kept, w)
		}
	}
	in.waiters = kept
}

// flush waits until every message queued before the call is applied.
// Frames whose meaning depends on the messages before them (a sync's
// `synced`, a receipt, a sender key that unlocks them) are handled after
// a flush, so batching never reorders what the server sent.
func (in *inbound) flush(ctx context.Context) error {
	in.mu.Lock()
	if in.applied >= in.queued {
		in.mu.Unlock()
		return nil
	}
	w := inboundWaiter{upTo: in.queued, done: make(chan struct{})}
	in.waiters = append(in.waiters, w)
	in.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// storeLoop stores queued messages until Close.
func (c *Client) storeLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.inbound.signal:
		}
		for {
			batch, upTo := c.inbound.take()
			if len(batch) == 0 {
				break
			}
			c.storeMessages(batch)
			c.inbound.done(upTo)
		}
	}
}

// convBatch is what one batch did to one conversation.
type convBatch struct {
	maxSeq     int64
	fromOthers bool // a new message from someone else: a delivered receipt is owed
	cursor     int64
	known      bool
	encrypted  bool
	unreadable bool // whether it is encrypted is unknown: left to the next sync
}

// storeMessages stores a batch of messages from the server in one
// transaction, deduplicated by (conversation, seq), moves each
// conversation's cursor once, then emits the new ones. A seq beyond the
// cursor asks for a sync (the server fills live gaps itself; this heals
// what it could not); new messages from others are queued for one
// delivered receipt per conversation.
func (c *Client) storeMessages(batch []*courier.Message) {
	convs := map[string]*convBatch{}
	for _, m := range batch {
		if convs[m.ConversationID] != nil {
			continue
		}
		cb := &convBatch{}
		enc, err := c.encrypted(c.ctx, m.ConversationID)
		if err != nil {
			c.warn("client: store message", "conversation_id", m.ConversationID, "err", err)
			cb.unreadable = true
		}
		cb.encrypted = enc
		convs[m.ConversationID] = cb
	}
	var fresh []int64
	err := c.store.tx(c.ctx, func(tx *sqlTx) error {
		fresh = fresh[:0]
		for _, cb := range convs {
			cb.maxSeq, cb.fromOthers = 0, false
		}
		for _, m := range batch {
			cb := convs[m.ConversationID]
			if cb.unreadable {
				continue
			}
			stored, waiting := m, []byte(nil)
			if cb.encrypted {
				var err error
				if stored, waiting, err = c.decryptIn(c.ctx, tx, m); err != nil {
					return err
				}
			}
			id, isNew, err := storeRemote(c.ctx, tx, c.acct, stored)
			if err != nil {
				return err
			}
			if !isNew {
				continue
			}
			if cb.encrypted && stored.Body == nil && m.SenderDeviceID != c.acct.DeviceID {
				if err := lock(c.ctx, tx, id, m, waiting); err != nil {
					return err
				}
			}
			fresh = append(fresh, id)
			cb.maxSeq = max(cb.maxSeq, m.Seq)
			cb.fromOthers = cb.fromOthers || m.SenderID != c.acct.UserID
		}
		for id, cb := range convs {
			if cb.unreadable {
				continue
			}
			cursor, err := advanceCursor(c.ctx, tx, id)
			if err != nil {
				return err
			}
			cb.cursor = cursor
			if err := tx.QueryRowContext(c.ctx, `SELECT known FROM conversations WHERE id = ?`, id).Scan(&cb.known); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// The cursors did not move over these messages, so a sync
		// fetches them again; without it a live message lost here would
		// wait for the next message's gap check or the next connection.
		c.warn("client: store messages", "count", len(batch), "err", err)
		if c.isOnline() {
			time.AfterFunc(c.cfg.MinBackoff, c.requestSync)
		}
		return
	}
	c.emitStored(fresh)
	online := c.isOnline()
	for id, cb := range convs {
		if cb.unreadable && online {
			time.AfterFunc(c.cfg.MinBackoff, c.requestSync) // as above: fetched again
		}
		if cb.maxSeq == 0 {
			continue
		}
		if cb.fromOthers {
			c.receipts.dirty(id)
		}
		if !cb.known && online {
			c.learnConversation(id)
		}
		if cb.maxSeq > cb.cursor && online {
			c.requestSync()
		}
	}
}

// emitStored emits the events of newly stored messages, in the order
// they were stored: a StateEvent for this device's own (it became sent),
// a MessageEvent for everyone else's.
func (c *Client) emitStored(ids []int64) {
	if len(ids) == 0 {
		return
	}
	msgs, err := c.store.messagesByID(c.ctx, c.acct.UserID, ids)
	if err != nil {
		c.warn("client: read stored messages", "err", err)
		return
	}
	for _, msg := range msgs {
		if msg.SenderDeviceID == c.acct.DeviceID {
			c.events.emit(StateEvent{ConversationID: msg.ConversationID, MessageID: msg.ID, Seq: msg.Seq, State: msg.State})
			continue
		}
		c.events.emit(MessageEvent{Message: msg})
		if len(msg.Attachments) > 0 {
			if enc, _ := c.encrypted(c.ctx, msg.ConversationID); enc {
				c.prefetchThumbnails(msg.Attachments)
			}
		}
	}
}
