package transcode

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/courier-chat/courier"
)

func TestProbe(t *testing.T) {
	tests := []struct {
		file string
		want Info // DurationMS is checked within 100 ms
	}{
		{"land1080.mp4", Info{DurationMS: 2000, Width: 1920, Height: 1080, VideoCodec: "h264", AudioCodec: "aac",
			PixelFormat: "yuv420p", Container: "mp4", HasVideo: true, HasAudio: true}},
		// Stored 320×240, displayed 240×320: the size is the displayed one.
		{"portrait.mp4", Info{DurationMS: 2000, Width: 240, Height: 320, Rotation: 270, VideoCodec: "h264",
			PixelFormat: "yuv420p", Container: "mp4", HasVideo: true}},
		{"hevc.mov", Info{DurationMS: 1000, Width: 320, Height: 240, VideoCodec: "hevc", AudioCodec: "aac",
			PixelFormat: "yuv420p", Container: "mov", HasVideo: true, HasAudio: true}},
		{"hdr.mov", Info{DurationMS: 1000, Width: 320, Height: 240, VideoCodec: "hevc", PixelFormat: "yuv420p10le",
			HDR: true, Container: "mov", HasVideo: true}},
		{"vp9.webm", Info{DurationMS: 1000, Width: 320, Height: 240, VideoCodec: "vp9", AudioCodec: "opus",
			PixelFormat: "yuv420p", Container: "webm", HasVideo: true, HasAudio: true}},
		{"short.mp4", Info{DurationMS: 500, Width: 160, Height: 120, VideoCodec: "h264",
			PixelFormat: "yuv420p", Container: "mp4", HasVideo: true}},
		{"good.mp4", Info{DurationMS: 1000, Width: 640, Height: 360, VideoCodec: "h264", AudioCodec: "aac",
			PixelFormat: "yuv420p", Container: "mp4", FastStart: true, HasVideo: true, HasAudio: true}},
		{"slow.mp4", Info{DurationMS: 1000, Width: 640, Height: 360, VideoCodec: "h264", AudioCodec: "aac",
			PixelFormat: "yuv420p", Container: "mp4", HasVideo: true, HasAudio: true}},
		{"audio.m4a", Info{DurationMS: 2000, AudioCodec: "aac", Container: "m4a", HasAudio: true}},
		// Cover art is no video: nothing to make a poster of or transcode.
		{"cover.mp3", Info{DurationMS: 1045, AudioCodec: "mp3", Container: "mp3", HasAudio: true}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Probe(context.Background(), fixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if d := got.DurationMS - tt.want.DurationMS; d < -100 || d > 100 {
				t.Errorf("DurationMS = %d, want about %d", got.DurationMS, tt.want.DurationMS)
			}
			got.DurationMS = tt.want.DurationMS
			if *got != tt.want {
				t.Errorf("Probe =\n %+v\nwant\n %+v", *got, tt.want)
			}
		})
	}
}

func TestAudioInfo(t *testing.T) {
	info, err := AudioInfo(context.Background(), fixture(t, "audio.m4a"))
	if err != nil {
		t.Fatal(err)
	}
	if info.DurationMS < 1900 || info.DurationMS > 2100 || info.HasVideo {
		t.Errorf("AudioInfo = %+v, want 2 s of audio only", info)
	}
	// A silent video is not audio.
	_, err = AudioInfo(context.Background(), fixture(t, "short.mp4"))
	if code := courier.ErrorCode(err); code != courier.EINVALID {
		t.Errorf("AudioInfo(silent video) code = %q (%v), want %q", code, err, courier.EINVALID)
	}
}

// Bad media is a permanent EINVALID whose message says why, in ffmpeg's
// words, without the worker's temp paths.
func TestProbeBadMedia(t *testing.T) {
	tests := []struct {
		file string
		why  string // in the client-safe message
	}{
		{"random.mp4", "Invalid data found"},
		{"truncated.mp4", "Invalid data found"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := fixture(t, tt.file)
			_, err := Probe(context.Background(), path)
			if code := courier.ErrorCode(err); code != courier.EINVALID {
				t.Fatalf("code = %q (%v), want %q", code, err, courier.EINVALID)
			}
			msg := courier.ErrorMessage(err)
			if !strings.Contains(msg, tt.why) {
				t.Errorf("message %q does not say %q", msg, tt.why)
			}
			// The whole error keeps ffmpeg's stderr tail: the "why" behind it.
			var ee *ExecError
			if !errors.As(err, &ee) || !strings.Contains(ee.Stderr, "moov atom not found") {
				t.Errorf("error %v carries no stderr saying moov atom not found", err)
			}
			if strings.Contains(err.Error(), fixtureDir) {
				t.Errorf("error %q shows the file's path", err)
			}
		})
	}
}

