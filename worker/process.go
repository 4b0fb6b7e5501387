package worker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hibiken/asynq"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/thumbnails"
)

// Kinds of media, by what the bytes are rather than what the uploader said.
const (
	kindPhoto = "photo"
	kindAV    = "av" // video or audio: ffprobe decides which
	kindOther = "other"
)

// process is the TypeProcessBlob job.
func (h *MediaHandler) process(ctx context.Context, b *courier.Blob) error {
	if b.State != courier.BlobProcessing {
		// Done before: a duplicate, or a retry of a run that was killed
		// after recording the blob. The one step that may be missing is
		// the enqueue of a video's MP4 job, which comes after the record.
		if b.State == courier.BlobReady && b.Variant("poster") != nil && b.Variant("mp4") == nil {
			return h.enqueueTranscode(ctx, b.ID)
		}
		return nil
	}
	if b.Mode != courier.BlobPlain {
		// Ciphertext: the server makes nothing of it.
		return h.ready(ctx, b, false)
	}

	head, err := h.head(ctx, b.StorageKey)
	if err != nil {
		return err
	}
	switch classify(head, b.ContentType) {
	case kindPhoto:
		if thumbnails.Sniff(head) != "" {
			// Recorded even if the photo fails below (a bomb is still a
			// photo); a file only declared one is not.
			b.Kind = courier.KindPhoto
		}
		// Refuse a file over the byte limit before downloading it.
		if lim := h.photoLimits(); b.Size > lim.MaxBytes {
			return courier.Errorf(courier.ETOOLARGE, "image is %d bytes; the limit is %d", b.Size, lim.MaxBytes)
		}
		return h.withOriginal(ctx, b, func(path string) error { return h.photo(ctx, b, path) })
	case kindAV:
		// Video or audio is for ffprobe to say (video sets b.Kind).
		return h.withOriginal(ctx, b, func(path string) error { return h.video(ctx, b, path) })
	}
	b.Kind = courier.KindOther
	return h.ready(ctx, b, false)
}

// classify names the kind of media from its first bytes, falling back on
// the declared content type only when the bytes say nothing we know: a
// JPEG uploaded as application/octet-stream is still a photo, and a file
// declared image/jpeg that is not one is tried as a photo and fails with
// the decoder's reason.
func classify(head []byte, contentType string) string {
	if thumbnails.Sniff(head) != "" {
		return kindPhoto
	}
	if avMagic(head) {
		return kindAV
	}
	ct := strings.ToLower(contentType)
	switch {
	case thumbnails.ContentType(strings.TrimPrefix(ct, "image/")) != "",
		ct == "image/jpg", ct == "image/heif", ct == "image/x-ms-bmp":
		return kindPhoto
	case strings.HasPrefix(ct, "video/"), strings.HasPrefix(ct, "audio/"):
		return kindAV
	}
	return kindOther
}

// avMagic recognises the containers ffmpeg is allowed to open (see
// transcode's demuxer list) by their signatures.
func avMagic(b []byte) bool {
	switch {
	case len(b) >= 8 && string(b[4:8]) == "ftyp": // MP4, MOV, M4A, 3GP
		return true
	case bytes.HasPrefix(b, []byte{0x1A, 0x45, 0xDF, 0xA3}): // Matroska, WebM
		return true
	case len(b) >= 12 && string(b[:4]) == "RIFF" && (string(b[8:12]) == "WAVE" || string(b[8:12]) == "AVI "):
		return true
	case bytes.HasPrefix(b, []byte("OggS")), bytes.HasPrefix(b, []byte("fLaC")),
		bytes.HasPrefix(b, []byte("ID3")), bytes.HasPrefix(b, []byte("#!AMR")),
		bytes.HasPrefix(b, []byte("caff")), bytes.HasPrefix(b, []byte("FORM")):
		return true
	case len(b) >= 2 && b[0] == 0xFF && b[1]&0xE0 == 0xE0: // MPEG audio frame
		return true
	case len(b) >= 8 && (string(b[4:8]) == "moov" || string(b[4:8]) == "mdat" || string(b[4:8]) == "wide"):
		return true // old QuickTime files without ftyp
	}
	return false
}

// head reads the first bytes of an object, enough to classify it.
func (h *MediaHandler) head(ctx context.Context, key string) ([]byte, error) {
	r, err := h.objects.Get(ctx, key, 0, 64)
	if err != nil {
		return nil, fmt.Errorf("media: read %s: %w", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, 64))
	if err != nil {
		return nil, fmt.Errorf("media: read %s: %w", key, err)
	}
	return b, nil
}

// withOriginal streams the blob's original from the bucket into a temp
// file of the job's own (memory stays flat whatever the size), runs f on
// its path, and removes the temp directory, outputs included.
func (h *MediaHandler) withOriginal(ctx context.Context, b *courier.Blob, f func(path string) error) error {
	dir, err := h.jobTempDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "original")
	if err := h.download(ctx, b.StorageKey, path); err != nil {
		return err
	}
	return f(path)
}

func (h *MediaHandler) download(ctx context.Context, key, path string) error {
	r, err := h.objects.Get(ctx, key, 0, 0)
	if err != nil {
		return fmt.Errorf("media: get %s: %w", key, err)
	}
	defer r.Close()
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("media: download %s: %w", key, err)
	}
	return f.Close()
}

// put stores a variant under its deterministic key and describes it.
func (h *MediaHandler) put(ctx context.Context, blobID, name string, r io.Reader, size int64, contentType string, w, hgt int) (courier.Variant, error) {
	key := VariantKey(blobID, name)
	if _, err := h.objects.Put(ctx, key, r, size, contentType); err != nil {
		return courier.Variant{}, fmt.Errorf("media: %w", err)
	}
	return courier.Variant{Name: name, Key: key, Size: size, ContentType: contentType, Width: w, Height: hgt}, nil
}

// putFile stores the file at path as a variant.
func (h *MediaHandler) putFile(ctx context.Context, blobID, name, path, contentType string, w, hgt int) (courier.Variant, error) {
	f, err := os.Open(path)
	if err != nil {
		return courier.Variant{}, fmt.Errorf("media: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return courier.Variant{}, fmt.Errorf("media: %w", err)
	}
	return h.put(ctx, blobID, name, f, fi.Size(), contentType, w, hgt)
}

// enqueueTranscode asks for a video's MP4. The task ID is derived from the
// blob ID, so asking twice is harmless.
func (h *MediaHandler) enqueueTranscode(ctx context.Context, blobID string) error {
	task, err := NewTranscodeBlobTask(blobID)
	if err != nil {
		return err
	}
	_, err = h.queue.EnqueueContext(ctx, task)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	return err
}

func (h *MediaHandler) photoLimits() thumbnails.Limits {
	l := h.cfg.Photos
	if l.MaxBytes <= 0 {
		l.MaxBytes = thumbnails.DefaultMaxBytes
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = thumbnails.DefaultMaxPixels
	}
	return l
}
