//go:build !cgo || nojpegturbo

package thumbnails

import (
	"bytes"
	"image"
	"image/jpeg"
)

// jpegScaledDecode is false: without cgo (or built with the nojpegturbo
// tag) JPEGs are decoded at full size by Go's decoder.
const jpegScaledDecode = false

// decodeJPEGFit decodes the whole picture; box only matters to the
// libjpeg-turbo build (jpeg_turbo.go).
func decodeJPEGFit(data []byte, box int) (image.Image, error) {
	return jpeg.Decode(bytes.NewReader(data))
}