// An HLS playlist named .mp4 would make ffmpeg read other files on the
// worker into the output; only real containers may be opened.
func TestProbeRefusesPlaylist(t *testing.T) {
	path := t.TempDir() + "/evil.mp4"
	writeTestFile(t, path, "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:1.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n")
	_, err := Probe(context.Background(), path)
	if code := courier.ErrorCode(err); code != courier.EINVALID || !strings.Contains(err.Error(), "not on whitelist") {
		t.Fatalf("Probe(playlist) = %v, want EINVALID for a format not on the whitelist", err)
	}
}

func TestProbeEmptyFile(t *testing.T) {
	path := t.TempDir() + "/empty.mp4"
	writeTestFile(t, path, "")
	if _, err := Probe(context.Background(), path); courier.ErrorCode(err) != courier.EINVALID {
		t.Fatalf("Probe(empty) = %v, want EINVALID", err)
	}
}

// Frames larger than MaxPixels are refused from the header.
func TestProbeMaxPixels(t *testing.T) {
	c := Config{MaxPixels: 320*240 - 1}
	_, err := c.Probe(context.Background(), fixture(t, "hevc.mov"))
	if code := courier.ErrorCode(err); code != courier.ETOOLARGE {
		t.Fatalf("code = %q (%v), want %q", code, err, courier.ETOOLARGE)
	}
	c.MaxPixels = 320 * 240
	if _, err := c.Probe(context.Background(), fixture(t, "hevc.mov")); err != nil {
		t.Fatalf("at exactly MaxPixels: %v", err)
	}
}

// A run out of time or a missing executable is not the media's fault: the
// error must not carry EINVALID, so the worker retries instead of failing
// the blob.
func TestTransientErrors(t *testing.T) {
	path := fixture(t, "land1080.mp4")
	t.Run("deadline", func(t *testing.T) {
		c := Config{Timeout: time.Millisecond}
		err := c.MP4(context.Background(), path, t.TempDir()+"/out.mp4", &Info{HasVideo: true, Width: 1920, Height: 1080, DurationMS: 2000})
		if !errors.Is(err, context.DeadlineExceeded) || courier.ErrorCode(err) != courier.EINTERNAL {
			t.Fatalf("err = %v (code %q), want a deadline error with code %q", err, courier.ErrorCode(err), courier.EINTERNAL)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Probe(ctx, path)
		if !errors.Is(err, context.Canceled) || courier.ErrorCode(err) != courier.EINTERNAL {
			t.Fatalf("err = %v, want context.Canceled with code %q", err, courier.EINTERNAL)
		}
	})
	t.Run("missing ffprobe", func(t *testing.T) {
		_, err := Config{FFprobe: "courier-no-such-ffprobe"}.Probe(context.Background(), path)
		if !errors.Is(err, exec.ErrNotFound) || courier.ErrorCode(err) != courier.EINTERNAL {
			t.Fatalf("err = %v, want exec.ErrNotFound with code %q", err, courier.EINTERNAL)
		}
	})
}

// parseProbe on ffprobe output as other files produce it: an iPhone
// portrait video (display matrix -90), an old Android one (rotate tag).
func TestParseProbeRotation(t *testing.T) {
	tests := []struct {
		name, stream string
		rotation     int
		w, h         int
	}{
		{"iphone portrait", `"side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}]`, 90, 1080, 1920},
		{"upside down", `"side_data_list":[{"rotation":180}]`, 180, 1920, 1080},
		{"counterclockwise", `"side_data_list":[{"rotation":90}]`, 270, 1080, 1920},
		{"rotate tag", `"tags":{"rotate":"90"}`, 90, 1080, 1920},
		{"matrix wins over tag", `"tags":{"rotate":"90"},"side_data_list":[{"rotation":0}]`, 0, 1920, 1080},
		{"rounded to a quarter turn", `"side_data_list":[{"rotation":-89.5}]`, 90, 1080, 1920},
		{"other side data", `"side_data_list":[{"side_data_type":"Spherical Mapping"}]`, 0, 1920, 1080},
		{"none", `"tags":{}`, 0, 1920, 1080},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := `{"streams":[{"codec_type":"video","codec_name":"hevc","width":1920,"height":1080,` + tt.stream + `}],` +
				`"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"3.5","tags":{"major_brand":"qt  "}}}`
			var p ffprobeOutput
			if err := json.Unmarshal([]byte(js), &p); err != nil {
				t.Fatal(err)
			}
			info, err := Config{}.withDefaults().parseProbe(&p)
			if err != nil {
				t.Fatal(err)
			}
			if info.Rotation != tt.rotation || info.Width != tt.w || info.Height != tt.h {
				t.Errorf("rotation %d, %dx%d; want %d, %dx%d", info.Rotation, info.Width, info.Height, tt.rotation, tt.w, tt.h)
			}
			if info.Container != "mov" || info.DurationMS != 3500 {
				t.Errorf("container %q duration %d, want mov 3500", info.Container, info.DurationMS)
			}
		})
	}
}
