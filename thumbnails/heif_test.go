package thumbnails

import (
	"bytes"
	"context"
	"encoding/binary"
	"image"
	"image/color"
	"strings"
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

// heicWithIspe encodes a w×h grey picture as HEIC and rewrites its ispe
// to claim cw×ch: the container says one size, the coded stream another.
func heicWithIspe(t *testing.T, w, h int, cw, ch uint32) []byte {
	t.Helper()
	src := image.NewNRGBA(image.Rect(0, 0, w, h))
	heic := convert(t, encodeJPEG(t, src, 90), "in.jpg", "out.heic", "heif-enc", "-q", "50", "in.jpg", "-o", "out.heic")
	if n := bytes.Count(heic, []byte("ispe")); n != 1 {
		t.Fatalf("test HEIC has %d ispe boxes, want 1", n)
	}
	i := bytes.Index(heic, []byte("ispe"))
	binary.BigEndian.PutUint32(heic[i+8:], cw)
	binary.BigEndian.PutUint32(heic[i+12:], ch)
	return heic
}

// A HEIC whose ispe claims 64×64 over a 2000×2000 coded frame is refused
// from its header like any other image over the limit: the decoder would
// make the coded frame, whatever ispe says. (With the real limit the
// same file at 16000×16000 took 1.5 GB and a minute to decode.)
func TestProbe_HEICCodedFrameLargerThanIspe(t *testing.T) {
	heic := heicWithIspe(t, 2000, 2000, 64, 64)
	lim := Limits{MaxPixels: 1_000_000}
	_, err := Probe(bytes.NewReader(heic), int64(len(heic)), lim)
	if courier.ErrorCode(err) != courier.ETOOLARGE || !strings.Contains(courier.ErrorMessage(err), "2000x2000") {
		t.Fatalf("Probe: %v, want %s naming the coded 2000x2000", err, courier.ETOOLARGE)
	}
	if _, err := Process(context.Background(), bytes.NewReader(heic), lim); courier.ErrorCode(err) != courier.ETOOLARGE {
		t.Fatalf("Process: %v, want %s", err, courier.ETOOLARGE)
	}
	// Within the limit it is read, and its cost is the coded frame's.
	info, err := Probe(bytes.NewReader(heic), int64(len(heic)), Limits{})
	if err != nil || info.Width != 64 || info.DecodedPixels != 2000*2000 {
		t.Fatalf("Probe = %+v, %v; want 64x64 displayed, 4000000 pixels decoded", info, err)
	}
}

// A parameter set inside the item data overrides the hvcC's: the size
// check reads those too. The 64×64 file's item is moved to the end of
// the file behind the SPS of a 2000×2000 one.
func TestHeifCodedSize_SPSInItemData(t *testing.T) {
	small := heicWithIspe(t, 64, 64, 64, 64)
	big := heicWithIspe(t, 2000, 2000, 2000, 2000)
	var bigSPS []byte
	for _, nal := range hvcCNALs(hvcC(t, big)) {
		if _, _, ok := spsSize(nal); ok {
			bigSPS = nal
		}
	}
	if bigSPS == nil {
		t.Fatal("no SPS in the 2000x2000 file's hvcC")
	}
	if w, h, err := heifCodedSize(small); err != nil || w != 64 || h != 64 {
		t.Fatalf("heifCodedSize(64x64) = %dx%d, %v", w, h, err)
	}
	meta := findBox(small, "meta")[4:]
	ext, err := itemExtents(findBox(meta, "iloc"), hvc1Items(findBox(meta, "iinf")))
	if err != nil || len(ext) != 1 || ext[0].idat {
		t.Fatalf("extents of the 64x64 file: %+v, %v; want one in the file", ext, err)
	}
	// heif-enc writes one item with a 4-byte base offset and one extent
	// of 4-byte offset and length; point them at a copy of the item data
	// with the SPS in front, appended to the file.
	iloc := findBox(meta, "iloc")
	if len(iloc) != 26 || !bytes.Equal(iloc[:8], []byte{0, 0, 0, 0, 0x44, 0x40, 0, 1}) {
		t.Fatalf("heif-enc wrote an iloc this test does not know: %x", iloc)
	}
	item := small[ext[0].offset : ext[0].offset+ext[0].length]
	moved := binary.BigEndian.AppendUint32(nil, uint32(len(bigSPS)))
	moved = append(append(moved, bigSPS...), item...)
	file := append(bytes.Clone(small), moved...)
	at := bytes.Index(file, iloc)
	binary.BigEndian.PutUint32(file[at+12:], uint32(len(small))) // base_offset
	binary.BigEndian.PutUint32(file[at+18:], 0)                  // extent_offset
	binary.BigEndian.PutUint32(file[at+22:], uint32(len(moved))) // extent_length
	if w, h, err := heifCodedSize(file); err != nil || w != 2000 || h != 2000 {
		t.Fatalf("heifCodedSize = %dx%d, %v; want the in-band SPS's 2000x2000", w, h, err)
	}
}

// hvcC returns the body of the first hvcC property of a HEIC file.
func hvcC(t *testing.T, heic []byte) []byte {
	t.Helper()
	ipco := findBox(findBox(findBox(heic, "meta")[4:], "iprp"), "ipco")
	for rest := ipco; len(rest) > 0; {
		typ, body, next, ok := nextBox(rest)
		if !ok {
			break
		}
		if typ == "hvcC" {
			return body
		}
		rest = next
	}
	t.Fatal("no hvcC")
	return nil
}

func FuzzHeifCodedSize(f *testing.F) {
	f.Add([]byte("\x00\x00\x00\x24meta\x00\x00\x00\x00\x00\x00\x00\x18iprp\x00\x00\x00\x10ipco\x00\x00\x00\x08hvcC"))
	f.Add([]byte("\x00\x00\x00\x1cmeta\x00\x00\x00\x00\x00\x00\x00\x10iloc\x01\x00\x00\x00\x44\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, h, err := heifCodedSize(data)
		if err == nil && (w < 0 || h < 0 || (w == 0) != (h == 0)) {
			t.Fatalf("heifCodedSize = %dx%d with no error", w, h)
		}
	})
}

// spsSize reads the sizes of real parameter sets, and nothing from
// truncated or other NAL units.
func FuzzSPSSize(f *testing.F) {
	f.Add([]byte{0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x5a, 0xa0, 0x04, 0x02, 0x00, 0x80, 0x59})
	f.Fuzz(func(t *testing.T, nal []byte) {
		if w, h, ok := spsSize(nal); ok && (w <= 0 || h <= 0) {
			t.Fatalf("spsSize = %dx%d, ok", w, h)
		}
	})
}

// The decode memory of a HEIC is the coded frame's, not what ispe says.
func TestDecodeBytes_HEICCountsTheCodedFrame(t *testing.T) {
	heic := heicWithIspe(t, 2000, 2000, 64, 64)
	info, err := Probe(bytes.NewReader(heic), int64(len(heic)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if n := info.DecodeBytes(int64(len(heic))); n < 2000*2000*5 {
		t.Fatalf("DecodeBytes = %d, want at least the 2000x2000 frame's %d", n, 2000*2000*5)
	}
}
