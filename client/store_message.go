package client

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/courier-chat/courier"
)

// messageColumns are the columns nullMessage scans, from table alias t.
func messageColumns(t string) string {
	return t + ".id, " + t + ".conversation_id, " + t + ".seq, " + t + ".client_id, " + t + ".sender_id, " +
		t + ".sender_device_id, " + t + ".body, " + t + ".attachments, " + t + ".ts, " + t + ".local_ts, " +
		t + ".state, " + t + ".error, " + t + ".locked"
}

// nullMessage scans a message row that may be missing (a LEFT JOIN).
type nullMessage struct {
	id                               sql.NullInt64
	conv, clientID, sender, device   sql.NullString
	seq                              sql.NullInt64
	body                             []byte
	attachments, state, errorMessage sql.NullString
	ts, localTS                      sql.NullInt64
	locked                           sql.NullBool
}

func (n *nullMessage) dest() []any {
	return []any{&n.id, &n.conv, &n.seq, &n.clientID, &n.sender, &n.device, &n.body, &n.attachments,
		&n.ts, &n.localTS, &n.state, &n.errorMessage, &n.locked}
}

// message returns the scanned message, or nil when the row was missing.
func (n *nullMessage) message(userID string) *Message {
	if !n.id.Valid {
		return nil
	}
	m := &Message{
		ID: n.id.Int64, ConversationID: n.conv.String, Seq: n.seq.Int64, ClientID: n.clientID.String,
		SenderID: n.sender.String, SenderDeviceID: n.device.String, Body: n.body,
		State: MessageState(n.state.String), Error: n.errorMessage.String, Locked: n.locked.Bool,
	}
	json.Unmarshal([]byte(n.attachments.String), &m.Attachments)
	if n.ts.Int64 != 0 {
		m.Time = time.Unix(0, n.ts.Int64)
	} else {
		m.Time = time.Unix(0, n.localTS.Int64)
	}
	return m
}

// Messages returns a page of a conversation, oldest first: the limit
// newest messages with a seq below before (0: the newest), and when
// before is 0 the pending ones after them, in the order they were written.
// Own messages carry their derived state (sent, delivered, read).
func (s *Store) Messages(ctx context.Context, userID, conversationID string, before int64, limit int) ([]Message, error) {
	if limit <= 0 {
		limit = 50
	}
	if before <= 0 {
		before = 1 << 62
	}
	msgs, err := s.queryMessages(ctx, userID, `SELECT `+messageColumns("m")+` FROM messages m
		WHERE m.conversation_id = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?`, conversationID, before, limit)
	if err != nil {
		return nil, err
	}
	slices.Reverse(msgs)
	if before == 1<<62 {
		pending, err := s.queryMessages(ctx, userID, `SELECT `+messageColumns("m")+` FROM messages m
			WHERE m.conversation_id = ? AND m.seq IS NULL ORDER BY m.id`, conversationID)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, pending...)
	}
	return msgs, s.deriveStates(ctx, userID, conversationID, msgs)
}

// Message returns one message by its local ID, with its state.
func (s *Store) Message(ctx context.Context, userID string, id int64) (*Message, error) {
	msgs, err := s.queryMessages(ctx, userID, `SELECT `+messageColumns("m")+` FROM messages m WHERE m.id = ?`, id)
	if err != nil {
		return nil, err
	} else if len(msgs) == 0 {
		return nil, courier.Errorf(courier.ENOTFOUND, "no message %d in the store", id)
	}
	return &msgs[0], s.deriveStates(ctx, userID, msgs[0].ConversationID, msgs)
}

