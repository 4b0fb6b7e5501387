package client

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/client/e2e"
)

// encryptItem returns the envelope to send for an outbox message of an
// encrypted conversation and the recipient devices it is for. The chain
// is started (and its key sealed to every recipient device through the
// mailbox) when there is none or it is due for rotation, and saved past
// the message's key before anything is sent, so no key is ever used twice.
func (c *Client) encryptItem(ctx context.Context, it OutboxItem) ([]byte, []string, error) {
	plaintext, err := c.content(ctx, it)
	if err != nil {
		return nil, nil, err
	}
	var chain *e2e.SenderChain
	var recips []string
	if err := c.store.tx(ctx, func(tx *sql.Tx) (err error) {
		chain, recips, err = senderChain(ctx, tx, it.ConversationID)
		return err
	}); err != nil {
		return nil, nil, err
	}
	if chain == nil || chain.NeedsRotation(time.Now(), recips) {
		if chain, err = c.newChain(ctx, it.ConversationID, recips); err != nil {
			return nil, nil, err
		}
	}
	env := chain.Encrypt(it.ConversationID, c.acct.DeviceID, plaintext)
	err = c.store.tx(ctx, func(tx *sql.Tx) error {
		return saveSenderChain(ctx, tx, it.ConversationID, chain, chain.Recipients)
	})
	return env, chain.Recipients, err
}

