package thumbnails

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Quadrant colours of the displayed test picture: red top-left, green
// top-right, blue bottom-left, white bottom-right. Any rotation or mirror
// moves red somewhere else, so "red is top-left" proves orientation.
var (
	red   = color.NRGBA{255, 0, 0, 255}
	green = color.NRGBA{0, 255, 0, 255}
	blue  = color.NRGBA{0, 0, 255, 255}
	white = color.NRGBA{255, 255, 255, 255}
)

func quadrants(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := [2][2]color.NRGBA{{red, green}, {blue, white}}[y*2/h][x*2/w]
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// storedFor returns the pixels a camera stores for displayed picture d
// under EXIF orientation o, from the spec's own words (where stored row 0
// and column 0 end up on screen), independently of the code under test.
func storedFor(d *image.NRGBA, o int) *image.NRGBA {
	dw, dh := d.Rect.Dx(), d.Rect.Dy()
	sw, sh := dw, dh
	if o >= 5 {
		sw, sh = dh, dw
	}
	s := image.NewNRGBA(image.Rect(0, 0, sw, sh))
	for sy := range sh {
		for sx := range sw {
			var dx, dy int
			switch o {
			case 1: // row 0 top, column 0 left
				dx, dy = sx, sy
			case 2: // row 0 top, column 0 right
				dx, dy = sw-1-sx, sy
			case 3: // row 0 bottom, column 0 right
				dx, dy = sw-1-sx, sh-1-sy
			case 4: // row 0 bottom, column 0 left
				dx, dy = sx, sh-1-sy
			case 5: // row 0 left, column 0 top
				dx, dy = sy, sx
			case 6: // row 0 right, column 0 top
				dx, dy = sh-1-sy, sx
			case 7: // row 0 right, column 0 bottom
				dx, dy = sh-1-sy, sw-1-sx
			case 8: // row 0 left, column 0 bottom
				dx, dy = sy, sw-1-sx
			}
			s.SetNRGBA(sx, sy, d.NRGBAAt(dx, dy))
		}
	}
	return s
}

// tiffIFD builds a TIFF structure by hand in byte order bo: IFD0 with an
// Orientation (when o > 0), a Make string, and, when gps, a GPS IFD with
// latitude. Written here rather than with the package's minimalExif so the
// parser is tested against an independent writer.
func tiffIFD(bo binary.AppendByteOrder, o int, gps bool) []byte {
	var b []byte
	if bo == binary.AppendByteOrder(binary.BigEndian) {
		b = append(b, "MM\x00*"...)
	} else {
		b = append(b, "II*\x00"...)
	}
	b = bo.AppendUint32(b, 8)
	type entry struct {
		tag, typ uint16
		count    uint32
		value    uint32
	}
	entries := []entry{{0x010F, 2, 4, 0}} // Make, "ACM\0" inline
	if o > 0 {
		entries = append(entries, entry{0x0112, 3, 1, uint32(o)})
	}
	if gps {
		entries = append(entries, entry{0x8825, 4, 1, 0}) // GPS IFD offset, fixed below
	}
	b = bo.AppendUint16(b, uint16(len(entries)))
	gpsAt := 8 + 2 + 12*len(entries) + 4
	for _, e := range entries {
		b = bo.AppendUint16(b, e.tag)
		b = bo.AppendUint16(b, e.typ)
		b = bo.AppendUint32(b, e.count)
		switch e.tag {
		case 0x010F:
			b = append(b, "ACM\x00"...)
		case 0x0112:
			b = bo.AppendUint16(b, uint16(e.value))
			b = append(b, 0, 0)
		case 0x8825:
			b = bo.AppendUint32(b, uint32(gpsAt))
		}
	}
	b = bo.AppendUint32(b, 0)
	if gps { // GPS IFD: GPSLatitudeRef "N"
		b = bo.AppendUint16(b, 1)
		b = bo.AppendUint16(b, 0x0001)
		b = bo.AppendUint16(b, 2)
		b = bo.AppendUint32(b, 2)
		b = append(b, "N\x00\x00\x00"...)
		b = bo.AppendUint32(b, 0)
		b = append(b, "GPSDATA-52.37N-4.89E"...) // marker text to search for
	}
	return b
}

// withAPP inserts a segment right after SOI of a JPEG.
func withAPP(t testing.TB, jpg []byte, marker byte, payload []byte) []byte {
	t.Helper()
	seg := appendSegment(nil, marker, payload)
	return append(append(append([]byte{}, jpg[:2]...), seg...), jpg[2:]...)
}

func encodeJPEG(t testing.TB, img image.Image, q int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// convert runs an external encoder (ffmpeg, heif-enc) on src written as
// name.in and returns the bytes of out. A missing tool fails the test.
func convert(t *testing.T, src []byte, in, out string, argv ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, in), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		t.Fatalf("%s is required for this test (apt-get install ffmpeg libheif-examples): %v", argv[0], err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, b)
	}
	b, err := os.ReadFile(filepath.Join(dir, out))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// near reports whether c is within tol of want in each channel; JPEG
// rounds colours, so exact equality is not expected.
func near(c color.Color, want color.NRGBA, tol int) bool {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	d := func(a, b uint8) bool { return int(a)-int(b) <= tol && int(b)-int(a) <= tol }
	return d(n.R, want.R) && d(n.G, want.G) && d(n.B, want.B) && d(n.A, want.A)
}

// checkQuadrants asserts that img shows the quadrant picture upright,
// sampling the middle of each quadrant.
func checkQuadrants(t *testing.T, name string, img image.Image) {
	t.Helper()
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	for _, q := range []struct {
		x, y int
		c    color.NRGBA
		name string
	}{{w / 4, h / 4, red, "red"}, {3 * w / 4, h / 4, green, "green"}, {w / 4, 3 * h / 4, blue, "blue"}, {3 * w / 4, 3 * h / 4, white, "white"}} {
		if got := img.At(b.Min.X+q.x, b.Min.Y+q.y); !near(got, q.c, 40) {
			t.Errorf("%s: at (%d,%d) want %s, got %v", name, q.x, q.y, q.name, got)
		}
	}
}
