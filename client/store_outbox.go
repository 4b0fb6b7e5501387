package client

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/courier-chat/courier"
)

// Outbox is the store's queue of own messages the server has not
// acknowledged, oldest first. Send writes to it before anything touches
// the network; the client's sender drains it in order per conversation.
type Outbox struct{ s *Store }

// Outbox returns the store's outbox.
func (s *Store) Outbox() Outbox { return Outbox{s} }

// OutboxItem is the head of one conversation's queue.
type OutboxItem struct {
	MessageID      int64
	ConversationID string
	ClientID       string
	Body           []byte
	Attachments    []string // blob IDs, once every upload is done
	Uploads        []UploadProgress
	Attempts       int
	Failed         bool // refused for good: the conversation waits for Retry or Discard
}

// ready reports whether every attachment is uploaded.
func (it *OutboxItem) ready() bool {
	for _, u := range it.Uploads {
		if !u.Done {
			return false
		}
	}
	return true
}

// UploadProgress is one attachment of a pending message.
type UploadProgress struct {
	ID       string // local ID, also the upload's idempotency key
	Filename string
	Size     int64
	Offset   int64  // bytes the server holds
	BlobID   string // known once the upload was created
	Done     bool
}

// Attachment is a file to send with a message.
type Attachment struct {
	Path        string // a file the client may read until the upload finishes
	Filename    string // shown to recipients; the base name of Path when empty
	ContentType string // application/octet-stream when empty
	E2E         bool   // the bytes are ciphertext: mode e2e, no server processing

	// Set by encryptFiles: what the message content says of an encrypted
	// file (its key, name and type), and whether it is the thumbnail of
	// the attachment before it.
	ref       *mediaRef
	thumbnail bool
}

