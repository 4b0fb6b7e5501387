package thumbnails

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"testing"

	"github.com/courier-chat/courier"
)

// iPhone photos are 12 MP HEICs stored as grids of tiles, hundreds of KB
// to a few MB: far past the 32 KiB a header-only HEIC probe looks at.
func TestProcess_LargeHEIC(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 4032, 3024))
	for y := 0; y < 3024; y++ {
		for x := 0; x < 4032; x++ {
			// Noise-like content so the HEIC is large, red in the top left.
			v := uint8((x*7 + y*13 + x*y) % 251)
			c := color.NRGBA{v, v / 2, 255 - v, 255}
			if x < 2016 && y < 1512 {
				c = color.NRGBA{230, 20, 20, 255}
			}
			src.Set(x, y, c)
		}
	}
	heic := convert(t, encodeJPEG(t, src, 92), "in.jpg", "out.heic", "heif-enc", "-q", "80", "in.jpg", "-o", "out.heic")
	if len(heic) < 64<<10 {
		t.Fatalf("test HEIC is only %d bytes; want one past 64 KiB", len(heic))
	}
	info, err := Probe(bytes.NewReader(heic), int64(len(heic)), Limits{})
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if info.Format != FormatHEIC || info.Width != 4032 || info.Height != 3024 {
		t.Fatalf("Probe = %+v, want heic 4032x3024", info)
	}
	res, err := Process(context.Background(), bytes.NewReader(heic), Limits{})
	if err != nil {
		t.Fatalf("Process: %v", err)
	}
	if res.Width != 4032 || res.Height != 3024 || res.Preview.Width != 1280 || res.Thumb.Width != 320 {
		t.Fatalf("Process = %dx%d preview %dx%d thumb %dx%d", res.Width, res.Height,
			res.Preview.Width, res.Preview.Height, res.Thumb.Width, res.Thumb.Height)
	}
	thumb, _, err := image.Decode(bytes.NewReader(res.Thumb.Data))
	if err != nil {
		t.Fatal(err)
	}
	if c := thumb.At(40, 40); !near(c, color.NRGBA{230, 20, 20, 255}, 40) {
		t.Errorf("top-left of thumb = %v, want red", c)
	}
}

// A HEIC whose ispe claims 100000×100000 is refused before decoding.
func TestProbe_HEICBomb(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	heic := convert(t, encodeJPEG(t, src, 90), "in.jpg", "out.heic", "heif-enc", "-q", "50", "in.jpg", "-o", "out.heic")
	i := bytes.Index(heic, []byte("ispe"))
	if i < 0 {
		t.Fatal("no ispe box in the test HEIC")
	}
	binary.BigEndian.PutUint32(heic[i+8:], 100000)
	binary.BigEndian.PutUint32(heic[i+12:], 100000)
	_, err := Probe(bytes.NewReader(heic), int64(len(heic)), Limits{})
	if courier.ErrorCode(err) != courier.ETOOLARGE {
		t.Fatalf("Probe of a HEIC bomb: %v, want %s", err, courier.ETOOLARGE)
	}
}

func TestHeifConfig_Malformed(t *testing.T) {
	for _, data := range [][]byte{
		nil,
		[]byte("\x00\x00\x00\x08meta"),
		[]byte("\x00\x00\x00\x01meta"), // 64-bit size, missing
		[]byte("\xff\xff\xff\xffmeta\x00\x00\x00\x00"), // size past the end
	} {
		if _, err := heifConfig(data); err == nil {
			t.Errorf("heifConfig(%q) = nil error", data)
		}
	}
}

func FuzzHeifConfig(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"))
	f.Add([]byte("\x00\x00\x00\x24meta\x00\x00\x00\x00\x00\x00\x00\x18iprp\x00\x00\x00\x10ipco\x00\x00\x00\x08ispe"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := heifConfig(data)
		if err == nil && (cfg.Width <= 0 || cfg.Height <= 0) {
			t.Fatalf("heifConfig = %+v with no error", cfg)
		}
	})
}
