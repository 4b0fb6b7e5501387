package client

import (
	"context"
	"errors"
	"time"

	"github.com/courier-chat/courier"
)

// session runs one connection: sync from the persisted cursors (again
// while the server says `more`), catch up on what the store lacks
// (conversation details, receipts to tell), then serve sync requests
// (resync, gaps) until the connection ends. It returns why it ended.
func (c *Client) session(conn *Conn) error {
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.conn, c.online = nil, false
		c.inflight = map[string]bool{} // their answers died with the socket
		c.mu.Unlock()
	}()
	c.setState(Syncing, nil)
	if c.cfg.Encryption {
		// Keys first (a device without them gets no sender keys), then
		// the sender keys waiting, then the messages they open.
		if err := c.ensureKeys(c.ctx); err != nil {
			c.warn("client: upload keys", "err", err)
		}
		if err := c.mailboxSync(conn); err != nil {
			conn.Close()
			return err
		}
	}
	if err := c.sync(conn); err != nil {
		conn.Close()
		return err
	}
	c.mu.Lock()
	c.online = true
	c.mu.Unlock()
	c.setState(Online, nil)
	c.wake()
	c.catchUp(conn)
	for {
		select {
		case <-conn.Done():
			return conn.Err()
		case <-c.ctx.Done():
			return c.ctx.Err()
		case <-c.resync:
			if err := c.sync(conn); err != nil {
				if errors.Is(err, context.Canceled) || conn.Err() != nil {
					continue // the select above sees why
				}
				c.warn("client: sync failed", "err", err)
			}
		}
	}
}

// sync sends `sync` with every cursor and applies `synced`, repeating
// while conversations were cut at the limit. The messages themselves
// arrive before `synced`; storeLoop stores each page in one transaction.
// rate_limited is waited out.
func (c *Client) sync(conn *Conn) error {
	for {
		cursors, err := c.store.Cursors(c.ctx)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
		f, err := conn.Request(ctx, courier.FrameSync, map[string]any{"cursors": cursors})
		cancel()
		if courier.ErrorCode(err) == courier.ERATELIMIT {
			if !c.sleep(courier.ErrorRetryAfter(err), conn) {
				return conn.Err()
			}
			continue
		} else if err != nil {
			return err
		}
		var d struct {
			Cursors map[string]int64 `json:"cursors"`
			More    []string         `json:"more"`
		}
		if err := f.Decode(&d); err != nil {
			return err
		}
		// The page's messages came before its answer: store them first,
		// then move the cursors over what they did not include.
		if err := c.inbound.flush(c.ctx); err != nil {
			return err
		}
		if err := c.store.tx(c.ctx, func(tx *sqlTx) error { return setCursors(c.ctx, tx, d.Cursors) }); err != nil {
			return err
		}
		c.receipts.dirtyAll(d.Cursors)
		if len(d.More) == 0 {
			return nil
		}
	}
}

// sleep waits d, or less if the connection or client ends (false then).
func (c *Client) sleep(d time.Duration, conn *Conn) bool {
	select {
	case <-time.After(max(d, 10*time.Millisecond)):
		return true
	case <-conn.Done():
	case <-c.ctx.Done():
	}
	return false
}

// requestSync asks the session for a sync (resync frame, a gap).
func (c *Client) requestSync() {
	select {
	case c.resync <- struct{}{}:
	default:
	}
}

// catchUp fetches what the store lacks after a sync: details of
// conversations first heard of in it, and members' watermarks of every
// conversation (receipts that moved while offline are not replayed), then
// tells the server the receipts it has not acknowledged.
func (c *Client) catchUp(conn *Conn) {
	ids, err := c.store.strings(c.ctx, `SELECT id FROM conversations`)
	if err != nil {
		c.warn("client: catch up", "err", err)
		return
	}
	for _, id := range ids {
		if err := c.refreshConversation(c.ctx, id); err != nil {
			c.warn("client: refresh conversation", "conversation_id", id, "err", err)
		}
	}
	c.receipts.flushReads(conn)
}

