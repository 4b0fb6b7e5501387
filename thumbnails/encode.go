package thumbnails

import (
	"bytes"
	"image"
	"image/jpeg"
	"image/png"
)

// Output encoding of variants.
const (
	// JPEGQuality for thumb and preview: at 80 a 1280 preview of a photo
	// is about 150–250 KB with no artefacts visible at that size.
	JPEGQuality = 80
	ThumbSize   = 320  // the thumb fits within ThumbSize×ThumbSize
	PreviewSize = 1280 // the preview fits within PreviewSize×PreviewSize
)

// Image is one encoded variant.
type Image struct {
	Data          []byte
	ContentType   string
	Width, Height int
}

// encode writes img as JPEG, or as PNG when alpha must be kept.
func encode(img *image.NRGBA, alpha bool, quality int) (Image, error) {
	var buf bytes.Buffer
	out := Image{Width: img.Rect.Dx(), Height: img.Rect.Dy()}
	if alpha {
		out.ContentType = "image/png"
		if err := png.Encode(&buf, img); err != nil {
			return Image{}, err
		}
	} else {
		out.ContentType = "image/jpeg"
		// An opaque NRGBA has the same bytes as an RGBA, and image/jpeg
		// has a fast path for *image.RGBA but calls At per pixel for
		// anything else: the wrapper makes encoding several times faster.
		rgba := &image.RGBA{Pix: img.Pix, Stride: img.Stride, Rect: img.Rect}
		if err := jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: quality}); err != nil {
			return Image{}, err
		}
	}
	out.Data = buf.Bytes()
	return out, nil
}
