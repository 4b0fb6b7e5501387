package client

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/courier-chat/courier"
)

// applyMedia stores what media.ready or media.failed says of a blob of
// this user and tells the UI.
func (c *Client) applyMedia(f Frame) {
	var b courier.Blob
	if f.Decode(&b) != nil || b.ID == "" {
		return
	}
	if _, err := c.store.exec(c.ctx, `INSERT INTO blobs(id, state, info) VALUES(?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET state = excluded.state, info = excluded.info`, b.ID, string(b.State), string(f.Data)); err != nil {
		c.warn("client: store blob", "err", err)
	}
	c.events.emit(MediaEvent{BlobID: b.ID, State: string(b.State), Size: b.Size, Reason: b.FailReason})
}

// Blob returns what the client knows of a blob: from the store when
// media.ready or an earlier call told it, else from the server
// (GET /v1/media/{id}/info), which is then stored.
func (c *Client) Blob(ctx context.Context, blobID string) (*courier.Blob, error) {
	var info string
	err := c.store.db.QueryRowContext(ctx, `SELECT info FROM blobs WHERE id = ? AND state IN ('ready', 'failed')`, blobID).Scan(&info)
	if err == nil {
		var b courier.Blob
		return &b, json.Unmarshal([]byte(info), &b)
	} else if err != sql.ErrNoRows {
		return nil, err
	}
	var b courier.Blob
	if err := c.api.do(ctx, http.MethodGet, "/v1/media/"+blobID+"/info", nil, &b); err != nil {
		return nil, err
	}
	raw, _ := json.Marshal(b)
	c.store.exec(ctx, `INSERT INTO blobs(id, state, info) VALUES(?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET state = excluded.state, info = excluded.info`, b.ID, string(b.State), string(raw))
	return &b, nil
}

// Download returns a local file holding the blob's variant ("" for the
// original): from the media cache when it was downloaded before, else
// fetched once and cached. Blob bytes never change, so a cached file is
// never stale.
//
// The original of an encrypted attachment is decrypted (and its digest
// checked) into a file of its own: the path returned holds the plaintext.
func (c *Client) Download(ctx context.Context, blobID, variant string) (string, error) {
	if !courier.ValidID(blobID) || strings.ContainsAny(variant, "/.") {
		return "", courier.Errorf(courier.EINVALID, "bad blob ID or variant")
	}
	if variant == "" {
		if key, err := c.store.mediaKey(ctx, blobID); err != nil {
			return "", err
		} else if key != nil {
			return c.downloadDecrypted(ctx, blobID, key)
		}
	}
	return c.download(ctx, blobID, variant)
}

func (c *Client) download(ctx context.Context, blobID, variant string) (string, error) {
	var p string
	err := c.store.db.QueryRowContext(ctx, `SELECT path FROM media_cache WHERE blob_id = ? AND variant = ?`, blobID, variant).Scan(&p)
	if err == nil {
		if _, err := os.Stat(p); err == nil {
			c.store.exec(ctx, `UPDATE media_cache SET used_at = ? WHERE blob_id = ? AND variant = ?`, time.Now().UnixNano(), blobID, variant)
			return p, nil
		}
	}
	u := "/v1/media/" + blobID
	if variant != "" {
		u += "/" + variant
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.acct.URL, "/")+u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.acct.Token)
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", courier.Unavailable("server", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", responseError(resp)
	}
	if err := os.MkdirAll(c.cfg.MediaDir, 0o700); err != nil {
		return "", err
	}
	name := blobID
	if variant != "" {
		name += "." + variant
	}
	p = filepath.Join(c.cfg.MediaDir, name)
	// Write beside, then rename: a kill mid-download leaves no partial
	// file under the cached name.
	tmp, err := os.CreateTemp(c.cfg.MediaDir, name+".*.part")
	if err != nil {
		return "", err
	}
	n, err := io.Copy(tmp, resp.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", courier.Unavailable("server", err)
	}
	_, err = c.store.exec(ctx, `INSERT INTO media_cache(blob_id, variant, path, size, used_at) VALUES(?, ?, ?, ?, ?)
		ON CONFLICT(blob_id, variant) DO UPDATE SET path = excluded.path, size = excluded.size, used_at = excluded.used_at`,
		blobID, variant, p, n, time.Now().UnixNano())
	return p, err
}
