package client

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client/e2e"
)

// e2eSchema is the store's second migration: what end-to-end encryption
// keeps on the device. Private keys and chain keys never leave it.
const e2eSchema = `
	ALTER TABLE conversations ADD COLUMN encrypted INTEGER NOT NULL DEFAULT 0;
	-- locked: a message of an encrypted conversation not (yet) readable here.
	ALTER TABLE messages ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;
	-- The private halves of this device's prekeys (kind as courier.PrekeyKind);
	-- a one-time key is deleted once a sender key sealed to it was opened.
	CREATE TABLE e2e_prekeys (
		kem     INTEGER NOT NULL,
		key_id  INTEGER NOT NULL,
		kind    INTEGER NOT NULL,
		private BLOB NOT NULL,
		PRIMARY KEY (kem, key_id)
	);
	-- Other devices' identity keys as first seen: a device's identity is
	-- set for its life, so a different one served later is refused.
	CREATE TABLE e2e_devices (
		device_id    TEXT PRIMARY KEY,
		user_id      TEXT NOT NULL,
		identity_key BLOB NOT NULL
	);
	-- This device's sending chain per conversation, and the recipient
	-- devices it was sealed to (JSON), kept when the chain is dropped so the
	-- next chain starts from them.
	CREATE TABLE e2e_sender_chains (
		conversation_id TEXT PRIMARY KEY,
		state           BLOB,
		recipients      TEXT NOT NULL DEFAULT '[]'
	);
	CREATE TABLE e2e_receiver_chains (
		conversation_id  TEXT NOT NULL,
		sender_device_id TEXT NOT NULL,
		chain_id         BLOB NOT NULL,
		state            BLOB NOT NULL,
		PRIMARY KEY (conversation_id, sender_device_id, chain_id)
	);
	-- Envelopes of locked messages, opened when their sender key arrives.
	CREATE TABLE e2e_locked (
		message_id       INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
		conversation_id  TEXT NOT NULL,
		sender_device_id TEXT NOT NULL,
		chain_id         BLOB NOT NULL,
		envelope         BLOB NOT NULL
	);
	CREATE INDEX e2e_locked_chain ON e2e_locked(conversation_id, sender_device_id, chain_id);
	-- What an attachment of an encrypted message is: its file key (and
	-- name and type, which travel only inside the message). upload_id is
	-- set for own attachments until sent; blob_id once known.
	CREATE TABLE e2e_media (
		upload_id    TEXT UNIQUE,
		blob_id      TEXT UNIQUE,
		key          TEXT NOT NULL,
		filename     TEXT NOT NULL DEFAULT '',
		content_type TEXT NOT NULL DEFAULT ''
	);`

// e2eThumbnailSchema is the store's third migration: a photo sent to an
// encrypted conversation carries its thumbnail as a second encrypted blob
// (thumbnail.go). A file's row names its thumbnail's: by upload ID while
// an own message waits to be sent, by blob ID once that is known.
const e2eThumbnailSchema = `
	ALTER TABLE e2e_media ADD COLUMN thumbnail_upload TEXT NOT NULL DEFAULT '';
	ALTER TABLE e2e_media ADD COLUMN thumbnail_blob TEXT NOT NULL DEFAULT '';`

// mediaRef is one attachment as an encrypted message describes it, inside
// its ciphertext: the blob, its file key, what the file is, and its
// encrypted thumbnail when it has one.
type mediaRef struct {
	BlobID string `json:"blob_id"`
	e2e.MediaKey
	Filename    string    `json:"filename,omitempty"`
	ContentType string    `json:"content_type,omitempty"`
	Thumbnail   *mediaRef `json:"thumbnail,omitempty"`
}

// content is the plaintext of an encrypted message (docs/e2e.md,
// "Message content"): JSON, padded and sealed by the chain.
type content struct {
	Text  []byte     `json:"text,omitempty"`
	Media []mediaRef `json:"media,omitempty"`
}

// saveMedia records the keys of an encrypted message's attachments and
// of their thumbnails, so Download and Thumbnail can decrypt them.
func saveMedia(ctx context.Context, tx *sql.Tx, refs []mediaRef) error {
	for _, r := range refs {
		var thumb string
		if t := r.Thumbnail; t != nil && courier.ValidID(t.BlobID) {
			thumb = t.BlobID
			if err := saveMediaKey(ctx, tx, t, ""); err != nil {
				return err
			}
		}
		if err := saveMediaKey(ctx, tx, &r, thumb); err != nil {
			return err
		}
	}
	return nil
}

