package worker

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/thumbnails"
)

// photo makes a photo's variants from the original at path:
//
//   - thumb (fit 320) and preview (fit 1280), JPEG or PNG with alpha;
//   - original: the photo as downloads serve it, without GPS and the rest
//     of its metadata (JPEG and PNG byte-for-byte minus metadata, other
//     formats re-encoded; see thumbnails.StripMetadata);
//
// and records the displayed width and height and the blurhash. The header
// is checked first, so a decompression bomb fails here, before a pixel is
// decoded; then the decode's memory is taken from the worker's budget.
func (h *MediaHandler) photo(ctx context.Context, b *courier.Blob, path string) error {
	lim := h.photoLimits()
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	info, err := thumbnails.Probe(f, fi.Size(), lim)
	if err != nil {
		return err
	}
	release, err := h.reserveDecode(ctx, info, fi.Size())
	if err != nil {
		return err
	}
	defer release()
	res, err := thumbnails.Process(ctx, rewind(f), lim)
	if err != nil {
		return err
	}
	var stripped bytes.Buffer
	strippedType, err := thumbnails.StripMetadata(&stripped, rewind(f), lim)
	if err != nil {
		return err
	}

	variants := make([]courier.Variant, 0, 3)
	for _, v := range []struct {
		name string
		img  thumbnails.Image
	}{{"thumb", res.Thumb}, {"preview", res.Preview}} {
		out, err := h.put(ctx, b.ID, v.name, bytes.NewReader(v.img.Data), int64(len(v.img.Data)),
			v.img.ContentType, v.img.Width, v.img.Height)
		if err != nil {
			return err
		}
		variants = append(variants, out)
	}
	orig, err := h.put(ctx, b.ID, "original", bytes.NewReader(stripped.Bytes()), int64(stripped.Len()),
		strippedType, res.Width, res.Height)
	if err != nil {
		return err
	}
	variants = append(variants, orig)

	b.Width, b.Height, b.Blurhash, b.Variants = res.Width, res.Height, res.Blurhash, variants
	courier.Logger(ctx).Debug("photo processed", "format", res.Format, "width", res.Width, "height", res.Height,
		"decode", res.Timings.Decode, "resize", res.Timings.Resize, "encode", res.Timings.Encode)
	return h.ready(ctx, b, false)
}

// rewind seeks f back to its start for the next reader; a failed seek
// shows up as a read error there.
func rewind(f *os.File) io.Reader {
	f.Seek(0, io.SeekStart)
	return f
}

// reserveDecode takes the estimated memory of decoding the image info
// describes (size bytes long) from the worker's budget, waiting while
// other jobs hold it, and returns the function that gives it back. An
// image that needs more than the whole budget is refused (ETOOLARGE): it
// could never run.
func (h *MediaHandler) reserveDecode(ctx context.Context, info thumbnails.Info, size int64) (release func(), err error) {
	n := info.DecodeBytes(size)
	if n > h.cfg.DecodeMemory {
		return nil, courier.Errorf(courier.ETOOLARGE, "a %dx%d %s image needs about %d MiB to decode; this worker decodes at most %d MiB at once",
			info.Width, info.Height, info.Format, n>>20, h.cfg.DecodeMemory>>20)
	}
	if err := h.decode.Acquire(ctx, n); err != nil {
		return nil, fmt.Errorf("media: waiting for decode memory: %w", err)
	}
	return func() { h.decode.Release(n) }, nil
}