// add writes a pending message and its outbox row, its uploads and the
// keys of its encrypted files in one transaction, and returns the message:
// a kill at any point leaves either all of it or none (a message whose
// file key were lost would send a file nobody can decrypt).
func (o Outbox) add(ctx context.Context, self Account, conv string, body []byte, files []Attachment, sizes []int64) (*Message, error) {
	now := time.Now()
	m := &Message{
		ConversationID: conv, ClientID: courier.NewID(), SenderID: self.UserID, SenderDeviceID: self.DeviceID,
		Body: body, Time: now, State: MessagePending, Attachments: []string{},
	}
	err := o.s.tx(ctx, func(tx *sql.Tx) error {
		if err := ensureConversation(ctx, tx, conv); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO messages(conversation_id, client_id, sender_id, sender_device_id, body, local_ts, state)
			VALUES(?, ?, ?, ?, ?, ?, 'pending')`, conv, m.ClientID, m.SenderID, m.SenderDeviceID, body, now.UnixNano())
		if err != nil {
			return err
		}
		m.ID, _ = res.LastInsertId()
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox(message_id, conversation_id) VALUES(?, ?)`, m.ID, conv); err != nil {
			return err
		}
		for i, f := range files {
			u := UploadProgress{ID: courier.NewID(), Filename: f.Filename, Size: sizes[i]}
			mode := courier.BlobPlain
			if f.E2E {
				mode = courier.BlobE2E
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO uploads(id, message_id, position, path, filename, content_type, mode, size)
				VALUES(?, ?, ?, ?, ?, ?, ?, ?)`, u.ID, m.ID, i, f.Path, f.Filename, f.ContentType, string(mode), u.Size); err != nil {
				return err
			}
			if err := addMediaKey(ctx, tx, f, u.ID, m.Uploads); err != nil {
				return err
			}
			m.Uploads = append(m.Uploads, u)
		}
		_, err = tx.ExecContext(ctx, `UPDATE conversations SET activity = MAX(activity, ?), last_message = ? WHERE id = ?`,
			now.UnixNano(), m.ID, conv)
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Heads returns the first queued message of every conversation with a
// queue, oldest conversation first. Only a head is ever sent, so a
// conversation's messages go out in the order they were written.
func (o Outbox) Heads(ctx context.Context) ([]OutboxItem, error) {
	rows, err := o.s.db.QueryContext(ctx, `SELECT m.id, m.conversation_id, m.client_id, m.body, m.state, o.attempts
		FROM outbox o JOIN messages m ON m.id = o.message_id
		WHERE o.position IN (SELECT MIN(position) FROM outbox GROUP BY conversation_id)
		ORDER BY o.position`)
	if err != nil {
		return nil, err
	}
	var items []OutboxItem
	for rows.Next() {
		var it OutboxItem
		var state string
		if err := rows.Scan(&it.MessageID, &it.ConversationID, &it.ClientID, &it.Body, &state, &it.Attempts); err != nil {
			rows.Close()
			return nil, err
		}
		it.Failed = state == string(MessageFailed)
		items = append(items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range items {
		if items[i].Uploads, err = o.s.uploads(ctx, items[i].MessageID); err != nil {
			return nil, err
		}
		for _, u := range items[i].Uploads {
			items[i].Attachments = append(items[i].Attachments, u.BlobID)
		}
	}
	return items, nil
}

// Len returns how many messages wait in the outbox.
func (o Outbox) Len(ctx context.Context) (int, error) {
	var n int
	err := o.s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n)
	return n, err
}

// attempted counts a send attempt.
func (o Outbox) attempted(ctx context.Context, messageID int64) error {
	_, err := o.s.exec(ctx, `UPDATE outbox SET attempts = attempts + 1 WHERE message_id = ?`, messageID)
	return err
}

// fail marks the message failed with the server's reason. It stays at the
// head of its conversation's queue, holding back the messages after it.
func (o Outbox) fail(ctx context.Context, messageID int64, reason string) error {
	_, err := o.s.exec(ctx, `UPDATE messages SET state = 'failed', error = ? WHERE id = ? AND state = 'pending'`, reason, messageID)
	return err
}

// retry puts a failed message back to pending, same client ID.
func (o Outbox) retry(ctx context.Context, messageID int64) error {
	res, err := o.s.exec(ctx, `UPDATE messages SET state = 'pending', error = '' WHERE id = ? AND state = 'failed'`, messageID)
	return oneRow(res, err, messageID)
}

// discard deletes a failed message (its outbox row and uploads go with it).
func (o Outbox) discard(ctx context.Context, messageID int64) error {
	res, err := o.s.exec(ctx, `DELETE FROM messages WHERE id = ? AND state = 'failed'`, messageID)
	return oneRow(res, err, messageID)
}

func oneRow(res sql.Result, err error, id int64) error {
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return courier.Errorf(courier.ENOTFOUND, "no failed message %d", id)
	}
	return nil
}

// uploads returns a message's uploads in attachment order.
func (s *Store) uploads(ctx context.Context, messageID int64) ([]UploadProgress, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, filename, size, offset, blob_id, done FROM uploads
		WHERE message_id = ? ORDER BY position`, messageID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UploadProgress
	for rows.Next() {
		var u UploadProgress
		if err := rows.Scan(&u.ID, &u.Filename, &u.Size, &u.Offset, &u.BlobID, &u.Done); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// setAttachments records the blob IDs of a message whose uploads finished.
func setAttachments(ctx context.Context, tx *sql.Tx, messageID int64, blobIDs []string) error {
	b, _ := json.Marshal(nonNil(blobIDs))
	_, err := tx.ExecContext(ctx, `UPDATE messages SET attachments = ? WHERE id = ?`, string(b), messageID)
	return err
}

// addMediaKey keeps the key of an encrypted attachment beside its upload
// (the message content is made from it when the message is sent), and ties
// a thumbnail to the file before it.
func addMediaKey(ctx context.Context, tx *sql.Tx, f Attachment, uploadID string, before []UploadProgress) error {
	if f.ref == nil {
		return nil
	}
	k, _ := json.Marshal(f.ref.MediaKey)
	if _, err := tx.ExecContext(ctx, `INSERT INTO e2e_media(upload_id, key, filename, content_type) VALUES(?, ?, ?, ?)`,
		uploadID, string(k), f.ref.Filename, f.ref.ContentType); err != nil {
		return err
	}
	if !f.thumbnail || len(before) == 0 {
		return nil
	}
	_, err := tx.ExecContext(ctx, `UPDATE e2e_media SET thumbnail_upload = ? WHERE upload_id = ?`, uploadID, before[len(before)-1].ID)
	return err
}
