package transcode

import (
	"context"
	"image"
	"image/jpeg"
	"os"
	"testing"
	"time"

	"github.com/courier-chat/courier"
)

func TestPoster(t *testing.T) {
	type rgb struct{ r, g, b uint32 } // 8-bit levels
	tests := []struct {
		file   string
		info   *Info // nil: Poster probes
		w, h   int
		probes map[image.Point]rgb // pixels of the poster and their colors
	}{
		// Fits within 1280: 1920×1080 → 1280×720.
		{file: "land1080.mp4", w: 1280, h: 720},
		// Taken at 1 s: the second half is blue, the first red.
		{file: "redblue.mp4", w: 320, h: 240, probes: map[image.Point]rgb{{160, 120}: {0, 0, 255}}},
		// A 0.5 s clip gets its first frame (red), not a frame near the end.
		{file: "short.mp4", w: 160, h: 120, probes: map[image.Point]rgb{{80, 60}: {255, 0, 0}}},
		// A duration that lies: the seek to 1 s finds nothing, so Poster
		// falls back to the first frame.
		{file: "short.mp4", info: &Info{HasVideo: true, DurationMS: 10_000, Width: 160, Height: 120},
			w: 160, h: 120, probes: map[image.Point]rgb{{80, 60}: {255, 0, 0}}},
		// Stored 320×240 with a white square top-left, displayed turned 90°
		// counterclockwise: the poster is portrait, the square bottom-left.
		{file: "portrait.mp4", w: 240, h: 320, probes: map[image.Point]rgb{
			{20, 300}: {255, 255, 255}, {20, 20}: {0, 0, 0}, {220, 20}: {0, 0, 0}, {220, 300}: {0, 0, 0}}},
		{file: "hevc.mov", w: 320, h: 240},
		{file: "vp9.webm", w: 320, h: 240},
		{file: "hdr.mov", w: 320, h: 240},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dst := t.TempDir() + "/poster.jpg"
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := Poster(ctx, fixture(t, tt.file), dst, tt.info); err != nil {
				t.Fatal(err)
			}
			img := decodeJPEG(t, dst)
			if b := img.Bounds(); b.Dx() != tt.w || b.Dy() != tt.h {
				t.Errorf("poster is %dx%d, want %dx%d", b.Dx(), b.Dy(), tt.w, tt.h)
			}
			for p, want := range tt.probes {
				r, g, b, _ := img.At(p.X, p.Y).RGBA()
				got := rgb{r >> 8, g >> 8, b >> 8}
				if !near(got.r, want.r) || !near(got.g, want.g) || !near(got.b, want.b) {
					t.Errorf("pixel %v = %v, want about %v", p, got, want)
				}
			}
		})
	}
}

func TestPosterRefuses(t *testing.T) {
	tests := []struct {
		file string
		code string
	}{
		{"audio.m4a", courier.EINVALID},
		{"random.mp4", courier.EINVALID},
		{"truncated.mp4", courier.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			dst := t.TempDir() + "/poster.jpg"
			err := Poster(context.Background(), fixture(t, tt.file), dst, nil)
			if code := courier.ErrorCode(err); code != tt.code {
				t.Fatalf("code = %q (%v), want %q", code, err, tt.code)
			}
			if _, err := os.Stat(dst); !os.IsNotExist(err) {
				t.Errorf("a failed Poster left %s behind", dst)
			}
		})
	}
}

func TestPosterTime(t *testing.T) {
	tests := []struct {
		durationMS int64
		want       time.Duration
	}{
		{0, 0}, // unknown duration: the first frame always exists
		{500, 0},
		{1499, 0},
		{1500, time.Second},
		{3_600_000, time.Second},
	}
	for _, tt := range tests {
		if got := posterTime(tt.durationMS); got != tt.want {
			t.Errorf("posterTime(%d) = %v, want %v", tt.durationMS, got, tt.want)
		}
	}
}

func decodeJPEG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatalf("%s is no JPEG: %v", path, err)
	}
	return img
}

// near allows for JPEG and YUV rounding.
func near(a, b uint32) bool { return max(a, b)-min(a, b) <= 40 }
