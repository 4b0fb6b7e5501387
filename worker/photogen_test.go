package worker

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// gpsMarker is text inside the GPS IFD of test JPEGs: if it appears in a
// served original, location leaked.
const gpsMarker = "GPSDATA-52.37N-4.89E"

// storedFor returns the pixels a camera stores for displayed picture d under
// EXIF orientation o (where stored row 0 and column 0 end up on screen, in
// the words of the EXIF specification).
func storedFor(d *image.NRGBA, o int) *image.NRGBA {
	dw, dh := d.Rect.Dx(), d.Rect.Dy()
	sw, sh := dw, dh
	if o >= 5 {
		sw, sh = dh, dw
	}
	s := image.NewNRGBA(image.Rect(0, 0, sw, sh))
	for sy := range sh {
		for sx := range sw {
			dx, dy := sx, sy
			switch o {
			case 2:
				dx = sw - 1 - sx
			case 3:
				dx, dy = sw-1-sx, sh-1-sy
			case 4:
				dy = sh - 1 - sy
			case 5:
				dx, dy = sy, sx
			case 6:
				dx, dy = sh-1-sy, sx
			case 7:
				dx, dy = sh-1-sy, sw-1-sx
			case 8:
				dx, dy = sy, sw-1-sx
			}
			s.SetNRGBA(sx, sy, d.NRGBAAt(dx, dy))
		}
	}
	return s
}

// exifJPEG returns a JPEG of the displayed picture d stored under
// orientation o, with an EXIF APP1 holding the Orientation tag and, when
// gps, a GPS IFD carrying gpsMarker.
func exifJPEG(t testing.TB, d *image.NRGBA, o int, gps bool) []byte {
	t.Helper()
	jpg := encodeJPEG(t, storedFor(d, o))
	le := binary.LittleEndian
	b := []byte("II*\x00")
	b = le.AppendUint32(b, 8)
	n := 1
	if gps {
		n = 2
	}
	b = le.AppendUint16(b, uint16(n))
	b = le.AppendUint16(b, 0x0112) // Orientation, SHORT, 1
	b = le.AppendUint16(b, 3)
	b = le.AppendUint32(b, 1)
	b = le.AppendUint16(b, uint16(o))
	b = append(b, 0, 0)
	gpsAt := 8 + 2 + 12*n + 4
	if gps {
		b = le.AppendUint16(b, 0x8825) // GPS IFD pointer, LONG, 1
		b = le.AppendUint16(b, 4)
		b = le.AppendUint32(b, 1)
		b = le.AppendUint32(b, uint32(gpsAt))
	}
	b = le.AppendUint32(b, 0)
	if gps {
		b = le.AppendUint16(b, 1) // GPSLatitudeRef "N"
		b = le.AppendUint16(b, 0x0001)
		b = le.AppendUint16(b, 2)
		b = le.AppendUint32(b, 2)
		b = append(b, "N\x00\x00\x00"...)
		b = le.AppendUint32(b, 0)
		b = append(b, gpsMarker...)
	}
	payload := append([]byte("Exif\x00\x00"), b...)
	seg := []byte{0xFF, 0xE1, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)}
	seg = append(seg, payload...)
	return append(append(append([]byte{}, jpg[:2]...), seg...), jpg[2:]...)
}

func encodePNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// alphaPNG is the quadrant picture with its right half half-transparent.
func alphaPNG(t testing.TB) []byte {
	img := quadrants(400, 300)
	for y := range 300 {
		for x := 200; x < 400; x++ {
			c := img.NRGBAAt(x, y)
			c.A = 128
			img.SetNRGBA(x, y, c)
		}
	}
	return encodePNG(t, img)
}

// animatedGIF has the quadrant picture first and a black frame second.
func animatedGIF(t testing.TB) []byte {
	pal := color.Palette{color.Black, color.White, quadColors[0][0], quadColors[0][1], quadColors[1][0]}
	first := image.NewPaletted(image.Rect(0, 0, 200, 150), pal)
	q := quadrants(200, 150)
	for y := range 150 {
		for x := range 200 {
			first.Set(x, y, q.At(x, y))
		}
	}
	second := image.NewPaletted(first.Rect, pal)
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, &gif.GIF{Image: []*image.Paletted{first, second}, Delay: []int{50, 50}}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeTIFF(t testing.TB, img image.Image) []byte {
	var buf bytes.Buffer
	if err := tiff.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encodeBMP(t testing.TB, img image.Image) []byte {
	var buf bytes.Buffer
	if err := bmp.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// heicOf encodes img as HEIC with heif-enc (libheif-examples).
func heicOf(t testing.TB, img image.Image) []byte {
	t.Helper()
	if _, err := exec.LookPath("heif-enc"); err != nil {
		t.Fatalf("heif-enc is required (apt-get install libheif-examples): %v", err)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.png"), filepath.Join(dir, "out.heic")
	if err := os.WriteFile(in, encodePNG(t, img), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("heif-enc", "-q", "60", "-o", out, in).CombinedOutput(); err != nil {
		t.Fatalf("heif-enc: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bombPNG is a valid PNG header declaring 100000×100000 pixels, followed by
// nothing: a few dozen bytes that would decode to 40 GB.
func bombPNG() []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32([]byte("IHDR"), 100000)
	ihdr = binary.BigEndian.AppendUint32(ihdr, 100000)
	ihdr = append(ihdr, 8, 6, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, ihdr...)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(ihdr))
	return append(b, 0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82)
}