func saveMediaKey(ctx context.Context, tx *sql.Tx, r *mediaRef, thumbnail string) error {
	k, _ := json.Marshal(r.MediaKey)
	_, err := tx.ExecContext(ctx, `INSERT INTO e2e_media(blob_id, key, filename, content_type, thumbnail_blob) VALUES(?, ?, ?, ?, ?)
		ON CONFLICT(blob_id) DO NOTHING`, r.BlobID, string(k), r.Filename, r.ContentType, thumbnail)
	return err
}

// fileBlobs returns the blob IDs of a message's attachments that its
// content describes as files, in its order: its attachments less the
// thumbnails, which the UI shows through Thumbnail.
func (ct *content) fileBlobs(attachments []string) []string {
	if len(ct.Media) == 0 {
		return attachments
	}
	out := []string{}
	for _, r := range ct.Media {
		if slices.Contains(attachments, r.BlobID) {
			out = append(out, r.BlobID)
		}
	}
	return out
}

// mediaKey returns the key of an encrypted blob, or nil for a plain one.
func (s *Store) mediaKey(ctx context.Context, blobID string) (*e2e.MediaKey, error) {
	var k string
	err := s.db.QueryRowContext(ctx, `SELECT key FROM e2e_media WHERE blob_id = ?`, blobID).Scan(&k)
	if err == sql.ErrNoRows {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var m e2e.MediaKey
	return &m, json.Unmarshal([]byte(k), &m)
}

// conversationEncrypted reports a conversation's flag, and whether its
// details are known at all.
func conversationEncrypted(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) (encrypted, known bool, err error) {
	err = q.QueryRowContext(ctx, `SELECT encrypted, known FROM conversations WHERE id = ?`, id).Scan(&encrypted, &known)
	if err == sql.ErrNoRows {
		return false, false, nil
	}
	return encrypted, known, err
}

// senderChain loads this device's chain of a conversation (nil when it
// has none) and the recipient devices last used there.
func senderChain(ctx context.Context, tx *sql.Tx, conv string) (*e2e.SenderChain, []string, error) {
	var state []byte
	var recips string
	err := tx.QueryRowContext(ctx, `SELECT state, recipients FROM e2e_sender_chains WHERE conversation_id = ?`, conv).
		Scan(&state, &recips)
	if err == sql.ErrNoRows {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	var devices []string
	json.Unmarshal([]byte(recips), &devices)
	if state == nil {
		return nil, devices, nil
	}
	c, err := e2e.UnmarshalSenderChain(state)
	if err != nil {
		return nil, devices, err
	}
	c.Recipients = devices
	return c, devices, nil
}

// saveSenderChain stores a chain (nil drops it, keeping recipients).
func saveSenderChain(ctx context.Context, tx *sql.Tx, conv string, c *e2e.SenderChain, recipients []string) error {
	var state []byte
	if c != nil {
		state, _ = c.MarshalBinary()
	}
	r, _ := json.Marshal(nonNil(recipients))
	_, err := tx.ExecContext(ctx, `INSERT INTO e2e_sender_chains(conversation_id, state, recipients) VALUES(?, ?, ?)
		ON CONFLICT(conversation_id) DO UPDATE SET state = excluded.state, recipients = excluded.recipients`,
		conv, state, string(r))
	return err
}

// receiverChain loads the chain a message names, or nil.
func receiverChain(ctx context.Context, tx *sql.Tx, conv, device string, chainID []byte) (*e2e.ReceiverChain, error) {
	var state []byte
	err := tx.QueryRowContext(ctx, `SELECT state FROM e2e_receiver_chains
		WHERE conversation_id = ? AND sender_device_id = ? AND chain_id = ?`, conv, device, chainID).Scan(&state)
	if err == sql.ErrNoRows {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return e2e.UnmarshalReceiverChain(state)
}

func saveReceiverChain(ctx context.Context, tx *sql.Tx, r *e2e.ReceiverChain) error {
	state, _ := r.MarshalBinary()
	id := r.ChainID()
	_, err := tx.ExecContext(ctx, `INSERT INTO e2e_receiver_chains(conversation_id, sender_device_id, chain_id, state)
		VALUES(?, ?, ?, ?) ON CONFLICT(conversation_id, sender_device_id, chain_id) DO UPDATE SET state = excluded.state`,
		r.ConversationID, r.SenderDeviceID, id[:], state)
	return err
}
