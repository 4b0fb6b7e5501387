package client

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client/e2e"
)

// mailboxSync asks for the payloads waiting in this device's mailbox,
// page after page; they arrive as mailbox frames (handleMailbox) before
// each answer. It runs before the message sync, so sender keys are in
// place when their messages come.
func (c *Client) mailboxSync(conn *Conn) error {
	var after int64
	for {
		ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
		f, err := conn.Request(ctx, courier.FrameMailboxSync, map[string]any{"after": after})
		cancel()
		if err != nil {
			return err
		}
		var d struct {
			More bool `json:"more"`
		}
		if err := f.Decode(&d); err != nil || !d.More {
			return err
		}
		c.mu.Lock()
		after = c.mailboxSeen
		c.mu.Unlock()
	}
}

// handleMailbox opens a sender key distribution: checks the sender
// device's identity signature, opens the key with the prekey it names,
// keeps the chain (one-time prekeys are deleted once used), unlocks the
// messages that waited for it, and acknowledges the payload. A payload
// that cannot be opened is acknowledged too: it never will be.
func (c *Client) handleMailbox(f Frame) {
	var it courier.MailboxItem
	if f.Decode(&it) != nil || it.DeviceID != c.acct.DeviceID {
		return
	}
	c.mu.Lock()
	c.mailboxSeen = max(c.mailboxSeen, it.ID)
	c.mu.Unlock()
	chain, err := c.openDistribution(&it)
	if courier.ErrorCode(err) == courier.EUNAVAILABLE || courier.ErrorCode(err) == courier.ERATELIMIT {
		c.warn("client: mailbox: sender identity", "err", err)
		return // not acknowledged: it comes again at the next connect
	} else if err != nil {
		c.warn("client: mailbox: payload refused", "sender_device_id", it.SenderDeviceID, "err", err)
	}
	if err := c.api.do(c.ctx, http.MethodPost, "/v1/mailbox/ack", map[string]any{"ids": []int64{it.ID}}, nil); err != nil {
		c.warn("client: mailbox ack", "err", err)
	}
	if chain != nil {
		c.unlock(chain)
	}
}

func (c *Client) openDistribution(it *courier.MailboxItem) (*e2e.ReceiverChain, error) {
	conv, sealed, err := e2e.OpenDistribution(it.Payload)
	if err != nil {
		return nil, err
	}
	kem, keyID, err := e2e.SealedPrekey(sealed)
	if err != nil {
		return nil, err
	}
	var priv []byte
	var kind int
	err = c.store.db.QueryRowContext(c.ctx, `SELECT private, kind FROM e2e_prekeys WHERE kem = ? AND key_id = ?`,
		int(kem), keyID).Scan(&priv, &kind)
	if err == sql.ErrNoRows {
		return nil, errors.New("sealed to a prekey this device does not hold (used already?)")
	} else if err != nil {
		return nil, err
	}
	sk, err := e2e.PrivateKey(kem, priv)
	if err != nil {
		return nil, err
	}
	identity, err := c.identityOf(c.ctx, it.SenderID, it.SenderDeviceID)
	if err != nil {
		return nil, err
	}
	key, err := e2e.OpenSenderKey(sealed, conv, it.SenderDeviceID, c.acct.DeviceID, identity, sk)
	if err != nil {
		return nil, err
	}
	chain := e2e.NewReceiverChain(conv, it.SenderDeviceID, key)
	err = c.store.tx(c.ctx, func(tx *sql.Tx) error {
		// A repeat keeps the chain as it stands: starting it over would
		// bring back the keys of messages already read.
		if have, err := receiverChain(c.ctx, tx, conv, it.SenderDeviceID, key.ChainID[:]); err != nil || have != nil {
			return err
		}
		if courier.PrekeyKind(kind) == courier.PrekeyOneTime {
			if _, err := tx.ExecContext(c.ctx, `DELETE FROM e2e_prekeys WHERE kem = ? AND key_id = ?`, int(kem), keyID); err != nil {
				return err
			}
		}
		return saveReceiverChain(c.ctx, tx, chain)
	})
	return chain, err
}

// decryptIn turns a message of an encrypted conversation into what the
// store keeps, in the transaction that stores it: the text, with the keys
// of its attachments recorded, or a locked message (its envelope kept
// when its sender key may still come).
func (c *Client) decryptIn(ctx context.Context, tx *sql.Tx, m *courier.Message) (_ *courier.Message, waiting []byte, err error) {
	out := *m
	out.Body = nil
	if m.SenderDeviceID == c.acct.DeviceID {
		return &out, nil, nil // own: the outbox row holds the text; a copy from before a reinstall stays locked
	}
	chainID, ferr := e2e.EnvelopeChainID(m.Body)
	if ferr != nil {
		return &out, nil, nil
	}
	r, err := receiverChain(ctx, tx, m.ConversationID, m.SenderDeviceID, chainID[:])
	if err != nil || r == nil {
		return &out, m.Body, err
	}
	pt, derr := r.Decrypt(m.Body)
	if derr != nil {
		// Sent before this device had the chain, or a replay: never readable.
		return &out, nil, nil
	}
	var ct content
	if err := json.Unmarshal(pt, &ct); err != nil {
		return &out, nil, saveReceiverChain(ctx, tx, r)
	}
	if err := saveMedia(ctx, tx, ct.Media); err != nil {
		return nil, nil, err
	}
	out.Body = ct.Text
	if out.Body == nil {
		out.Body = []byte{}
	}
	out.Attachments = ct.fileBlobs(m.Attachments)
	return &out, nil, saveReceiverChain(ctx, tx, r)
}

