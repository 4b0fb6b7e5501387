package thumbnails

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/png"
	"strings"
	"testing"

	"github.com/courier-chat/courier"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

func process(t *testing.T, data []byte) *Result {
	t.Helper()
	res, err := Process(context.Background(), bytes.NewReader(data), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func decodeVariant(t *testing.T, v Image) image.Image {
	t.Helper()
	img, format, err := image.Decode(bytes.NewReader(v.Data))
	if err != nil {
		t.Fatal(err)
	}
	if "image/"+format != v.ContentType {
		t.Fatalf("variant says %s, holds %s", v.ContentType, format)
	}
	if b := img.Bounds(); b.Dx() != v.Width || b.Dy() != v.Height {
		t.Fatalf("variant says %dx%d, holds %v", v.Width, v.Height, b)
	}
	return img
}

// TestOrientationJPEG stores the quadrant picture the way a camera would
// for each EXIF orientation, and checks that every output shows it upright
// with width and height as displayed. Small pictures cover all eight; one
// larger than the preview covers the shrink-then-rotate path.
func TestOrientationJPEG(t *testing.T) {
	cases := []struct {
		o, w, h int
		pw, ph  int // expected preview size
		tw, th  int // expected thumb size
	}{
		{1, 480, 300, 480, 300, 320, 200},
		{2, 480, 300, 480, 300, 320, 200},
		{3, 480, 300, 480, 300, 320, 200},
		{4, 480, 300, 480, 300, 320, 200},
		{5, 480, 300, 480, 300, 320, 200},
		{6, 480, 300, 480, 300, 320, 200},
		{7, 480, 300, 480, 300, 320, 200},
		{8, 480, 300, 480, 300, 320, 200},
		{6, 1440, 900, 1280, 800, 320, 200},
		{3, 1440, 900, 1280, 800, 320, 200},
	}
	for _, c := range cases {
		// Odd orientations in Motorola byte order, even in Intel.
		bo := []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian}[c.o%2]
		stored := storedFor(quadrants(c.w, c.h), c.o)
		data := withAPP(t, encodeJPEG(t, stored, 90), 0xE1, append([]byte("Exif\x00\x00"), tiffIFD(bo, c.o, false)...))

		info, err := Probe(bytes.NewReader(data), int64(len(data)), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if info.Orientation != c.o || info.Width != c.w || info.Height != c.h {
			t.Errorf("o=%d: probe = %+v, want %dx%d", c.o, info, c.w, c.h)
		}
		res := process(t, data)
		if res.Width != c.w || res.Height != c.h || res.Orientation != c.o {
			t.Errorf("o=%d: result %dx%d orientation %d", c.o, res.Width, res.Height, res.Orientation)
		}
		if res.Preview.Width != c.pw || res.Preview.Height != c.ph || res.Thumb.Width != c.tw || res.Thumb.Height != c.th {
			t.Errorf("o=%d: preview %dx%d thumb %dx%d", c.o, res.Preview.Width, res.Preview.Height, res.Thumb.Width, res.Thumb.Height)
		}
		checkQuadrants(t, "preview", decodeVariant(t, res.Preview))
		checkQuadrants(t, "thumb", decodeVariant(t, res.Thumb))
	}
}

// TestFormats runs every supported format through Probe and Process. WebP
// and HEIC have no Go encoder and are made with ffmpeg and heif-enc.
func TestFormats(t *testing.T) {
	disp := quadrants(400, 300)
	var pngb, tiffb, bmpb, gifb bytes.Buffer
	if err := png.Encode(&pngb, disp); err != nil {
		t.Fatal(err)
	}
	if err := tiff.Encode(&tiffb, disp, &tiff.Options{Compression: tiff.Deflate}); err != nil {
		t.Fatal(err)
	}
	if err := bmp.Encode(&bmpb, disp); err != nil {
		t.Fatal(err)
	}
	if err := gif.Encode(&gifb, disp, nil); err != nil {
		t.Fatal(err)
	}
	jpg := encodeJPEG(t, disp, 90)
	cases := []struct {
		format string
		data   []byte
	}{
		{FormatJPEG, jpg},
		{FormatPNG, pngb.Bytes()},
		{FormatGIF, gifb.Bytes()},
		{FormatTIFF, tiffb.Bytes()},
		{FormatBMP, bmpb.Bytes()},
		{FormatWebP, convert(t, pngb.Bytes(), "in.png", "out.webp", "ffmpeg", "-loglevel", "error", "-i", "in.png", "-quality", "90", "out.webp")},
		{FormatHEIC, convert(t, jpg, "in.jpg", "out.heic", "heif-enc", "-q", "90", "in.jpg", "-o", "out.heic")},
	}
	for _, c := range cases {
		t.Run(c.format, func(t *testing.T) {
			info, err := Probe(bytes.NewReader(c.data), int64(len(c.data)), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if info.Format != c.format || info.Width != 400 || info.Height != 300 {
				t.Fatalf("probe = %+v", info)
			}
			res := process(t, c.data)
			if res.Format != c.format || res.HasAlpha || res.Thumb.ContentType != "image/jpeg" {
				t.Fatalf("format %s alpha %v thumb %s", res.Format, res.HasAlpha, res.Thumb.ContentType)
			}
			// Smaller than the preview box: never enlarged.
			if res.Preview.Width != 400 || res.Preview.Height != 300 || res.Thumb.Width != 320 || res.Thumb.Height != 240 {
				t.Fatalf("preview %dx%d thumb %dx%d", res.Preview.Width, res.Preview.Height, res.Thumb.Width, res.Thumb.Height)
			}
			checkQuadrants(t, "preview", decodeVariant(t, res.Preview))
			checkQuadrants(t, "thumb", decodeVariant(t, res.Thumb))
			if len(res.Blurhash) != 28 {
				t.Fatalf("blurhash %q", res.Blurhash)
			}
		})
	}
}

// TestHEICIgnoresExifOrientation: heif-enc copies a JPEG's EXIF (here
// Orientation 6) into the HEIC without writing irot. The HEIF spec makes
// irot/imir the only authority, so the picture stays as stored, as libheif
// and Apple's decoders show it.
func TestHEICIgnoresExifOrientation(t *testing.T) {
	jpg := withAPP(t, encodeJPEG(t, quadrants(400, 300), 90), 0xE1, append([]byte("Exif\x00\x00"), tiffIFD(binary.LittleEndian, 6, false)...))
	heic := convert(t, jpg, "in.jpg", "out.heic", "heif-enc", "-q", "90", "in.jpg", "-o", "out.heic")
	res := process(t, heic)
	if res.Width != 400 || res.Height != 300 || res.Orientation != 1 {
		t.Fatalf("got %dx%d orientation %d", res.Width, res.Height, res.Orientation)
	}
	checkQuadrants(t, "preview", decodeVariant(t, res.Preview))
}

// TestPNGExifOrientation: PNG's eXIf chunk is honoured like JPEG's APP1.
func TestPNGExifOrientation(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, storedFor(quadrants(300, 200), 8)); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	ihdrEnd := 8 + 12 + 13
	data := append(appendChunk(append([]byte{}, b[:ihdrEnd]...), "eXIf", tiffIFD(binary.BigEndian, 8, true)), b[ihdrEnd:]...)
	res := process(t, data)
	if res.Width != 300 || res.Height != 200 || res.Orientation != 8 {
		t.Fatalf("got %dx%d orientation %d", res.Width, res.Height, res.Orientation)
	}
	checkQuadrants(t, "preview", decodeVariant(t, res.Preview))
}

func TestAlphaPNG(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 1400, 600))
	for y := range 600 {
		for x := range 1400 {
			if x < 700 { // left half opaque orange, right half transparent
				img.SetNRGBA(x, y, color.NRGBA{255, 128, 0, 255})
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	res := process(t, buf.Bytes())
	if !res.HasAlpha {
		t.Fatal("HasAlpha = false")
	}
	for _, v := range []Image{res.Thumb, res.Preview} {
		out := decodeVariant(t, v)
		w, h := v.Width, v.Height
		if !near(out.At(w/4, h/2), color.NRGBA{255, 128, 0, 255}, 2) {
			t.Errorf("%dx%d: opaque half is %v", w, h, out.At(w/4, h/2))
		}
		if _, _, _, a := out.At(3*w/4, h/2).RGBA(); a != 0 {
			t.Errorf("%dx%d: transparent half has alpha %d", w, h, a)
		}
	}
}

// TestAnimatedGIF: the first frame is what the variants show.
func TestAnimatedGIF(t *testing.T) {
	frame := func(c color.Color) *image.Paletted {
		p := image.NewPaletted(image.Rect(0, 0, 100, 80), palette.Plan9)
		for i := range p.Pix {
			p.Pix[i] = uint8(p.Palette.Index(c))
		}
		return p
	}
	var buf bytes.Buffer
	anim := &gif.GIF{Image: []*image.Paletted{frame(color.RGBA{0, 0, 255, 255}), frame(color.RGBA{255, 0, 0, 255})}, Delay: []int{10, 10}}
	if err := gif.EncodeAll(&buf, anim); err != nil {
		t.Fatal(err)
	}
	res := process(t, buf.Bytes())
	out := decodeVariant(t, res.Thumb)
	if !near(out.At(50, 40), color.NRGBA{0, 0, 255, 255}, 40) {
		t.Fatalf("thumb shows %v, want the first frame's blue", out.At(50, 40))
	}
}

// TestBombs: headers declaring huge images in tiny files are refused from
// the header with ETOOLARGE; nothing near the declared size is allocated
// (that would be 40 GB and the test would not survive it).
func TestBombs(t *testing.T) {
	var pngHdr bytes.Buffer
	pngHdr.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(nil, 100000)
	ihdr = binary.BigEndian.AppendUint32(ihdr, 100000)
	ihdr = append(ihdr, 8, 6, 0, 0, 0)
	pngHdr.Write(appendChunk(nil, "IHDR", ihdr))
	pngHdr.Write(appendChunk(nil, "IDAT", []byte{0x78, 0x9c}))

	jpg := encodeJPEG(t, quadrants(16, 16), 90)
	// Patch the SOF0 frame header to 65000×65000.
	sof := bytes.Index(jpg, []byte{0xFF, 0xC0})
	binary.BigEndian.PutUint16(jpg[sof+5:], 65000)
	binary.BigEndian.PutUint16(jpg[sof+7:], 65000)

	for name, data := range map[string][]byte{"png": pngHdr.Bytes(), "jpeg": jpg} {
		if _, err := Probe(bytes.NewReader(data), int64(len(data)), Limits{}); courier.ErrorCode(err) != courier.ETOOLARGE {
			t.Errorf("%s: Probe error %v, want ETOOLARGE", name, err)
		}
		if _, err := Process(context.Background(), bytes.NewReader(data), Limits{}); courier.ErrorCode(err) != courier.ETOOLARGE {
			t.Errorf("%s: Process error %v, want ETOOLARGE", name, err)
		}
	}
	// And files over MaxBytes, whatever they hold.
	data := encodeJPEG(t, quadrants(64, 64), 90)
	if _, err := Process(context.Background(), bytes.NewReader(data), Limits{MaxBytes: 100}); courier.ErrorCode(err) != courier.ETOOLARGE {
		t.Errorf("MaxBytes: error %v", err)
	}
}

func TestTruncatedAndGarbage(t *testing.T) {
	jpg := encodeJPEG(t, quadrants(200, 200), 90)
	var pngb bytes.Buffer
	if err := png.Encode(&pngb, quadrants(200, 200)); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		data []byte
		why  string
	}{
		"jpeg cut in scan":   {jpg[:len(jpg)/2], "jpeg image is corrupt or truncated: "},
		"jpeg cut in header": {jpg[:20], "jpeg image is corrupt or truncated: "},
		"png cut":            {pngb.Bytes()[:pngb.Len()/2], "png image is corrupt or truncated: "},
		"text":               {[]byte("hello, this is not an image at all"), "unsupported image format"},
		"empty":              {nil, "unsupported image format"},
	}
	for name, c := range cases {
		_, err := Process(context.Background(), bytes.NewReader(c.data), Limits{})
		if courier.ErrorCode(err) != courier.EINVALID || !strings.Contains(courier.ErrorMessage(err), c.why) {
			t.Errorf("%s: got %v, want EINVALID mentioning %q", name, err, c.why)
		}
	}
}

// TestBlurhashSolid decodes the DC term of a solid image's blurhash back to
// its colour, and checks that the AC terms are negligible.
func TestBlurhashSolid(t *testing.T) {
	for _, c := range []color.NRGBA{{200, 100, 50, 255}, {0, 0, 0, 255}, {255, 255, 255, 255}, {12, 34, 56, 255}} {
		img := image.NewNRGBA(image.Rect(0, 0, ThumbSize, 240))
		for i := 0; i < len(img.Pix); i += 4 {
			copy(img.Pix[i:], []uint8{c.R, c.G, c.B, 255})
		}
		h := blurhash(img)
		if len(h) != 6+2*11 || h[0] != base83[3+2*9] {
			t.Fatalf("%v: hash %q", c, h)
		}
		dec := func(s string) int {
			v := 0
			for i := range len(s) {
				v = v*83 + strings.IndexByte(base83, s[i])
			}
			return v
		}
		dc := dec(h[2:6])
		if got := (color.NRGBA{uint8(dc >> 16), uint8(dc >> 8), uint8(dc), 255}); got != c {
			t.Errorf("DC decodes to %v, want %v", got, c)
		}
		// The AC terms of a flat image are not exactly zero (a half
		// cosine over whole pixels sums to 1/w), but their quantised
		// maximum is, so a decoder paints them at under 1/166 amplitude.
		if h[1] != '0' {
			t.Errorf("%v: AC maximum %q, want 0", c, h[1])
		}
	}
}
