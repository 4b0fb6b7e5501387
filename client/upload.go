package client

import (
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/courier-chat/courier"
)

// startUploads runs the uploads of an outbox message in the background,
// once per message at a time; when they all finished the sender is woken.
func (c *Client) startUploads(messageID int64) {
	c.mu.Lock()
	running := c.uploads[messageID]
	c.uploads[messageID] = true
	c.mu.Unlock()
	if running {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() {
			c.mu.Lock()
			delete(c.uploads, messageID)
			c.mu.Unlock()
		}()
		for attempt := 0; c.ctx.Err() == nil; attempt++ {
			err := c.uploadAll(messageID)
			if err == nil {
				c.wake()
				return
			}
			code := courier.ErrorCode(err)
			if code == courier.EINVALID || code == courier.ETOOLARGE || code == courier.EFORBIDDEN {
				reason := "upload: " + code + ": " + courier.ErrorMessage(err)
				if c.store.Outbox().fail(c.ctx, messageID, reason) == nil {
					c.events.emit(StateEvent{MessageID: messageID, State: MessageFailed, Error: reason})
				}
				return
			}
			if c.ctx.Err() != nil {
				return
			}
			c.log.Info("client: upload interrupted; resuming", "message_id", messageID, "err", err)
			select {
			case <-time.After(c.backoff(attempt)):
			case <-c.ctx.Done():
			}
		}
	}()
}

// uploadAll uploads every unfinished attachment of a message in turn and
// then records the blob IDs on the message.
func (c *Client) uploadAll(messageID int64) error {
	rows, err := c.store.db.QueryContext(c.ctx, `SELECT id, path, filename, content_type, mode, size, location, offset, done
		FROM uploads WHERE message_id = ? ORDER BY position`, messageID)
	if err != nil {
		return err
	}
	var ups []upload
	for rows.Next() {
		var u upload
		if err := rows.Scan(&u.id, &u.path, &u.filename, &u.contentType, &u.mode, &u.size, &u.location, &u.offset, &u.done); err != nil {
			rows.Close()
			return err
		}
		ups = append(ups, u)
	}
	rows.Close()
	// Thumbnails go up as attachments (the server's download rule needs
	// them listed), but the message shows its files.
	thumbs, err := c.store.strings(c.ctx, `SELECT thumbnail_upload FROM e2e_media
		WHERE thumbnail_upload <> '' AND upload_id IN (SELECT id FROM uploads WHERE message_id = ?)`, messageID)
	if err != nil {
		return err
	}
	var blobIDs []string
	for i := range ups {
		if !ups[i].done {
			if err := c.upload(&ups[i]); err != nil {
				return err
			}
		}
		if !slices.Contains(thumbs, ups[i].id) {
			blobIDs = append(blobIDs, path.Base(ups[i].location))
		}
	}
	return c.store.tx(c.ctx, func(tx *sql.Tx) error { return setAttachments(c.ctx, tx, messageID, blobIDs) })
}

// upload is one attachment's row.
type upload struct {
	id, path, filename, contentType, mode string
	size, offset                          int64
	location                              string
	done                                  bool
}

