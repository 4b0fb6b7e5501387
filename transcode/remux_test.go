package transcode

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRemux: a phone video that needs no transcode is copied without its
// location and other container metadata, its streams, size, rotation and
// duration unchanged, with faststart.
func TestRemux(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.mp4")
	src := filepath.Join(dir, "phone.mp4")
	for _, args := range [][]string{
		{"-f", "lavfi", "-i", "testsrc=size=640x360:rate=30:duration=1", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
			"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", plain},
		// Rotation is stream side data; location, make and date are
		// container metadata, as an iPhone writes them.
		{"-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=90", "-metadata", "location=+48.8577+002.2950/",
			"-metadata", "make=Apple", "-metadata", "creation_time=2024-05-01T10:00:00Z", "-movflags", "+faststart", src},
	} {
		if out, err := exec.Command("ffmpeg", append([]string{"-nostdin", "-v", "error", "-y"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
		}
	}
	ctx := context.Background()
	in, err := Probe(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if NeedsTranscode(in) {
		t.Fatalf("test clip needs a transcode: %+v", in)
	}
	if tags := formatTags(t, src); !strings.Contains(tags, "location") {
		t.Fatalf("test clip has no location to remove:\n%s", tags)
	}

	dst := filepath.Join(dir, "out.mp4")
	if err := (Config{}).Remux(ctx, src, dst, in); err != nil {
		t.Fatal(err)
	}
	out, err := Probe(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	want := *in
	want.Container, want.FastStart = "mp4", true
	if *out != want {
		t.Errorf("remuxed\n %+v\nwant\n %+v", *out, want)
	}
	tags := formatTags(t, dst)
	for _, gone := range []string{"location", "48.8577", "make", "creation_time"} {
		if strings.Contains(tags, gone) {
			t.Errorf("remuxed file still carries %q:\n%s", gone, tags)
		}
	}
}

func TestRemux_NoVideo(t *testing.T) {
	err := Config{}.Remux(context.Background(), fixture(t, "audio.m4a"), filepath.Join(t.TempDir(), "out.mp4"), nil)
	if err == nil || !strings.Contains(err.Error(), "no video") {
		t.Fatalf("Remux of audio = %v, want EINVALID no video", err)
	}
}

// formatTags is what ffprobe -show_format reports of a file's tags, with
// every stream's tags too.
func formatTags(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_format", "-show_streams", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, out)
	}
	var tags []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "TAG:") {
			tags = append(tags, l)
		}
	}
	return strings.Join(tags, "\n")
}
