package thumbnails

import (
	"bytes"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"github.com/gen2brain/heic"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"
)

// codec is how one format is read: its size from the header, and its
// first image. One table serves Probe and Process alike.
type codec struct {
	// config returns the header's size and the size of the largest
	// picture decoding allocates: the same for most formats, but a HEIC
	// container's size is only a claim about its coded stream.
	config func(io.Reader) (cfg image.Config, decoded image.Point, err error)
	decode func(io.Reader) (image.Image, error)
}

var codecs = map[string]codec{
	FormatJPEG: {header(jpeg.DecodeConfig), jpeg.Decode},
	FormatPNG:  {header(png.DecodeConfig), png.Decode},
	FormatGIF:  {header(gif.DecodeConfig), gif.Decode}, // the first frame
	FormatWebP: {header(webp.DecodeConfig), webp.Decode},
	FormatTIFF: {header(tiff.DecodeConfig), tiff.Decode},
	FormatBMP:  {header(bmp.DecodeConfig), bmp.Decode},
	// HEIC sizes come from the container boxes (heif.go): gen2brain/heic's
	// DecodeConfig hands libheif only the first 32 KiB, which libheif
	// rejects for real iPhone photos. The boxes sit in `meta`, near the
	// start, but nothing requires that, and the parameter sets that say
	// what the decoder will really make may sit in the item data, so the
	// whole file is read (the caller has checked it against
	// Limits.MaxBytes).
	FormatHEIC: {heicConfig, heic.Decode},
}

// header adapts a DecodeConfig whose size is what decoding allocates.
func header(config func(io.Reader) (image.Config, error)) func(io.Reader) (image.Config, image.Point, error) {
	return func(r io.Reader) (image.Config, image.Point, error) {
		cfg, err := config(r)
		return cfg, image.Pt(cfg.Width, cfg.Height), err
	}
}

func heicConfig(r io.Reader) (image.Config, image.Point, error) {
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		return image.Config{}, image.Point{}, err
	}
	cfg, err := heifConfig(b.Bytes())
	if err != nil {
		return cfg, image.Point{}, err
	}
	w, h, err := heifCodedSize(b.Bytes())
	if err != nil {
		return cfg, image.Point{}, err
	}
	// The decoded picture is at least the displayed one (libheif makes
	// that from the coded ones), and at least the largest coded one.
	decoded := image.Pt(cfg.Width, cfg.Height)
	if int64(w)*int64(h) > int64(decoded.X)*int64(decoded.Y) {
		decoded = image.Pt(w, h)
	}
	return cfg, decoded, nil
}
