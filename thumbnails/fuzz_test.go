package thumbnails

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
)

// FuzzExifOrientation: any bytes give an orientation in 1..8, no panic.
func FuzzExifOrientation(f *testing.F) {
	f.Add(tiffIFD(binary.LittleEndian, 6, true))
	f.Add(tiffIFD(binary.BigEndian, 8, false))
	f.Add(minimalExif(3))
	f.Add([]byte("II*\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if o := exifOrientation(bytes.NewReader(b), int64(len(b))); o < 1 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
	})
}

// FuzzStripJPEG: any bytes either fail cleanly or give a JPEG that strips
// to itself (stripping is idempotent) and keeps no APPn but the allowed.
func FuzzStripJPEG(f *testing.F) {
	jpg := encodeJPEG(f, quadrants(16, 16), 80)
	f.Add(jpg)
	f.Add(withAPP(f, jpg, 0xE1, append([]byte("Exif\x00\x00"), tiffIFD(binary.BigEndian, 6, true)...)))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9})
	f.Fuzz(func(t *testing.T, b []byte) { stripsToItself(t, stripJPEG, b) })
}

// stripsToItself: strip either refuses b or gives what it strips to itself.
func stripsToItself(t *testing.T, strip func([]byte) ([]byte, error), b []byte) {
	out, err := strip(b)
	if err != nil {
		return
	}
	again, err := strip(out)
	if err != nil {
		t.Fatalf("stripped output does not strip: %v", err)
	}
	if !bytes.Equal(out, again) {
		t.Fatal("stripping is not idempotent")
	}
}

// FuzzProbe: Probe and the container walks never panic on any bytes.
func FuzzProbe(f *testing.F) {
	f.Add(encodeJPEG(f, quadrants(16, 16), 80))
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"))
	f.Add([]byte("RIFF\x20\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00"))
	f.Add(tiffIFD(binary.LittleEndian, 6, true))
	f.Add([]byte("GIF89a\x10\x00\x10\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := Probe(bytes.NewReader(b), int64(len(b)), Limits{})
		if err == nil && (info.Width <= 0 || info.Height <= 0 || int64(info.Width)*int64(info.Height) > DefaultMaxPixels) {
			t.Fatalf("accepted %+v", info)
		}
		_ = StripPNG(io.Discard, bytes.NewReader(b))
	})
}

// FuzzJPEGScaled: the reduced-size JPEG decode (libjpeg-turbo, C code fed
// hostile bytes) never crashes, and what it returns covers the preview.
func FuzzJPEGScaled(f *testing.F) {
	f.Add(encodeJPEG(f, quadrants(640, 480), 80))
	f.Add(encodeJPEG(f, quadrants(17, 3), 50))
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := Limits{MaxPixels: 4 << 20}.withDefaults()
		img, info, err := decodeBytes(b, lim, ThumbSize)
		if err != nil {
			return
		}
		sw, sh := info.Width, info.Height
		if swapsAxes(info.Orientation) {
			sw, sh = sh, sw
		}
		w, h := fitSize(sw, sh, ThumbSize)
		if r := img.Bounds(); r.Dx() < w || r.Dy() < h {
			t.Fatalf("decoded %v for a %dx%d fit", r, w, h)
		}
	})
}