// messagesByID returns the messages with the given local IDs, in that
// order, with their states.
func (s *Store) messagesByID(ctx context.Context, userID string, ids []int64) ([]Message, error) {
	byID := make(map[int64]Message, len(ids))
	for chunk := range slices.Chunk(ids, 500) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		q := `SELECT ` + messageColumns("m") + ` FROM messages m WHERE m.id IN (?` + strings.Repeat(", ?", len(chunk)-1) + `)`
		msgs, err := s.queryMessages(ctx, userID, q, args...)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			byID[m.ID] = m
		}
	}
	out := make([]Message, 0, len(ids))
	sent := map[string][]int{} // own sent messages by conversation, for deriveStates
	for _, id := range ids {
		if m, ok := byID[id]; ok {
			if m.State == MessageSent {
				sent[m.ConversationID] = append(sent[m.ConversationID], len(out))
			}
			out = append(out, m)
		}
	}
	for conv, at := range sent {
		own := make([]Message, len(at))
		for i, j := range at {
			own[i] = out[j]
		}
		if err := s.deriveStates(ctx, userID, conv, own); err != nil {
			return nil, err
		}
		for i, j := range at {
			out[j] = own[i]
		}
	}
	return out, nil
}

func (s *Store) queryMessages(ctx context.Context, userID, q string, args ...any) ([]Message, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var msgs []Message
	for rows.Next() {
		var n nullMessage
		if err := rows.Scan(n.dest()...); err != nil {
			return nil, err
		}
		msgs = append(msgs, *n.message(userID))
	}
	return msgs, rows.Err()
}

// deriveStates turns the stored sent state of own messages into
// delivered or read from the other members' watermarks.
func (s *Store) deriveStates(ctx context.Context, userID, conversationID string, msgs []Message) error {
	var ms []Member
	for i := range msgs {
		if msgs[i].State != MessageSent {
			continue
		}
		if ms == nil {
			all, err := s.Members(ctx, conversationID)
			if err != nil {
				return err
			}
			ms = others(all, userID)
		}
		msgs[i].State = stateFor(msgs[i].Seq, ms)
	}
	return nil
}

// Recipients returns each other member's view of an own message.
func (s *Store) Recipients(ctx context.Context, userID string, m *Message) ([]RecipientState, error) {
	all, err := s.Members(ctx, m.ConversationID)
	if err != nil {
		return nil, err
	}
	var out []RecipientState
	for _, mb := range others(all, userID) {
		out = append(out, RecipientState{UserID: mb.UserID, State: recipientState(m.Seq, mb)})
	}
	return out, nil
}

