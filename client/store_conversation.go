package client

import (
	"context"
	"database/sql"
	"time"

	"github.com/courier-chat/courier"
)

// Conversations returns the conversation list, most recent activity first,
// with each one's newest message and unread count: the first screen an app
// shows, read from the store alone.
func (s *Store) Conversations(ctx context.Context, userID string, limit int) ([]Conversation, error) {
	if limit <= 0 {
		limit = 50
	}
	return s.conversations(ctx, userID, "", limit)
}

// conversations lists conversations matching where (one ID, or all).
func (s *Store) conversations(ctx context.Context, userID, id string, limit int) ([]Conversation, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT c.id, c.kind, c.name, c.encrypted, c.last_seq, c.cursor, c.read_seq, c.activity,
			`+messageColumns("m")+`
		FROM conversations c LEFT JOIN messages m ON m.id = c.last_message
		WHERE ? = '' OR c.id = ?
		ORDER BY c.activity DESC LIMIT ?`, id, id, limit)
	if err != nil {
		return nil, err
	}
	var list []Conversation
	for rows.Next() {
		var c Conversation
		var activity int64
		var m nullMessage
		dest := append([]any{&c.ID, &c.Kind, &c.Name, &c.Encrypted, &c.LastSeq, &c.Cursor, &c.ReadSeq, &activity}, m.dest()...)
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, err
		}
		c.Activity = time.Unix(0, activity)
		c.LastMessage = m.message(userID)
		list = append(list, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Unread: others' messages after the read watermark. Counted per
	// conversation from the messages_unread index alone, for the page only.
	for i := range list {
		c := &list[i]
		if c.LastSeq <= c.ReadSeq {
			continue
		}
		if err := s.db.QueryRowContext(ctx, unreadQuery, c.ID, c.ReadSeq, userID).Scan(&c.Unread); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// unreadQuery counts a conversation's unread messages: (conversation,
// read watermark, user).
const unreadQuery = `SELECT COUNT(*) FROM messages WHERE conversation_id = ? AND seq > ? AND sender_id != ?`

// Conversation returns one conversation from the store.
func (s *Store) Conversation(ctx context.Context, userID, id string) (*Conversation, error) {
	list, err := s.conversations(ctx, userID, id, 1)
	if err != nil {
		return nil, err
	} else if len(list) == 0 {
		return nil, courier.Errorf(courier.ENOTFOUND, "no conversation %s in the store", id)
	}
	return &list[0], nil
}

// Members returns a conversation's members with their watermarks.
func (s *Store) Members(ctx context.Context, conversationID string) ([]Member, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT user_id, role, delivered_seq, read_seq FROM members
		WHERE conversation_id = ? ORDER BY user_id`, conversationID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ms []Member
	for rows.Next() {
		var m Member
		if err := rows.Scan(&m.UserID, &m.Role, &m.DeliveredSeq, &m.ReadSeq); err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, rows.Err()
}

// others returns the members but userID.
func others(ms []Member, userID string) []Member {
	var out []Member
	for _, m := range ms {
		if m.UserID != userID {
			out = append(out, m)
		}
	}
	return out
}

// saveConversation writes what the server says of a conversation: kind,
// name and members with their watermarks (which only move forward here,
// as on the server, so an older answer never undoes a newer receipt).
func saveConversation(ctx context.Context, tx *sql.Tx, c *courier.Conversation) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO conversations(id, kind, name, last_seq, activity, created_at, known, encrypted)
		VALUES(?, ?, ?, ?, ?, ?, 1, ?)
		ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, name = excluded.name, encrypted = excluded.encrypted,
			last_seq = MAX(last_seq, excluded.last_seq), activity = MAX(activity, excluded.activity),
			created_at = excluded.created_at, known = 1`,
		c.ID, string(c.Kind), c.Name, c.LastSeq, c.CreatedAt.UnixNano(), c.CreatedAt.UnixNano(), c.Encrypted); err != nil {
		return err
	}
	if c.Members == nil {
		return nil
	}
	ids := make([]any, 0, len(c.Members)+1)
	ids = append(ids, c.ID)
	for _, m := range c.Members {
		if _, err := tx.ExecContext(ctx, `INSERT INTO members(conversation_id, user_id, role, delivered_seq, read_seq)
			VALUES(?, ?, ?, ?, ?)
			ON CONFLICT(conversation_id, user_id) DO UPDATE SET role = excluded.role,
				delivered_seq = MAX(delivered_seq, excluded.delivered_seq), read_seq = MAX(read_seq, excluded.read_seq)`,
			c.ID, m.UserID, m.Role, m.DeliveredSeq, m.ReadSeq); err != nil {
			return err
		}
		ids = append(ids, m.UserID)
	}
	// Members no longer listed have left or were removed.
	q := `DELETE FROM members WHERE conversation_id = ? AND user_id NOT IN (?` + repeat(",?", len(c.Members)-1) + `)`
	if len(c.Members) == 0 {
		q, ids = `DELETE FROM members WHERE conversation_id = ?`, ids[:1]
	}
	_, err := tx.ExecContext(ctx, q, ids...)
	return err
}

// ensureConversation makes a row for a conversation first heard of in a
// message or sync; its details are fetched afterwards (known = 0).
func ensureConversation(ctx context.Context, tx *sql.Tx, id string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO conversations(id) VALUES(?) ON CONFLICT(id) DO NOTHING`, id)
	return err
}

// applyReceipt moves a member's watermarks forward. It reports the
// member's watermarks before and after.
func applyReceipt(ctx context.Context, tx *sql.Tx, r courier.Receipt) (before Member, err error) {
	if err := ensureConversation(ctx, tx, r.ConversationID); err != nil {
		return before, err
	}
	before.UserID = r.UserID
	err = tx.QueryRowContext(ctx, `SELECT delivered_seq, read_seq FROM members WHERE conversation_id = ? AND user_id = ?`,
		r.ConversationID, r.UserID).Scan(&before.DeliveredSeq, &before.ReadSeq)
	if err != nil && err != sql.ErrNoRows {
		return before, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO members(conversation_id, user_id, delivered_seq, read_seq) VALUES(?, ?, ?, ?)
		ON CONFLICT(conversation_id, user_id) DO UPDATE SET
			delivered_seq = MAX(delivered_seq, excluded.delivered_seq), read_seq = MAX(read_seq, excluded.read_seq)`,
		r.ConversationID, r.UserID, r.DeliveredSeq, r.ReadSeq)
	return before, err
}

// unknownConversations lists conversations whose details were never
// fetched.
func (s *Store) unknownConversations(ctx context.Context) ([]string, error) {
	return s.strings(ctx, `SELECT id FROM conversations WHERE known = 0`)
}

// strings runs a query of one text column.
func (s *Store) strings(ctx context.Context, q string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func repeat(s string, n int) string {
	out := ""
	for range max(n, 0) {
		out += s
	}
	return out
}
