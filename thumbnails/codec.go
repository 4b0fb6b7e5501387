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
	config func(io.Reader) (image.Config, error)
	decode func(io.Reader) (image.Image, error)
}

var codecs = map[string]codec{
	FormatJPEG: {jpeg.DecodeConfig, jpeg.Decode},
	FormatPNG:  {png.DecodeConfig, png.Decode},
	FormatGIF:  {gif.DecodeConfig, gif.Decode}, // the first frame
	FormatWebP: {webp.DecodeConfig, webp.Decode},
	FormatTIFF: {tiff.DecodeConfig, tiff.Decode},
	FormatBMP:  {bmp.DecodeConfig, bmp.Decode},
	// HEIC sizes come from the container boxes (heif.go): gen2brain/heic's
	// DecodeConfig hands libheif only the first 32 KiB, which libheif
	// rejects for real iPhone photos. The boxes sit in `meta`, near the
	// start, but nothing requires that, so the whole file is read (the
	// caller has checked it against Limits.MaxBytes).
	FormatHEIC: {heicConfig, heic.Decode},
}

func heicConfig(r io.Reader) (image.Config, error) {
	var b bytes.Buffer
	if _, err := b.ReadFrom(r); err != nil {
		return image.Config{}, err
	}
	return heifConfig(b.Bytes())
}