// storeRemote stores a message the server sent (live, in a sync or a gap
// fill). A message this device sent matches its outbox row by client ID,
// which gets the seq and leaves the outbox, whether or not its `sent`
// arrived. It reports whether the message was new here: a repeat of a
// held (conversation, seq) changes nothing. The cursor is left to the
// caller (advanceCursor), once per conversation for a whole batch.
func storeRemote(ctx context.Context, tx *sql.Tx, self Account, m *courier.Message) (id int64, isNew bool, err error) {
	if err := ensureConversation(ctx, tx, m.ConversationID); err != nil {
		return 0, false, err
	}
	if m.SenderDeviceID == self.DeviceID {
		id, isNew, err := markOwn(ctx, tx, m.ConversationID, m.ClientID, m.Seq, m.CreatedAt)
		if err != nil || id != 0 {
			return id, isNew, err
		}
		// Not in this store (sent before a reinstall): store it as is.
	}
	state := MessageReceived
	if m.SenderID == self.UserID {
		state = MessageSent // from the user's other device
	}
	atts, _ := json.Marshal(nonNil(m.Attachments))
	res, err := tx.ExecContext(ctx, `INSERT INTO messages(conversation_id, seq, client_id, sender_id, sender_device_id, body, attachments, ts, state)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		m.ConversationID, m.Seq, m.ClientID, m.SenderID, m.SenderDeviceID, m.Body, string(atts), m.CreatedAt.UnixNano(), string(state))
	if err != nil {
		return 0, false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, false, nil
	}
	id, _ = res.LastInsertId()
	return id, true, touchConversation(ctx, tx, m.ConversationID, id, m.Seq, m.CreatedAt)
}

// markSent records the server's seq and ts on an own message (its `sent`
// answer) and takes it out of the outbox. It returns the message's local
// ID (0 when no such message) and whether it was pending until now.
func markSent(ctx context.Context, tx *sql.Tx, conv, clientID string, seq int64, ts time.Time) (int64, bool, error) {
	id, isNew, err := markOwn(ctx, tx, conv, clientID, seq, ts)
	if err != nil || !isNew {
		return id, isNew, err
	}
	_, err = advanceCursor(ctx, tx, conv)
	return id, isNew, err
}

// markOwn is markSent without moving the cursor.
func markOwn(ctx context.Context, tx *sql.Tx, conv, clientID string, seq int64, ts time.Time) (int64, bool, error) {
	var id int64
	var state string
	err := tx.QueryRowContext(ctx, `SELECT id, state FROM messages WHERE conversation_id = ? AND client_id = ? AND sender_device_id = (SELECT value FROM settings WHERE key = 'device_id')`,
		conv, clientID).Scan(&id, &state)
	if err == sql.ErrNoRows {
		return 0, false, nil
	} else if err != nil {
		return 0, false, err
	}
	if state == string(MessageSent) {
		return id, false, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE messages SET seq = ?, ts = ?, state = 'sent', error = '' WHERE id = ?`,
		seq, ts.UnixNano(), id); err != nil {
		return 0, false, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE message_id = ?`, id); err != nil {
		return 0, false, err
	}
	// Sending moves the sender's own read watermark (the server does the
	// same), so own messages never count as unread.
	if _, err := tx.ExecContext(ctx, `UPDATE conversations SET read_seq = MAX(read_seq, ?), read_told = MAX(read_told, ?) WHERE id = ?`,
		seq, seq, conv); err != nil {
		return 0, false, err
	}
	return id, true, touchConversation(ctx, tx, conv, id, seq, ts)
}

// touchConversation moves the conversation's newest seq and activity.
func touchConversation(ctx context.Context, tx *sql.Tx, conv string, id, seq int64, ts time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE conversations SET last_seq = MAX(last_seq, ?),
		activity = MAX(activity, ?), last_message = CASE WHEN ? >= last_seq THEN ? ELSE last_message END WHERE id = ?`,
		seq, ts.UnixNano(), seq, id, conv)
	return err
}

// advanceCursor moves the cursor over the seqs held right after it, and
// returns where it stands. One range read on messages_seq from the old
// cursor, stopped at the first hole.
func advanceCursor(ctx context.Context, tx *sql.Tx, conv string) (int64, error) {
	var cursor int64
	if err := tx.QueryRowContext(ctx, `SELECT cursor FROM conversations WHERE id = ?`, conv).Scan(&cursor); err != nil {
		return 0, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq`, conv, cursor)
	if err != nil {
		return 0, err
	}
	next := cursor
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			rows.Close()
			return 0, err
		}
		if seq != next+1 {
			break
		}
		next = seq
	}
	rows.Close()
	if err := rows.Err(); err != nil || next == cursor {
		return cursor, err
	}
	_, err = tx.ExecContext(ctx, `UPDATE conversations SET cursor = ? WHERE id = ?`, next, conv)
	return next, err
}

// Cursors returns every conversation's cursor, for sync.
func (s *Store) Cursors(ctx context.Context) (map[string]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, cursor FROM conversations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cursors := map[string]int64{}
	for rows.Next() {
		var id string
		var c int64
		if err := rows.Scan(&id, &c); err != nil {
			return nil, err
		}
		cursors[id] = c
	}
	return cursors, rows.Err()
}

// setCursors applies a synced frame: the server sent everything up to
// each cursor, so the local cursor moves to it even over seqs this member
// may not see (before they joined).
func setCursors(ctx context.Context, tx *sql.Tx, cursors map[string]int64) error {
	for conv, c := range cursors {
		if err := ensureConversation(ctx, tx, conv); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE conversations SET cursor = MAX(cursor, ?), last_seq = MAX(last_seq, ?) WHERE id = ?`,
			c, c, conv); err != nil {
			return err
		}
		if _, err := advanceCursor(ctx, tx, conv); err != nil {
			return err
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
