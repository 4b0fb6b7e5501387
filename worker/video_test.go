package worker

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/courier-chat/courier"
)

// Test clips, made with ffmpeg's synthetic sources at test time.
const (
	tone = "-f lavfi -i sine=frequency=440:duration=2"
	// Stored 320×240 landscape; portrait when tagged rotate=90 (below).
	landscapeClip = "-f lavfi -i color=black:size=320x240:rate=30:duration=2,drawbox=x=0:y=0:w=40:h=40:color=white:t=fill " +
		"-c:v libx264 -preset ultrafast -pix_fmt yuv420p land.mp4"
	rotate90 = "-i {in} -c copy -metadata:s:v:0 rotate=90 portrait.mp4"
	hevcClip = "-f lavfi -i testsrc=size=320x240:rate=30:duration=2 " + tone + " -c:v libx265 -preset ultrafast " +
		"-x265-params log-level=error -tag:v hvc1 -pix_fmt yuv420p -c:a aac -shortest hevc.mov"
	vp9Clip = "-f lavfi -i testsrc=size=320x240:rate=30:duration=2 " + tone + " -c:v libvpx-vp9 -deadline realtime " +
		"-cpu-used 8 -b:v 200k -pix_fmt yuv420p -c:a libopus -shortest vp9.webm"
	// Plays everywhere as it is, and says where it was filmed, as phones do.
	goodClip = "-f lavfi -i testsrc=size=640x360:rate=30:duration=1 " + tone + " -c:v libx264 -preset ultrafast " +
		"-pix_fmt yuv420p -c:a aac -shortest -movflags +faststart -metadata location=+48.8577+002.2950/ good.mp4"
	audioClip = tone + " -c:a aac audio.m4a"
)

// TestMedia_Videos: the process job gives a poster and a thumb at once and
// marks the blob ready; the transcode job, queued on the video queue, adds
// the MP4 and sends a second media.ready. Audio gets its duration.
func TestMedia_Videos(t *testing.T) {
	e := newMediaEnv(t, MediaConfig{})
	for _, c := range []struct {
		name, contentType string
		clip              []byte
		w, h              int
		vcodec, acodec    string
		rotation          int
		mp4               bool
	}{
		// The displayed size is the rotated one, and so is the poster's.
		// rotate=90 is stored as a display matrix turning 90° counterclockwise,
		// which is 270° clockwise.
		{"portrait rotated", "video/mp4", ffmpegMake(t, ffmpegMake(t, nil, landscapeClip), rotate90), 240, 320, "h264", "", 270, true},
		{"hevc mov", "video/quicktime", ffmpegMake(t, nil, hevcClip), 320, 240, "hevc", "aac", 0, true},
		{"vp9 webm", "video/webm", ffmpegMake(t, nil, vp9Clip), 320, 240, "vp9", "opus", 0, true},
		{"h264 360p faststart", "video/mp4", ffmpegMake(t, nil, goodClip), 640, 360, "h264", "aac", 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(e.eventTypes())
			b := e.upload(c.clip, c.contentType, courier.BlobPlain)
			if err := e.run(TypeProcessBlob, b.ID); err != nil {
				t.Fatal(err)
			}
			got := e.blob(b.ID)
			if got.State != courier.BlobReady || got.Width != c.w || got.Height != c.h || got.DurationMS < 900 {
				t.Fatalf("blob = %s %dx%d %d ms (%s), want ready %dx%d", got.State, got.Width, got.Height,
					got.DurationMS, got.FailReason, c.w, c.h)
			}
			if got.VideoCodec != c.vcodec || got.AudioCodec != c.acodec || got.Rotation != c.rotation {
				t.Errorf("recorded codecs %q/%q rotation %d, want %q/%q %d", got.VideoCodec, got.AudioCodec,
					got.Rotation, c.vcodec, c.acodec, c.rotation)
			}
			for _, name := range []string{"poster", "thumb"} {
				v := got.Variant(name)
				img := decodeImage(t, name, e.variant(got, name))
				w, h := img.Bounds().Dx(), img.Bounds().Dy()
				if v.ContentType != "image/jpeg" || v.Width != w || v.Height != h || w*c.h != h*c.w || max(w, h) > c.w+c.h {
					t.Errorf("%s: %+v decodes to %dx%d, want a JPEG shaped %dx%d", name, v, w, h, c.w, c.h)
				}
			}
			if c.name == "portrait rotated" {
				// rotate=90 is a display matrix turning 90° counterclockwise:
				// the stored top-left box shows bottom-left, upright.
				img := decodeImage(t, "poster", e.variant(got, "poster"))
				r, _, _, _ := img.At(10, c.h-10).RGBA()
				r2, _, _, _ := img.At(10, 10).RGBA()
				if r < 0xc000 || r2 > 0x4000 {
					t.Errorf("poster not turned upright: bottom-left %x, top-left %x (want white, black)", r, r2)
				}
			}
			if v := got.Variant("thumb"); max(v.Width, v.Height) != 320 {
				t.Errorf("thumb is %dx%d, want it to fit 320", v.Width, v.Height)
			}
			task, err := e.inspector().GetTaskInfo(QueueVideo, "transcode:"+b.ID)
			if (err == nil) != c.mp4 {
				t.Fatalf("transcode task: %v %v, want queued=%v", task, err, c.mp4)
			}
			if !c.mp4 {
				// No transcode: the mp4 is a copy without the location,
				// there at the first and only media.ready.
				v := got.Variant("mp4")
				if v == nil || v.ContentType != "video/mp4" || v.Width != c.w || v.Height != c.h {
					t.Fatalf("mp4 variant %+v, want a %dx%d copy", v, c.w, c.h)
				}
				if probe := ffprobe(t, e.variant(got, "mp4")); !strings.Contains(probe, "codec_name=h264") ||
					!strings.Contains(probe, "codec_name=aac") || strings.Contains(probe, "TAG:location") {
					t.Errorf("mp4 variant is not an H.264/AAC copy without location:\n%s", probe)
				}
				if probe := ffprobe(t, c.clip); !strings.Contains(probe, "TAG:location") {
					t.Errorf("the test clip carries no location to remove:\n%s", probe)
				}
				if evs := e.eventTypes()[before:]; !slices.Equal(evs, []string{courier.EventMediaReady}) {
					t.Errorf("events = %v, want media.ready once", evs)
				}
				return
			}
			if err := e.run(TypeTranscodeBlob, b.ID); err != nil {
				t.Fatal(err)
			}
			got = e.blob(b.ID)
			v := got.Variant("mp4")
			if v == nil || v.ContentType != "video/mp4" || v.Width != c.w || v.Height != c.h {
				t.Fatalf("mp4 variant %+v, want %dx%d", v, c.w, c.h)
			}
			if probe := ffprobe(t, e.variant(got, "mp4")); !strings.Contains(probe, "codec_name=h264") {
				t.Errorf("mp4 variant is not H.264:\n%s", probe)
			}
			// Again: nothing to do, no third event.
			if err := e.run(TypeTranscodeBlob, b.ID); err != nil {
				t.Fatal(err)
			}
			evs := e.eventTypes()[before:]
			if !slices.Equal(evs, []string{courier.EventMediaReady, courier.EventMediaReady}) {
				t.Errorf("events = %v, want media.ready twice (poster, then mp4)", evs)
			}
		})
	}

	t.Run("audio", func(t *testing.T) {
		b := e.upload(ffmpegMake(t, nil, audioClip), "audio/mp4", courier.BlobPlain)
		if err := e.run(TypeProcessBlob, b.ID); err != nil {
			t.Fatal(err)
		}
		if got := e.blob(b.ID); got.State != courier.BlobReady || got.DurationMS < 1900 || len(got.Variants) != 0 ||
			got.AudioCodec != "aac" || got.VideoCodec != "" {
			t.Fatalf("audio blob = %+v, want ready, 2 s, aac, no variants", got)
		}
	})
}

