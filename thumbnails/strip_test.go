package thumbnails

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"testing"
)

// jpegSegments lists the markers before the first scan and the payload of
// each APP1, for assertions on stripped output.
func jpegSegments(t *testing.T, b []byte) (markers []byte, app1 [][]byte) {
	t.Helper()
	for off := 2; off+4 <= len(b); {
		m := b[off+1]
		n := int(binary.BigEndian.Uint16(b[off+2:]))
		markers = append(markers, m)
		if m == 0xE1 {
			app1 = append(app1, b[off+4:off+2+n])
		}
		if m == 0xDA {
			break
		}
		off += 2 + n
	}
	return markers, app1
}

func TestStripJPEG(t *testing.T) {
	// A photo as a phone writes it: EXIF with GPS and orientation 6, XMP,
	// an ICC profile, IPTC, a comment, and a trailer after EOI.
	src := encodeJPEG(t, storedFor(quadrants(160, 120), 6), 90)
	src = withAPP(t, src, 0xFE, []byte("shot at home"))
	src = withAPP(t, src, 0xED, []byte("Photoshop 3.0\x008BIM GPSDATA"))
	src = withAPP(t, src, 0xE2, []byte("ICC_PROFILE\x00\x01\x01fake-profile"))
	src = withAPP(t, src, 0xE1, []byte("http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta GPSDATA/>"))
	src = withAPP(t, src, 0xE1, append([]byte("Exif\x00\x00"), tiffIFD(binary.BigEndian, 6, true)...))
	src = append(src, []byte("trailer GPSDATA")...)

	var out bytes.Buffer
	if err := StripJPEG(&out, bytes.NewReader(src)); err != nil {
		t.Fatal(err)
	}
	got := out.Bytes()
	if bytes.Contains(got, []byte("GPSDATA")) || bytes.Contains(got, []byte("shot at home")) || bytes.Contains(got, []byte("xmpmeta")) {
		t.Fatal("metadata survived stripping")
	}
	if !bytes.Contains(got, []byte("ICC_PROFILE\x00\x01\x01fake-profile")) {
		t.Fatal("ICC profile was dropped")
	}
	markers, app1 := jpegSegments(t, got)
	for _, m := range markers {
		if m == 0xFE || m == 0xED {
			t.Errorf("marker 0x%02X kept", m)
		}
	}
	// Exactly one APP1, whose IFD0 holds the Orientation and nothing else.
	if len(app1) != 1 {
		t.Fatalf("%d APP1 segments", len(app1))
	}
	tiffb := exifPayload(app1[0])
	var tags []uint16
	if err := exifIFD0(bytes.NewReader(tiffb), int64(len(tiffb)), func(tag, _ uint16, _ uint32, _ []byte, _ binary.ByteOrder) bool {
		tags = append(tags, tag)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(tags) != 1 || tags[0] != tagOrientation || exifOrientation(bytes.NewReader(tiffb), int64(len(tiffb))) != 6 {
		t.Fatalf("EXIF tags %x", tags)
	}
	// The pixels are the very same: nothing was re-encoded.
	a, err := jpeg.Decode(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	b, err := jpeg.Decode(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.(*image.YCbCr).Y, b.(*image.YCbCr).Y) || !bytes.Equal(a.(*image.YCbCr).Cb, b.(*image.YCbCr).Cb) {
		t.Fatal("pixels changed")
	}
	// And the stripped copy still displays upright.
	res := process(t, got)
	checkQuadrants(t, "stripped", decodeVariant(t, res.Preview))
}

func TestStripJPEGUpright(t *testing.T) {
	src := withAPP(t, encodeJPEG(t, quadrants(64, 64), 90), 0xE1, append([]byte("Exif\x00\x00"), tiffIFD(binary.LittleEndian, 0, true)...))
	var out bytes.Buffer
	if err := StripJPEG(&out, bytes.NewReader(src)); err != nil {
		t.Fatal(err)
	}
	if _, app1 := jpegSegments(t, out.Bytes()); len(app1) != 0 {
		t.Fatalf("upright photo got %d APP1 segments", len(app1))
	}
}

func TestStripMetadata(t *testing.T) {
	var pngb bytes.Buffer
	if err := png.Encode(&pngb, storedFor(quadrants(200, 100), 6)); err != nil {
		t.Fatal(err)
	}
	p := pngb.Bytes()
	ihdrEnd := 8 + 12 + 13
	p = append(appendChunk(append([]byte{}, p[:ihdrEnd]...), "eXIf", tiffIFD(binary.LittleEndian, 6, true)), p[ihdrEnd:]...)
	p = append(appendChunk(append([]byte{}, p[:ihdrEnd]...), "tEXt", []byte("Comment\x00GPSDATA")), p[ihdrEnd:]...)
	jpg := withAPP(t, encodeJPEG(t, quadrants(64, 64), 90), 0xE1, append([]byte("Exif\x00\x00"), tiffIFD(binary.LittleEndian, 1, true)...))
	webp := convert(t, pngb.Bytes(), "in.png", "out.webp", "ffmpeg", "-loglevel", "error", "-i", "in.png", "out.webp")

	for _, c := range []struct {
		name, ct string
		data     []byte
		w, h     int
	}{
		{"png", "image/png", p, 200, 100},
		{"jpeg", "image/jpeg", jpg, 64, 64},
		{"webp", "image/jpeg", webp, 100, 200}, // re-encoded; no EXIF was given, so stored as is
		{"gif", "image/gif", withGIFMetadata(t, animatedGIF(t)), 16, 8},
	} {
		var out bytes.Buffer
		ct, err := StripMetadata(&out, bytes.NewReader(c.data), Limits{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if ct != c.ct || bytes.Contains(out.Bytes(), []byte("GPSDATA")) {
			t.Fatalf("%s: content type %s, GPS kept %v", c.name, ct, bytes.Contains(out.Bytes(), []byte("GPSDATA")))
		}
		res := process(t, out.Bytes())
		if c.name == "webp" {
			continue // a plain WebP has no orientation; its stored form is rotated
		}
		if res.Width != c.w || res.Height != c.h {
			t.Fatalf("%s: %dx%d", c.name, res.Width, res.Height)
		}
		if c.name == "gif" {
			continue // two colours, not quadrants (TestStripGIF checks the frames)
		}
		checkQuadrants(t, c.name, decodeVariant(t, res.Preview))
	}
}

func TestStripRejectsCorrupt(t *testing.T) {
	jpg := encodeJPEG(t, quadrants(64, 64), 90)
	for name, b := range map[string][]byte{"cut": jpg[:len(jpg)/2], "not jpeg": []byte("GIF89a"), "cut header": jpg[:5]} {
		if err := StripJPEG(io.Discard, bytes.NewReader(b)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
