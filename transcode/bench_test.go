package transcode

import (
	"context"
	"os/exec"
	"testing"
	"time"
)

// BenchmarkPoster1080p compares Poster with the bare ffmpeg command a
// reader would write, on the same 2 s 1080p clip, so the ratio of the two
// shows Courier's overhead (the probe-free path: info is given).
//
//	go test ./transcode/ -run XXX -bench Poster1080p -benchtime 10x
func BenchmarkPoster1080p(b *testing.B) {
	src := fixture(b, "land1080.mp4")
	ctx := context.Background()
	info, err := Probe(ctx, src)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("courier", func(b *testing.B) {
		dst := b.TempDir() + "/poster.jpg"
		for b.Loop() {
			if err := Poster(ctx, src, dst, info); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ffmpeg", func(b *testing.B) {
		dst := b.TempDir() + "/poster.jpg"
		for b.Loop() {
			cmd := exec.Command("ffmpeg", "-v", "error", "-y", "-ss", "1", "-i", src, "-frames:v", "1", dst)
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
	})
}

// BenchmarkMP4 transcodes the 2 s 1080p clip to 720p and reports the speed
// as a multiple of real time (2 means a minute of video takes 30 s).
//
//	go test ./transcode/ -run XXX -bench MP4 -benchtime 3x
func BenchmarkMP4(b *testing.B) {
	src := fixture(b, "land1080.mp4")
	ctx := context.Background()
	info, err := Probe(ctx, src)
	if err != nil {
		b.Fatal(err)
	}
	dst := b.TempDir() + "/out.mp4"
	start := time.Now()
	for b.Loop() {
		if err := MP4(ctx, src, dst, info); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start).Seconds() / float64(b.N)
	b.ReportMetric(float64(info.DurationMS)/1000/elapsed, "x-realtime")
}
