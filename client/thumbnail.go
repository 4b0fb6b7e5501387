package client

import (
	"bytes"
	"context"
	"database/sql"
	"image"
	"image/jpeg"
	"os"

	_ "image/gif" // decoders image.Decode may meet in a photo picker
	_ "image/png"

	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp"

	"github.com/courier-chat/courier"
)

// Thumbnails of photos sent to encrypted conversations. The server makes
// no variants of an e2e blob (it cannot read it), so the sending device
// makes the thumbnail, encrypts it with a key of its own and uploads it as
// a second small e2e blob; the message content names it beside the file
// (docs/e2e.md, "Message content"), and a recipient shows it before, or
// instead of, downloading the photo.
const (
	// thumbnailSize bounds the longer side, as the server's `thumb`
	// variant of plain photos (DESIGN.md, "Media").
	thumbnailSize = 320
	// thumbnailQuality is the JPEG quality: a few KiB for 320 px.
	thumbnailQuality = 70
	// maxThumbnailPixels refuses to decode a bigger picture (a
	// decompression bomb would take the phone's memory, not the server's).
	maxThumbnailPixels = 50_000_000
)

// makeThumbnail returns a JPEG of the picture at path fitted in
// thumbnailSize, or ok false when the file is no picture this client
// decodes (the message then goes without a thumbnail). JPEG, PNG, GIF
// and WebP decode; HEIC does not here (an iOS app makes its thumbnail with
// ImageIO).
func makeThumbnail(path string) (thumb []byte, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxThumbnailPixels {
		return nil, false
	}
	if _, err := f.Seek(0, 0); err != nil {
		return nil, false
	}
	src, _, err := image.Decode(f)
	if err != nil {
		return nil, false
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > thumbnailSize || h > thumbnailSize {
		if w >= h {
			w, h = thumbnailSize, max(1, h*thumbnailSize/w)
		} else {
			w, h = max(1, w*thumbnailSize/h), thumbnailSize
		}
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	// BiLinear widens its kernel when shrinking, so a 12 MP photo does not
	// alias into noise as ApproxBiLinear's would.
	draw.BiLinear.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: thumbnailQuality}); err != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

// Thumbnail returns a local file holding the thumbnail of an attachment:
// for an attachment of an encrypted message, the sender's encrypted
// thumbnail, downloaded and decrypted (ENOTFOUND when the sender sent
// none); for a plain one, the server's `thumb` variant. Both are cached
// as Download caches.
func (c *Client) Thumbnail(ctx context.Context, blobID string) (string, error) {
	if !courier.ValidID(blobID) {
		return "", courier.Errorf(courier.EINVALID, "bad blob ID")
	}
	var thumb string
	err := c.store.db.QueryRowContext(ctx, `SELECT thumbnail_blob FROM e2e_media WHERE blob_id = ?`, blobID).Scan(&thumb)
	switch {
	case err == sql.ErrNoRows:
		return c.download(ctx, blobID, "thumb")
	case err != nil:
		return "", err
	case thumb == "":
		return "", courier.Errorf(courier.ENOTFOUND, "attachment %s came without a thumbnail", blobID)
	}
	return c.Download(ctx, thumb, "")
}

// prefetchThumbnails downloads and decrypts, in the background, the
// thumbnails of a new message's attachments, so the conversation shows
// them without waiting; a failure is left for Thumbnail to retry.
func (c *Client) prefetchThumbnails(attachments []string) {
	for _, id := range attachments {
		var thumb string
		err := c.store.db.QueryRowContext(c.ctx, `SELECT thumbnail_blob FROM e2e_media WHERE blob_id = ?`, id).Scan(&thumb)
		if err != nil || thumb == "" {
			continue
		}
		c.mu.Lock()
		closing := c.closing
		if !closing {
			c.bg.Add(1) // under mu, so never after Close began waiting
		}
		c.mu.Unlock()
		if closing {
			return
		}
		go func() {
			defer c.bg.Done()
			if _, err := c.Download(c.ctx, thumb, ""); err != nil {
				c.log.Debug("client: prefetch thumbnail", "blob_id", thumb, "err", err)
			}
		}()
	}
}