// upload sends one file with tus: a creation that carries the first chunk
// (creation-with-upload) with the attachment's ID as idempotency key, so a
// creation retried after a kill answers with the first one's URL and
// offset; then PATCHes from the offset the server holds (HEAD), so a
// resumed upload sends only what is missing. Progress is saved after every
// chunk.
func (c *Client) upload(u *upload) error {
	f, err := os.Open(u.path)
	if err != nil {
		return courier.Errorf(courier.EINVALID, "attachment %s: %v", u.filename, err)
	}
	defer f.Close()
	if u.location != "" {
		off, err := c.tusOffset(u.location)
		if courier.ErrorCode(err) == courier.ENOTFOUND {
			u.location, u.offset = "", 0 // expired or cancelled: the key makes a new one
		} else if err != nil {
			return err
		} else {
			u.offset = off
		}
	}
	for u.location == "" || u.offset < u.size {
		n := min(c.cfg.UploadChunk, u.size-u.offset)
		if _, err := f.Seek(u.offset, io.SeekStart); err != nil {
			return err
		}
		var req *http.Request
		if u.location == "" {
			req, err = http.NewRequestWithContext(c.ctx, http.MethodPost, strings.TrimSuffix(c.acct.URL, "/")+"/v1/uploads/", io.LimitReader(f, n))
			if err != nil {
				return err
			}
			req.Header.Set("Upload-Length", strconv.FormatInt(u.size, 10))
			req.Header.Set("Upload-Metadata", tusMetadata(map[string]string{
				"filename": u.filename, "filetype": u.contentType, "mode": u.mode, "idempotency-key": u.id}))
		} else {
			req, err = http.NewRequestWithContext(c.ctx, http.MethodPatch, u.location, io.LimitReader(f, n))
			if err != nil {
				return err
			}
			req.Header.Set("Upload-Offset", strconv.FormatInt(u.offset, 10))
		}
		req.ContentLength = n
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		resp, err := c.tusDo(req)
		if err != nil {
			return err
		}
		if u.location == "" {
			loc, err := resolve(c.acct.URL, resp.Header.Get("Location"))
			if err != nil {
				return err
			}
			u.location = loc
		}
		if off, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64); err == nil {
			u.offset = off
		}
		if _, err := c.store.exec(c.ctx, `UPDATE uploads SET location = ?, blob_id = ?, offset = ? WHERE id = ?`,
			u.location, path.Base(u.location), u.offset, u.id); err != nil {
			return err
		}
		c.events.emit(MediaEvent{BlobID: path.Base(u.location), State: "uploading", Offset: u.offset, Size: u.size, UploadID: u.id})
	}
	u.done = true
	if _, err = c.store.exec(c.ctx, `UPDATE uploads SET done = 1 WHERE id = ?`, u.id); err != nil {
		return err
	}
	// The server holds the bytes: an encrypted copy made for the upload
	// has served its purpose (the sender reads its file back by blob ID).
	c.removeIfOutgoing(u.path)
	return nil
}

// tusOffset asks the server how many bytes of an upload it holds.
func (c *Client) tusOffset(location string) (int64, error) {
	req, err := http.NewRequestWithContext(c.ctx, http.MethodHead, location, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.tusDo(req)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
}

// tusDo sends a tus request with the token and returns a 2xx answer with
// its body drained, or the error the answer carries.
func (c *Client) tusDo(req *http.Request) (*http.Response, error) {
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+c.acct.Token)
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, courier.Unavailable("server", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		io.Copy(io.Discard, resp.Body)
		return nil, courier.Errorf(courier.ENOTFOUND, "upload %s is gone", req.URL.Path)
	}
	if resp.StatusCode >= 300 {
		if resp.StatusCode == http.StatusConflict || resp.StatusCode == 460 {
			// A wrong offset (or a checksum mismatch): ask again and resume.
			return nil, courier.Errorf(courier.EUNAVAILABLE, "upload %s: %s", req.URL.Path, resp.Status)
		}
		return nil, responseError(resp)
	}
	io.Copy(io.Discard, resp.Body)
	return resp, nil
}

// tusMetadata encodes Upload-Metadata: key and base64 value pairs.
func tusMetadata(kv map[string]string) string {
	var parts []string
	for _, k := range []string{"filename", "filetype", "mode", "idempotency-key"} {
		if v, ok := kv[k]; ok && v != "" {
			parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(v)))
		}
	}
	return strings.Join(parts, ",")
}

// resolve makes a Location header absolute against the server's URL.
func resolve(base, loc string) (string, error) {
	if loc == "" {
		return "", fmt.Errorf("client: upload created without a Location")
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	l, err := url.Parse(loc)
	if err != nil {
		return "", err
	}
	return b.ResolveReference(l).String(), nil
}