// handleFrame applies one server frame that is not an answer to a
// request. It runs on the connection's reader goroutine, in arrival order:
// messages are queued for storeLoop, and any other frame waits until the
// messages before it are stored.
func (c *Client) handleFrame(f Frame) {
	if f.Type == courier.EventMessage {
		m := new(courier.Message)
		if f.Decode(m) == nil {
			c.inbound.add(m) // stored in a batch by storeLoop
		}
		return
	}
	// Whatever comes after messages is applied after them.
	if c.inbound.flush(c.ctx) != nil {
		return // closing
	}
	switch f.Type {
	case courier.EventReceipt:
		var r courier.Receipt
		if f.Decode(&r) == nil {
			c.applyReceipt(r)
		}
	case courier.EventTyping:
		var t struct {
			ConversationID string `json:"conversation_id"`
			UserID         string `json:"user_id"`
			State          string `json:"state"`
			ExpiresInMS    int64  `json:"expires_in_ms"`
		}
		if f.Decode(&t) == nil {
			c.events.emit(TypingEvent{ConversationID: t.ConversationID, UserID: t.UserID, Typing: t.State == "start",
				Expires: time.Now().Add(time.Duration(t.ExpiresInMS) * time.Millisecond)})
		}
	case courier.EventPresence:
		var p struct {
			UserID   string     `json:"user_id"`
			Online   bool       `json:"online"`
			LastSeen *time.Time `json:"last_seen"`
		}
		if f.Decode(&p) == nil {
			e := PresenceEvent{UserID: p.UserID, Online: p.Online}
			if p.LastSeen != nil {
				e.LastSeen = *p.LastSeen
			}
			c.events.emit(e)
		}
	case courier.EventMediaReady, courier.EventMediaFailed:
		c.applyMedia(f)
	case courier.EventDeviceRevoked:
		var d struct {
			DeviceID string `json:"device_id"`
		}
		f.Decode(&d)
		c.events.emit(DeviceRevokedEvent{DeviceID: d.DeviceID})
	case courier.EventResync:
		c.requestSync()
	case courier.EventMailbox:
		if c.cfg.Encryption {
			c.handleMailbox(f)
		}
	case courier.EventDevicesChanged:
		var d struct {
			UserID string `json:"user_id"`
		}
		if c.cfg.Encryption && f.Decode(&d) == nil && courier.ValidID(d.UserID) && d.UserID != c.acct.UserID {
			c.contactChanged(d.UserID)
		}
	case courier.EventKeysLow:
		var d struct {
			DeviceID string      `json:"device_id"`
			KEM      courier.KEM `json:"kem"`
		}
		if c.cfg.Encryption && f.Decode(&d) == nil && d.DeviceID == c.acct.DeviceID && d.KEM == courier.KEMXWing {
			go c.replenish()
		}
	}
}

// learnConversation fetches a new conversation's details (kind, name,
// members) in the background, once at a time per conversation, and emits
// a ConversationEvent when it is stored.
func (c *Client) learnConversation(id string) {
	c.mu.Lock()
	if c.learning == nil {
		c.learning = map[string]bool{}
	}
	busy := c.learning[id]
	c.learning[id] = true
	c.mu.Unlock()
	if busy {
		return
	}
	go func() {
		defer func() {
			c.mu.Lock()
			delete(c.learning, id)
			c.mu.Unlock()
		}()
		if err := c.refreshConversation(c.ctx, id); err != nil {
			c.warn("client: fetch conversation", "conversation_id", id, "err", err)
			return
		}
		c.events.emit(ConversationEvent{ConversationID: id})
	}()
}

func (c *Client) isOnline() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.online
}

// WatchPresence asks for the presence of the other member of each direct
// conversation: one PresenceEvent per contact now, and one at every change
// while this connection lives (call it again after reconnecting).
func (c *Client) WatchPresence(ctx context.Context, conversationIDs []string) error {
	conn := c.currentConn()
	if conn == nil {
		return courier.Errorf(courier.EUNAVAILABLE, "offline")
	}
	_, err := conn.Request(ctx, courier.FramePresenceSubscribe, map[string]any{"conversation_ids": conversationIDs})
	return err
}
