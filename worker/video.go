package worker

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/thumbnails"
	"github.com/courier-chat/courier/transcode"
)

// video handles a file ffprobe may read: a video gets its poster and a
// thumb of it at once and is recorded ready, so a chat shows the bubble in
// a second or two; its MP4, when a transcode is needed, is made by a
// separate TypeTranscodeBlob job on the low-priority video queue, which
// adds the variant and sends a second media.ready. A video that plays as
// it is gets its mp4 here, a stream copy without its metadata (location).
// Audio gets its duration and codec.
func (h *MediaHandler) video(ctx context.Context, b *courier.Blob, path string) error {
	pctx, cancel := context.WithTimeout(ctx, h.cfg.PosterTimeout)
	defer cancel()
	info, err := h.cfg.Video.Probe(pctx, path)
	if err != nil {
		return err
	}
	b.DurationMS, b.VideoCodec, b.AudioCodec, b.Rotation = info.DurationMS, info.VideoCodec, info.AudioCodec, info.Rotation
	courier.Logger(ctx).Debug("media probed", "container", info.Container, "video", info.VideoCodec,
		"audio", info.AudioCodec, "width", info.Width, "height", info.Height, "rotation", info.Rotation)
	if !info.HasVideo {
		b.Kind, b.Variants = courier.KindAudio, []courier.Variant{}
		return h.ready(ctx, b, false)
	}
	b.Kind, b.Width, b.Height = courier.KindVideo, info.Width, info.Height

	poster := filepath.Join(filepath.Dir(path), "poster.jpg")
	if err := h.cfg.Video.Poster(pctx, path, poster, info); err != nil {
		return err
	}
	// The thumb and the blurhash come from the poster, as for a photo.
	res, err := h.posterThumb(ctx, poster)
	if err != nil {
		// ffmpeg wrote it; if we cannot read it back, it is our fault.
		return fmt.Errorf("media: poster: %v", err)
	}
	pv, err := h.putFile(ctx, b.ID, "poster", poster, "image/jpeg", res.Width, res.Height)
	if err != nil {
		return err
	}
	tv, err := h.put(ctx, b.ID, "thumb", bytes.NewReader(res.Thumb.Data), int64(len(res.Thumb.Data)),
		res.Thumb.ContentType, res.Thumb.Width, res.Thumb.Height)
	if err != nil {
		return err
	}
	b.Variants, b.Blurhash = []courier.Variant{pv, tv}, res.Blurhash

	needMP4 := transcode.NeedsTranscode(info)
	if !needMP4 {
		// It plays as uploaded, but the upload says where it was filmed:
		// members get a copy without metadata, made now since a copy
		// costs no more than the download did.
		mv, err := h.mp4(ctx, b.ID, path, info)
		if err != nil {
			return err
		}
		b.Variants = append(b.Variants, mv)
	}
	if err := h.ready(ctx, b, needMP4); err != nil {
		return err
	}
	if needMP4 {
		// After the record: a crash in between is repaired by the retry,
		// which finds the blob ready without an mp4 and enqueues again.
		return h.enqueueTranscode(ctx, b.ID)
	}
	return nil
}

// posterThumb makes the thumb and blurhash of the poster at path, within
// the decode memory budget like any photo.
func (h *MediaHandler) posterThumb(ctx context.Context, path string) (*thumbnails.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	lim := h.photoLimits()
	info, err := thumbnails.Probe(f, fi.Size(), lim)
	if err != nil {
		return nil, err
	}
	release, err := h.reserveDecode(ctx, info, fi.Size())
	if err != nil {
		return nil, err
	}
	defer release()
	return thumbnails.Process(ctx, rewind(f), lim)
}

// transcode is the TypeTranscodeBlob job: the MP4 variant of a video that
// process recorded ready.
func (h *MediaHandler) transcode(ctx context.Context, b *courier.Blob) error {
	if b.State != courier.BlobReady || b.Variant("mp4") != nil {
		return nil // failed meanwhile, or done by an earlier run
	}
	return h.withOriginal(ctx, b, func(path string) error {
		info, err := h.cfg.Video.Probe(ctx, path)
		if err != nil {
			return err
		}
		v, err := h.mp4(ctx, b.ID, path, info)
		if err != nil {
			return err
		}
		// Reload: the row is the record of what exists; add to it.
		fresh, err := h.blobs.Blob(ctx, b.ID)
		if err != nil {
			return err
		}
		if fresh.State != courier.BlobReady {
			return nil
		}
		*b = *fresh
		b.Variants = append(withoutVariant(b.Variants, "mp4"), v)
		return h.ready(ctx, b, false)
	})
}

// mp4 makes and stores the mp4 variant of the video at path: a transcode
// when NeedsTranscode says the original does not play everywhere, else a
// stream copy (transcode.Remux) without the original's metadata. Either
// way the variant, not the original, is what members play, and it carries
// no location.
func (h *MediaHandler) mp4(ctx context.Context, blobID, path string, info *transcode.Info) (courier.Variant, error) {
	out := filepath.Join(filepath.Dir(path), "out.mp4")
	w, hgt := info.Width, info.Height
	if transcode.NeedsTranscode(info) {
		if err := h.cfg.Video.MP4(ctx, path, out, info); err != nil {
			return courier.Variant{}, err
		}
		w, hgt = transcode.MP4Size(info)
	} else if err := h.cfg.Video.Remux(ctx, path, out, info); err != nil {
		return courier.Variant{}, err
	}
	return h.putFile(ctx, blobID, "mp4", out, "video/mp4", w, hgt)
}

func withoutVariant(vs []courier.Variant, name string) []courier.Variant {
	out := vs[:0:0]
	for _, v := range vs {
		if v.Name != name {
			out = append(out, v)
		}
	}
	return out
}
