package worker

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"
	"slices"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/courier-chat/courier"
	"github.com/courier-chat/courier/thumbnails"
)

func decodeImage(t *testing.T, name string, data []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s does not decode: %v", name, err)
	}
	return img
}

// TestMedia_Photos runs the process job on every photo format and on JPEGs
// in all 8 EXIF orientations, and checks the row, the event and that each
// variant decodes and shows the picture upright.
func TestMedia_Photos(t *testing.T) {
	e := newMediaEnv(t, MediaConfig{})
	pic := quadrants(640, 480)
	type tc struct {
		name, contentType string
		data              []byte
		w, h              int
		thumbType         string // image/jpeg or image/png (alpha)
		origType          string // what downloads of the original serve
	}
	cases := []tc{
		// Declared as nothing in particular: the bytes decide.
		{"jpeg", "application/octet-stream", encodeJPEG(t, pic), 640, 480, "image/jpeg", "image/jpeg"},
		{"png alpha", "image/png", alphaPNG(t), 400, 300, "image/png", "image/png"},
		{"gif animated", "image/gif", animatedGIF(t), 200, 150, "image/jpeg", "image/gif"},
		{"webp", "image/webp", ffmpegMake(t, encodePNG(t, pic), "-i {in} -c:v libwebp out.webp"), 640, 480, "image/jpeg", "image/jpeg"},
		{"heic", "image/heic", heicOf(t, pic), 640, 480, "image/jpeg", "image/jpeg"},
		{"tiff", "image/tiff", encodeTIFF(t, pic), 640, 480, "image/jpeg", "image/jpeg"},
		{"bmp", "image/bmp", encodeBMP(t, pic), 640, 480, "image/jpeg", "image/jpeg"},
	}
	for o := 1; o <= 8; o++ {
		cases = append(cases, tc{fmt.Sprintf("jpeg orientation %d", o), "image/jpeg", exifJPEG(t, pic, o, false),
			640, 480, "image/jpeg", "image/jpeg"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := e.upload(c.data, c.contentType, courier.BlobPlain)
			if err := e.run(TypeProcessBlob, b.ID); err != nil {
				t.Fatal(err)
			}
			got := e.blob(b.ID)
			if got.State != courier.BlobReady || got.Width != c.w || got.Height != c.h || got.Blurhash == "" {
				t.Fatalf("blob = %s %dx%d blurhash %q, want ready %dx%d with a blurhash (%s)",
					got.State, got.Width, got.Height, got.Blurhash, c.w, c.h, got.FailReason)
			}
			for _, v := range []struct {
				name string
				fit  int
			}{{"thumb", thumbnails.ThumbSize}, {"preview", thumbnails.PreviewSize}} {
				meta := got.Variant(v.name)
				img := decodeImage(t, v.name, e.variant(got, v.name))
				if meta.ContentType != c.thumbType || meta.Width != img.Bounds().Dx() || meta.Height != img.Bounds().Dy() {
					t.Errorf("%s: row %+v, decoded %v, want %s", v.name, meta, img.Bounds(), c.thumbType)
				}
				if max(meta.Width, meta.Height) > v.fit || (meta.Width > meta.Height) != (c.w > c.h) {
					t.Errorf("%s is %dx%d: not fit within %d with the original's aspect", v.name, meta.Width, meta.Height, v.fit)
				}
				checkQuadrants(t, v.name, img)
			}
			orig := got.Variant("original")
			if orig == nil || orig.ContentType != c.origType {
				t.Fatalf("original variant %+v, want %s", orig, c.origType)
			}
			info, err := thumbnails.Probe(bytes.NewReader(e.variant(got, "original")), orig.Size, thumbnails.Limits{})
			if err != nil || info.Width != c.w || info.Height != c.h {
				t.Errorf("original: %+v %v, want it to display %dx%d", info, err, c.w, c.h)
			}
		})
	}
	if n := strings.Count(strings.Join(e.eventTypes(), ","), courier.EventMediaReady); n != len(cases) {
		t.Errorf("%d media.ready events for %d photos: %v", n, len(cases), e.eventTypes())
	}
}

// TestMedia_PhotoWithoutGPS: the original served to others has no location
// and no EXIF but its orientation, and its pixels are not re-encoded.
func TestMedia_PhotoWithoutGPS(t *testing.T) {
	e := newMediaEnv(t, MediaConfig{})
	data := exifJPEG(t, quadrants(640, 480), 6, true)
	if !bytes.Contains(data, []byte(gpsMarker)) {
		t.Fatal("test JPEG has no GPS marker")
	}
	b := e.upload(data, "image/jpeg", courier.BlobPlain)
	if err := e.run(TypeProcessBlob, b.ID); err != nil {
		t.Fatal(err)
	}
	orig := e.variant(e.blob(b.ID), "original")
	if bytes.Contains(orig, []byte(gpsMarker)) || bytes.Contains(orig, []byte{0x88, 0x25}) {
		t.Fatal("served original still carries the GPS IFD")
	}
	// Same scan data: the stripped copy ends with the original's bytes.
	if tail := data[len(data)-1000:]; !bytes.HasSuffix(orig, tail) {
		t.Error("stripped original was re-encoded")
	}
	info, err := thumbnails.Probe(bytes.NewReader(orig), int64(len(orig)), thumbnails.Limits{})
	if err != nil || info.Orientation != 6 || info.Width != 640 || info.Height != 480 {
		t.Errorf("stripped original: %+v %v, want orientation 6 kept, 640x480 displayed", info, err)
	}
}

// TestMedia_BadFiles: bad media is failed with a reason, once, and never
// retried; running the job again changes nothing.
func TestMedia_BadFiles(t *testing.T) {
	e := newMediaEnv(t, MediaConfig{})
	jpg := encodeJPEG(t, quadrants(640, 480))
	random := bytes.Repeat([]byte("not media at all "), 2000)
	for _, c := range []struct {
		name, contentType string
		data              []byte
		reason            string
	}{
		{"bomb", "image/png", bombPNG(), "100000x100000"},
		{"truncated jpeg", "image/jpeg", jpg[:len(jpg)/2], "corrupt or truncated"},
		{"declared jpeg, is not", "image/jpeg", random, "unsupported image format"},
		{"corrupt video", "video/mp4", append([]byte("\x00\x00\x00\x18ftypmp42"), random...), "ffprobe could not read the media"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(e.eventTypes())
			b := e.upload(c.data, c.contentType, courier.BlobPlain)
			err := e.run(TypeProcessBlob, b.ID)
			if !errors.Is(err, asynq.SkipRetry) {
				t.Fatalf("err = %v, want SkipRetry", err)
			}
			got := e.blob(b.ID)
			if got.State != courier.BlobFailed || !strings.Contains(got.FailReason, c.reason) || len(got.Variants) != 0 {
				t.Fatalf("blob = %s %q %+v, want failed saying %q", got.State, got.FailReason, got.Variants, c.reason)
			}
			if err := e.run(TypeProcessBlob, b.ID); err != nil {
				t.Fatalf("second run: %v", err)
			}
			if evs := e.eventTypes()[before:]; !slices.Equal(evs, []string{courier.EventMediaFailed}) {
				t.Errorf("events = %v, want one media.failed", evs)
			}
		})
	}
}