// TestMedia_OtherFilesAndE2E: a document and an e2e blob get no variants
// and are ready at once.
func TestMedia_OtherFilesAndE2E(t *testing.T) {
	e := newMediaEnv(t, MediaConfig{})
	for _, b := range []*courier.Blob{
		e.upload([]byte("%PDF-1.7 a document"), "application/pdf", courier.BlobPlain),
		// Ciphertext of a JPEG looks like noise; even if it did not, the
		// server must not look.
		e.upload(encodeJPEG(t, quadrants(64, 64)), "image/jpeg", courier.BlobE2E),
	} {
		if err := e.run(TypeProcessBlob, b.ID); err != nil {
			t.Fatal(err)
		}
		if got := e.blob(b.ID); got.State != courier.BlobReady || len(got.Variants) != 0 || got.Width != 0 {
			t.Errorf("%s blob = %+v, want ready without variants", b.Mode, got)
		}
	}
}

// TestMedia_RetryOverwrites: a job killed after writing variants but before
// recording the blob runs again and overwrites them: the bucket holds each
// variant once, and the row lists each once.
func TestMedia_RetryOverwrites(t *testing.T) {
	e := newMediaEnv(t, MediaConfig{})
	b := e.upload(encodeJPEG(t, quadrants(640, 480)), "image/jpeg", courier.BlobPlain)
	if err := e.run(TypeProcessBlob, b.ID); err != nil {
		t.Fatal(err)
	}
	// What a kill before FinishBlob leaves: variants stored, row processing.
	got := e.blob(b.ID)
	got.State, got.Variants = courier.BlobProcessing, nil
	if err := e.blobs.FinishBlob(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	if err := e.run(TypeProcessBlob, b.ID); err != nil {
		t.Fatal(err)
	}
	keys, err := e.objects.Keys(context.Background(), "variants/"+b.ID+"/")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	want := []string{VariantKey(b.ID, "original"), VariantKey(b.ID, "preview"), VariantKey(b.ID, "thumb")}
	if !slices.Equal(keys, want) || len(e.blob(b.ID).Variants) != 3 {
		t.Fatalf("keys = %v, variants = %+v; want each of %v once", keys, e.blob(b.ID).Variants, want)
	}
}

func (e *mediaEnv) inspector() *asynq.Inspector {
	opt, _ := asynq.ParseRedisURI(e.redis)
	insp := asynq.NewInspector(opt)
	e.t.Cleanup(func() { insp.Close() })
	return insp
}

// ffprobe describes the container (tags included) and the streams of a
// media file's bytes.
func ffprobe(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_format", "-show_streams", p).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	return string(out)
}
