package transcode

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/courier-chat/courier"
)

func TestMP4(t *testing.T) {
	tests := []struct {
		file  string
		w, h  int
		audio bool
	}{
		{"land1080.mp4", 1280, 720, true},
		{"portrait.mp4", 240, 320, false}, // turned upright, no rotation left
		{"hevc.mov", 320, 240, true},
		{"vp9.webm", 320, 240, true}, // Opus becomes AAC
		{"hdr.mov", 320, 240, false}, // tone-mapped to SDR 8-bit
		{"slow.mp4", 640, 360, true}, // only the faststart was missing
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			ctx := context.Background()
			src := fixture(t, tt.file)
			in, err := Probe(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			if !NeedsTranscode(in) {
				t.Fatalf("NeedsTranscode(%+v) = false", in)
			}
			dst := t.TempDir() + "/out.mp4"
			if err := MP4(ctx, src, dst, in); err != nil {
				t.Fatal(err)
			}
			out, err := Probe(ctx, dst)
			if err != nil {
				t.Fatal(err)
			}
			want := Info{DurationMS: out.DurationMS, Width: tt.w, Height: tt.h, VideoCodec: "h264", PixelFormat: "yuv420p",
				Container: "mp4", FastStart: true, HasVideo: true}
			if tt.audio {
				want.HasAudio, want.AudioCodec = true, "aac"
			}
			if *out != want {
				t.Errorf("output is\n %+v\nwant\n %+v", *out, want)
			}
			if d := out.DurationMS - in.DurationMS; d < -150 || d > 150 {
				t.Errorf("output lasts %d ms, input %d ms", out.DurationMS, in.DurationMS)
			}
			if NeedsTranscode(out) {
				t.Errorf("the output itself needs a transcode: %+v", out)
			}
			tags, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format_tags:stream=color_transfer",
				"-of", "flat", dst).Output()
			if err != nil {
				t.Fatal(err)
			}
			// Where the video was filmed stays with the original.
			if strings.Contains(string(tags), "location") || strings.Contains(string(tags), "37.7858") {
				t.Errorf("output keeps the location: %s", tags)
			}
			// HDR input comes out labelled (and mapped to) SDR BT.709.
			if in.HDR && !strings.Contains(string(tags), `color_transfer="bt709"`) {
				t.Errorf("HDR output is not BT.709: %s", tags)
			}
		})
	}
}

// The rotation is applied to the pixels, not carried as metadata that some
// players ignore: a poster of the output, which has no rotation, shows the
// square where the original displays it.
func TestMP4Upright(t *testing.T) {
	ctx := context.Background()
	dst := t.TempDir() + "/out.mp4"
	if err := MP4(ctx, fixture(t, "portrait.mp4"), dst, nil); err != nil {
		t.Fatal(err)
	}
	poster := t.TempDir() + "/poster.jpg"
	if err := Poster(ctx, dst, poster, nil); err != nil {
		t.Fatal(err)
	}
	img := decodeJPEG(t, poster)
	if b := img.Bounds(); b.Dx() != 240 || b.Dy() != 320 {
		t.Fatalf("poster is %v, want 240x320", b)
	}
	if r, _, _, _ := img.At(20, 300).RGBA(); r>>8 < 200 {
		t.Errorf("no white square bottom-left: the pixels were not turned")
	}
}

func TestMP4Refuses(t *testing.T) {
	tests := []struct {
		name string
		file string
		cfg  Config
		info *Info
		code string
	}{
		{"audio only", "audio.m4a", Config{}, nil, courier.EINVALID},
		{"random bytes", "random.mp4", Config{}, nil, courier.EINVALID},
		// Probe was skipped (the caller passed an Info): ffmpeg's own
		// failure is still classified as bad media.
		{"truncated", "truncated.mp4", Config{}, &Info{HasVideo: true, Width: 640, Height: 360, DurationMS: 1000}, courier.EINVALID},
		{"too long", "short.mp4", Config{MaxDuration: 100e6}, nil, courier.ETOOLARGE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.MP4(context.Background(), fixture(t, tt.file), t.TempDir()+"/out.mp4", tt.info)
			if code := courier.ErrorCode(err); code != tt.code {
				t.Fatalf("code = %q (%v), want %q", code, err, tt.code)
			}
		})
	}
}

func TestNeedsTranscode(t *testing.T) {
	good := Info{Width: 640, Height: 360, VideoCodec: "h264", AudioCodec: "aac", PixelFormat: "yuv420p",
		Container: "mp4", FastStart: true, HasVideo: true, HasAudio: true}
	tests := []struct {
		name   string
		change func(*Info)
		want   bool
	}{
		{"already good", func(*Info) {}, false},
		{"720p landscape", func(i *Info) { i.Width, i.Height = 1280, 720 }, false},
		{"720p portrait", func(i *Info) { i.Width, i.Height = 720, 1280 }, false},
		{"no audio", func(i *Info) { i.HasAudio, i.AudioCodec = false, "" }, false},
		{"mov", func(i *Info) { i.Container = "mov" }, false},
		{"audio only", func(i *Info) { *i = Info{HasAudio: true, AudioCodec: "aac", Container: "m4a"} }, false},
		{"1080p", func(i *Info) { i.Width, i.Height = 1920, 1080 }, true},
		{"1080p portrait", func(i *Info) { i.Width, i.Height = 1080, 1920 }, true},
		{"not faststart", func(i *Info) { i.FastStart = false }, true},
		{"hevc", func(i *Info) { i.VideoCodec = "hevc" }, true},
		{"opus", func(i *Info) { i.AudioCodec = "opus" }, true},
		{"10-bit", func(i *Info) { i.PixelFormat = "yuv420p10le" }, true},
		{"HDR", func(i *Info) { i.HDR = true }, true},
		{"webm", func(i *Info) { i.Container = "webm" }, true},
	}
	for _, tt := range tests {
		info := good
		tt.change(&info)
		if got := NeedsTranscode(&info); got != tt.want {
			t.Errorf("%s: NeedsTranscode(%+v) = %v, want %v", tt.name, info, got, tt.want)
		}
	}
}

func TestMP4Size(t *testing.T) {
	tests := []struct{ w, h, wantW, wantH int }{
		{1920, 1080, 1280, 720},
		{1080, 1920, 720, 1280},
		{3840, 2160, 1280, 720},
		{1440, 1080, 960, 720},
		{640, 360, 640, 360},
		{721, 1281, 720, 1278}, // 1281×720/721 = 1279.2, made even
		{319, 239, 318, 238},   // never enlarged, made even
		{1, 1, 2, 2},
	}
	for _, tt := range tests {
		w, h := MP4Size(&Info{Width: tt.w, Height: tt.h})
		if w != tt.wantW || h != tt.wantH {
			t.Errorf("MP4Size(%dx%d) = %dx%d, want %dx%d", tt.w, tt.h, w, h, tt.wantW, tt.wantH)
		}
	}
}