// content is the plaintext of an outbox message: its text and, for each
// attached file, the blob, file key, name and type, and its thumbnail's.
func (c *Client) content(ctx context.Context, it OutboxItem) ([]byte, error) {
	ct := content{Text: it.Body}
	err := c.store.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT u.id, u.blob_id, e.key, e.filename, e.content_type, e.thumbnail_upload
			FROM uploads u JOIN e2e_media e ON e.upload_id = u.id WHERE u.message_id = ? ORDER BY u.position`, it.MessageID)
		if err != nil {
			return err
		}
		defer rows.Close()
		byUpload := map[string]*mediaRef{}
		var files []*mediaRef
		thumbOf := map[*mediaRef]string{}
		for rows.Next() {
			r := &mediaRef{}
			var upload, key, thumb string
			if err := rows.Scan(&upload, &r.BlobID, &key, &r.Filename, &r.ContentType, &thumb); err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(key), &r.MediaKey); err != nil {
				return err
			}
			byUpload[upload] = r
			files = append(files, r)
			if thumb != "" {
				thumbOf[r] = thumb
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		// A thumbnail is an upload of its own, named by its file's row.
		thumbs := map[*mediaRef]bool{}
		for r, thumb := range thumbOf {
			r.Thumbnail = byUpload[thumb]
			thumbs[r.Thumbnail] = true
		}
		for _, r := range files {
			if !thumbs[r] {
				ct.Media = append(ct.Media, *r)
			}
		}
		// The sender reads its own attachments (and their thumbnails) by
		// blob ID too.
		_, err = tx.ExecContext(ctx, `UPDATE e2e_media SET
				blob_id = (SELECT blob_id FROM uploads WHERE uploads.id = e2e_media.upload_id),
				thumbnail_blob = COALESCE((SELECT blob_id FROM uploads WHERE uploads.id = e2e_media.thumbnail_upload), '')
			WHERE upload_id IN (SELECT id FROM uploads WHERE message_id = ?)`, it.MessageID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(ct)
}

// newChain starts a chain for recipient devices recips and seals its key
// to each of them through their mailboxes. Devices whose keys cannot be
// had are left out; the server then names them missing, and the next
// chain tries them again.
func (c *Client) newChain(ctx context.Context, conv string, recips []string) (*e2e.SenderChain, error) {
	id, err := c.identity(ctx)
	if err != nil {
		return nil, err
	}
	bundles, err := c.bundles(ctx, conv, recips)
	if err != nil {
		return nil, err
	}
	chain := e2e.NewSenderChain()
	key := chain.Key()
	var items []courier.MailboxPut
	for _, d := range bundles {
		to := d.Prekey // a one-time key, or the last-resort key
		if to == nil {
			to = d.SignedPrekey
		}
		if to == nil {
			continue
		}
		sealed, err := id.SealSenderKey(conv, c.acct.DeviceID, d.DeviceID, to, key)
		if err != nil {
			return nil, fmt.Errorf("client: seal a sender key: %w", err)
		}
		items = append(items, courier.MailboxPut{DeviceID: d.DeviceID, Payload: e2e.Distribution(conv, sealed)})
		chain.Recipients = append(chain.Recipients, d.DeviceID)
	}
	for len(items) > 0 {
		n := min(len(items), courier.MaxMailboxBatch)
		if err := c.api.do(ctx, http.MethodPost, "/v1/mailbox", map[string]any{"items": items[:n]}, nil); err != nil {
			return nil, err
		}
		items = items[n:]
	}
	slices.Sort(chain.Recipients)
	return chain, nil
}

// bundles claims keys for the recipient devices: from the users known to
// own them, or from every member when some device is new here.
func (c *Client) bundles(ctx context.Context, conv string, recips []string) ([]courier.DeviceKeys, error) {
	if len(recips) == 0 {
		return nil, nil
	}
	owner := map[string]string{}
	rows, err := c.store.db.QueryContext(ctx, `SELECT device_id, user_id FROM e2e_devices`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var d, u string
		rows.Scan(&d, &u)
		owner[d] = u
	}
	rows.Close()
	users := map[string]bool{}
	for _, d := range recips {
		if u, ok := owner[d]; ok {
			users[u] = true
			continue
		}
		// A device never seen: ask every member's keys.
		if err := c.refreshConversation(ctx, conv); err != nil {
			return nil, err
		}
		members, err := c.store.Members(ctx, conv)
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			users[m.UserID] = true
		}
		break
	}
	var out []courier.DeviceKeys
	for _, u := range slices.Sorted(func(yield func(string) bool) {
		for u := range users {
			if !yield(u) {
				return
			}
		}
	}) {
		devs, err := c.fetchKeys(ctx, u, "")
		if err != nil {
			return nil, err
		}
		for _, d := range devs {
			if slices.Contains(recips, d.DeviceID) {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// recipientsChanged takes a refused send's device lists: the chain is
// dropped (a removed device holds its key; an added one must get a new
// one) and the next one is sealed to the devices the server named.
func (c *Client) recipientsChanged(ctx context.Context, conv string, d *courier.DeviceMismatch) error {
	return c.store.tx(ctx, func(tx *sql.Tx) error {
		_, recips, err := senderChain(ctx, tx, conv)
		if err != nil {
			return err
		}
		recips = slices.DeleteFunc(append(recips, d.Missing...), func(id string) bool { return slices.Contains(d.Extra, id) })
		slices.Sort(recips)
		return saveSenderChain(ctx, tx, conv, nil, slices.Compact(recips))
	})
}

// encryptFiles encrypts the files of a message to an encrypted
// conversation into MediaDir/outgoing and returns the attachments to
// upload instead (mode e2e, no name or type the server could read), each
// with what the message content will say of it; a picture is followed by
// its encrypted thumbnail, while the message has room for it. The files
// are removed once uploaded (or, after a crash, at the next New).
func (c *Client) encryptFiles(files []Attachment) (_ []Attachment, err error) {
	dir := c.outgoingDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	var out []Attachment
	defer func() {
		if err != nil {
			removeOutgoing(out)
		}
	}()
	room := courier.MaxAttachments - len(files)
	for _, f := range files {
		in, err := os.Open(f.Path)
		if err != nil {
			return nil, courier.Errorf(courier.EINVALID, "attachment: %v", err)
		}
		st, err := in.Stat()
		if err == nil {
			var a Attachment
			a, err = encryptOutgoing(dir, in, st.Size(), mediaRef{Filename: f.Filename, ContentType: f.ContentType})
			out = append(out, a)
		}
		in.Close()
		if err != nil {
			return nil, fmt.Errorf("client: encrypt %s: %w", f.Path, err)
		}
		if room == 0 {
			continue
		}
		if thumb, ok := makeThumbnail(f.Path); ok {
			a, err := encryptOutgoing(dir, bytes.NewReader(thumb), int64(len(thumb)), mediaRef{ContentType: "image/jpeg"})
			if err != nil {
				return nil, fmt.Errorf("client: encrypt a thumbnail: %w", err)
			}
			a.thumbnail = true
			out = append(out, a)
			room--
		}
	}
	return out, nil
}

// encryptOutgoing encrypts size bytes from r with a new file key into a
// new file of dir, and returns it as an attachment carrying ref and the
// key.
func encryptOutgoing(dir string, r io.Reader, size int64, ref mediaRef) (Attachment, error) {
	ref.MediaKey = e2e.NewMediaKey()
	ref.Size = size
	tmp, err := os.CreateTemp(dir, "*.enc")
	if err != nil {
		return Attachment{}, err
	}
	a := Attachment{Path: tmp.Name(), Filename: "encrypted", ContentType: "application/octet-stream", E2E: true, ref: &ref}
	err = e2e.EncryptMedia(&ref.MediaKey, r, tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return a, err
}

// encrypted reports whether a conversation is end-to-end encrypted,
// fetching its details the first time: never a guess, so nothing meant
// for an encrypted conversation goes out plain. A client without
// Encryption treats every conversation as plain.
func (c *Client) encrypted(ctx context.Context, conv string) (bool, error) {
	if !c.cfg.Encryption {
		return false, nil
	}
	enc, known, err := conversationEncrypted(ctx, c.store.db, conv)
	if err == nil && !known {
		if err = c.refreshConversation(ctx, conv); err == nil {
			enc, _, err = conversationEncrypted(ctx, c.store.db, conv)
		}
	}
	return enc, err
}
