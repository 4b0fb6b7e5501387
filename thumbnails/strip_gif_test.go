package thumbnails

import (
	"bytes"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"testing"
)

// animatedGIF is a two-frame looping GIF (with a NETSCAPE2.0 extension).
func animatedGIF(t testing.TB) []byte {
	t.Helper()
	var frames []*image.Paletted
	for _, c := range []color.Color{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}} {
		f := image.NewPaletted(image.Rect(0, 0, 16, 8), palette.Plan9)
		for y := range 8 {
			for x := range 16 {
				if x < 8 {
					f.Set(x, y, c)
				}
			}
		}
		frames = append(frames, f)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: frames, Delay: []int{10, 20}, LoopCount: 3}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withGIFMetadata puts a comment and an XMP application extension before
// the first image and data after the trailer, each saying GPSDATA.
func withGIFMetadata(t testing.TB, g []byte) []byte {
	t.Helper()
	first := bytes.IndexByte(g[13+colorTableLen(g[10]):], 0x21) + 13 + colorTableLen(g[10])
	comment := append([]byte{0x21, 0xFE, 7}, "GPSDATA\x00"...)
	xmp := append([]byte{0x21, 0xFF, 11}, "XMP DataXMP"...)
	xmp = append(append(xmp, 7), "GPSDATA\x00"...)
	out := append(append(append(append([]byte{}, g[:first]...), comment...), xmp...), g[first:]...)
	return append(out, "GPSDATA"...)
}

func TestStripGIF(t *testing.T) {
	orig := animatedGIF(t)
	in := withGIFMetadata(t, orig)
	if !bytes.Contains(in, []byte("GPSDATA")) {
		t.Fatal("test GIF lacks its metadata")
	}
	out, err := stripGIF(in)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("GPSDATA")) {
		t.Fatal("metadata kept")
	}
	if !bytes.Equal(out, orig) {
		t.Fatalf("stripped GIF differs from the one without metadata (%d vs %d bytes)", len(out), len(orig))
	}
	g, err := gif.DecodeAll(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Image) != 2 || g.LoopCount != 3 || g.Delay[0] != 10 || g.Delay[1] != 20 {
		t.Fatalf("animation lost: %d frames, loop %d, delays %v", len(g.Image), g.LoopCount, g.Delay)
	}

	// Cut inside the second frame: the first survives, with a trailer.
	second := bytes.LastIndexByte(orig, 0x2C)
	cut, err := stripGIF(orig[:second+12])
	if err != nil {
		t.Fatal(err)
	}
	if g, err := gif.DecodeAll(bytes.NewReader(cut)); err != nil || len(g.Image) != 1 {
		t.Fatalf("cut GIF: %v frames, %v", g, err)
	}
	for name, b := range map[string][]byte{"not gif": []byte("PNG"), "cut header": orig[:10], "cut colour table": []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff")} {
		if _, err := stripGIF(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// FuzzStripGIF: any bytes either fail cleanly or give a GIF that strips to
// itself.
func FuzzStripGIF(f *testing.F) {
	g := animatedGIF(f)
	f.Add(g)
	f.Add(withGIFMetadata(f, g))
	f.Add([]byte("GIF89a\x01\x00\x01\x00\x00\x00\x00\x21\xFE\x03abc\x00\x3B"))
	f.Fuzz(func(t *testing.T, b []byte) { stripsToItself(t, stripGIF, b) })
}
