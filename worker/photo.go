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
// decoded.
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
	if _, err := thumbnails.Probe(f, fi.Size(), lim); err != nil {
		return err
	}
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