// lock marks a stored message locked, keeping its envelope when it may
// open later.
func lock(ctx context.Context, tx *sql.Tx, id int64, m *courier.Message, envelope []byte) error {
	if _, err := tx.ExecContext(ctx, `UPDATE messages SET locked = 1 WHERE id = ?`, id); err != nil || envelope == nil {
		return err
	}
	chainID, _ := e2e.EnvelopeChainID(envelope)
	_, err := tx.ExecContext(ctx, `INSERT INTO e2e_locked(message_id, conversation_id, sender_device_id, chain_id, envelope)
		VALUES(?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, id, m.ConversationID, m.SenderDeviceID, chainID[:], envelope)
	return err
}

// unlock opens the locked messages of a chain whose key just arrived and
// tells the UI of each.
func (c *Client) unlock(r *e2e.ReceiverChain) {
	var opened []int64
	chainID := r.ChainID()
	err := c.store.tx(c.ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(c.ctx, `SELECT l.message_id, m.seq, m.conversation_id, m.sender_id, m.sender_device_id, m.attachments, l.envelope
			FROM e2e_locked l JOIN messages m ON m.id = l.message_id
			WHERE l.conversation_id = ? AND l.sender_device_id = ? AND l.chain_id = ? ORDER BY m.seq`,
			r.ConversationID, r.SenderDeviceID, chainID[:])
		if err != nil {
			return err
		}
		type lockedMsg struct {
			id int64
			m  courier.Message
		}
		var locked []lockedMsg
		for rows.Next() {
			var l lockedMsg
			var atts string
			if err := rows.Scan(&l.id, &l.m.Seq, &l.m.ConversationID, &l.m.SenderID, &l.m.SenderDeviceID, &atts, &l.m.Body); err != nil {
				rows.Close()
				return err
			}
			json.Unmarshal([]byte(atts), &l.m.Attachments)
			locked = append(locked, l)
		}
		rows.Close()
		for _, l := range locked {
			out, _, err := c.decryptIn(c.ctx, tx, &l.m)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(c.ctx, `DELETE FROM e2e_locked WHERE message_id = ?`, l.id); err != nil {
				return err
			}
			if out.Body == nil {
				continue // stays locked
			}
			atts, _ := json.Marshal(nonNil(out.Attachments))
			if _, err := tx.ExecContext(c.ctx, `UPDATE messages SET body = ?, attachments = ?, locked = 0 WHERE id = ?`,
				out.Body, string(atts), l.id); err != nil {
				return err
			}
			opened = append(opened, l.id)
		}
		return nil
	})
	if err != nil {
		c.warn("client: unlock messages", "err", err)
		return
	}
	for _, id := range opened {
		if msg, err := c.store.Message(c.ctx, c.acct.UserID, id); err == nil {
			c.events.emit(MessageEvent{Message: *msg})
		}
	}
}

// variantDecrypted names the decrypted original of an encrypted blob in
// the media cache.
const variantDecrypted = "decrypted"

// downloadDecrypted fetches an encrypted blob (cached as ciphertext) and
// decrypts it whole, checking its digest, into a cached plaintext file.
func (c *Client) downloadDecrypted(ctx context.Context, blobID string, key *e2e.MediaKey) (string, error) {
	var p string
	err := c.store.db.QueryRowContext(ctx, `SELECT path FROM media_cache WHERE blob_id = ? AND variant = ?`, blobID, variantDecrypted).Scan(&p)
	if err == nil {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	enc, err := c.download(ctx, blobID, "")
	if err != nil {
		return "", err
	}
	cipher, err := os.ReadFile(enc)
	if err != nil {
		return "", err
	}
	plain, err := e2e.DecryptMedia(key, cipher)
	if err != nil {
		return "", courier.Errorf(courier.EINVALID, "blob %s does not decrypt with the key its message gave: %v", blobID, err)
	}
	p = filepath.Join(c.cfg.MediaDir, blobID+"."+variantDecrypted)
	if err := os.WriteFile(p, plain, 0o600); err != nil {
		return "", err
	}
	_, err = c.store.exec(ctx, `INSERT INTO media_cache(blob_id, variant, path, size, used_at) VALUES(?, ?, ?, ?, ?)
		ON CONFLICT(blob_id, variant) DO UPDATE SET path = excluded.path, size = excluded.size, used_at = excluded.used_at`,
		blobID, variantDecrypted, p, len(plain), time.Now().UnixNano())
	return p, err
}
