package client

import (
	"context"
	"sync"
	"time"

	"github.com/courier-chat/courier"
)

// applyReceipt stores a member's watermarks and tells the UI which own
// messages changed state: one event per message whose derived state
// moved (in a group, when the slowest other member passed it).
func (c *Client) applyReceipt(r courier.Receipt) {
	type change struct {
		id, seq int64
		state   MessageState
	}
	var changes []change
	var before Member
	err := c.store.tx(c.ctx, func(tx *sqlTx) (err error) {
		if before, err = applyReceipt(c.ctx, tx, r); err != nil {
			return err
		}
		if r.UserID == c.acct.UserID {
			// Another of the user's devices read or received: the unread
			// count follows, and nothing is left to tell.
			_, err := tx.ExecContext(c.ctx, `UPDATE conversations SET read_seq = MAX(read_seq, ?), read_told = MAX(read_told, ?),
				delivered_told = MAX(delivered_told, ?) WHERE id = ?`, r.ReadSeq, r.ReadSeq, r.DeliveredSeq, r.ConversationID)
			return err
		}
		return nil
	})
	if err != nil {
		c.warn("client: store receipt", "err", err)
		return
	}
	c.events.emit(ReceiptEvent{ConversationID: r.ConversationID, UserID: r.UserID, DeliveredSeq: r.DeliveredSeq, ReadSeq: r.ReadSeq})
	if r.UserID == c.acct.UserID {
		return
	}
	// Own messages the receipt newly covers may have moved: compare their
	// state with the members as they were and as they are.
	all, err := c.store.Members(c.ctx, r.ConversationID)
	if err != nil {
		return
	}
	now := others(all, c.acct.UserID)
	was := make([]Member, len(now))
	for i, m := range now {
		if was[i] = m; m.UserID == r.UserID {
			was[i].DeliveredSeq, was[i].ReadSeq = before.DeliveredSeq, before.ReadSeq
		}
	}
	low := min(before.DeliveredSeq, before.ReadSeq)
	msgs, err := c.store.queryMessages(c.ctx, c.acct.UserID, `SELECT `+messageColumns("m")+` FROM messages m
		WHERE m.conversation_id = ? AND m.sender_id = ? AND m.state = 'sent' AND m.seq > ? AND m.seq <= ?
		ORDER BY m.seq`, r.ConversationID, c.acct.UserID, low, max(r.DeliveredSeq, r.ReadSeq))
	if err != nil {
		return
	}
	for _, m := range msgs {
		if s := stateFor(m.Seq, now); s != stateFor(m.Seq, was) {
			changes = append(changes, change{m.ID, m.Seq, s})
		}
	}
	for _, ch := range changes {
		c.events.emit(StateEvent{ConversationID: r.ConversationID, MessageID: ch.id, Seq: ch.seq, State: ch.state})
	}
}

// receiptBatcher sends delivered receipts: a conversation that got new
// messages is marked dirty, and DeliveredDelay later one receipt goes out
// per dirty conversation, up to its cursor (everything below is held).
type receiptBatcher struct {
	c     *Client
	mu    sync.Mutex
	dirtS map[string]bool
	timer *time.Timer
}

func (b *receiptBatcher) init(c *Client) { b.c, b.dirtS = c, map[string]bool{} }

func (b *receiptBatcher) dirty(conv string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dirtS[conv] = true
	if b.timer == nil {
		b.timer = time.AfterFunc(b.c.cfg.DeliveredDelay, b.flush)
	}
}

// dirtyAll marks the conversations of a synced frame.
func (b *receiptBatcher) dirtyAll(cursors map[string]int64) {
	for conv := range cursors {
		b.dirty(conv)
	}
}

func (b *receiptBatcher) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
	}
}

// flush sends one delivered receipt per dirty conversation whose cursor
// is past what the server acknowledged. Offline, it waits for the next
// sync (which marks every conversation dirty again).
func (b *receiptBatcher) flush() {
	b.mu.Lock()
	dirty := b.dirtS
	b.dirtS, b.timer = map[string]bool{}, nil
	b.mu.Unlock()
	c := b.c
	conn := c.currentConn()
	if conn == nil {
		return
	}
	for conv := range dirty {
		var cursor, told int64
		if err := c.store.db.QueryRowContext(c.ctx, `SELECT cursor, delivered_told FROM conversations WHERE id = ?`, conv).Scan(&cursor, &told); err != nil || cursor <= told {
			continue
		}
		go c.sendReceipt(conn, conv, courier.ReceiptDelivered, cursor)
	}
}

// sendReceipt tells the server a watermark and records its answer.
func (c *Client) sendReceipt(conn *Conn, conv string, kind courier.ReceiptKind, seq int64) error {
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	f, err := conn.Request(ctx, courier.FrameReceipt, map[string]any{"conversation_id": conv, "kind": kind, "seq": seq})
	if err != nil {
		return err
	}
	var r courier.Receipt
	if err := f.Decode(&r); err != nil {
		return err
	}
	_, err = c.store.exec(c.ctx, `UPDATE conversations SET delivered_told = MAX(delivered_told, ?),
		read_told = MAX(read_told, ?) WHERE id = ?`, r.DeliveredSeq, r.ReadSeq, conv)
	return err
}

// MarkRead records that the user read the conversation up to seq: the
// unread count drops at once (in the store), and the read receipt goes to
// the server now or, offline, after the next sync.
func (c *Client) MarkRead(ctx context.Context, conversationID string, seq int64) error {
	if _, err := c.store.exec(ctx, `UPDATE conversations SET read_seq = MAX(read_seq, ?) WHERE id = ?`, seq, conversationID); err != nil {
		return err
	}
	if conn := c.currentConn(); conn != nil {
		if err := c.sendReceipt(conn, conversationID, courier.ReceiptRead, seq); err != nil && courier.ErrorCode(err) != courier.EINTERNAL {
			return err
		}
	}
	return nil
}

// flushReads tells the server read watermarks set while offline.
func (b *receiptBatcher) flushReads(conn *Conn) {
	c := b.c
	rows, err := c.store.db.QueryContext(c.ctx, `SELECT id, read_seq FROM conversations WHERE read_seq > read_told`)
	if err != nil {
		return
	}
	type pending struct {
		conv string
		seq  int64
	}
	var ps []pending
	for rows.Next() {
		var p pending
		if rows.Scan(&p.conv, &p.seq) == nil {
			ps = append(ps, p)
		}
	}
	rows.Close()
	for _, p := range ps {
		c.sendReceipt(conn, p.conv, courier.ReceiptRead, p.seq)
	}
}
