package transcode

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Test clips are generated with ffmpeg on first use and shared by every test
// and benchmark of the run, in one temp dir that TestMain removes.
var (
	fixtureDir  string
	fixtureMu   sync.Mutex
	fixtureDone = map[string]*fixtureEntry{}
)

func TestMain(m *testing.M) {
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			fmt.Fprintf(os.Stderr, "transcode tests need %s in PATH (apt-get install ffmpeg): %v\n", tool, err)
			os.Exit(1)
		}
	}
	dir, err := os.MkdirTemp("", "transcode-fixtures-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Shorthands for the lavfi sources the clips are made of.
const (
	x264 = "-c:v libx264 -preset ultrafast -pix_fmt yuv420p"
	aac  = "-c:a aac -b:a 64k"
	// tone is two seconds of 440 Hz, as a second input.
	tone = "-f lavfi -i sine=frequency=440:duration=%s"
)

// fixtures are the clips by file name, each an ffmpeg command line (the
// output path is appended). A "copy:SRC" prefix names a fixture the command
// reads as its input (as {SRC}).
var fixtures = map[string]string{
	// Full HD landscape with sound, moov at the end (ffmpeg's default),
	// and where it was filmed, as phones record it.
	"land1080.mp4": "-f lavfi -i testsrc=size=1920x1080:rate=30:duration=2 " + fmt.Sprintf(tone, "2") + " " + x264 + " " + aac +
		" -shortest -metadata location=+37.7858-122.4064/",
	// Red for the first second, blue after: tells which frame a poster is.
	"redblue.mp4": "-f lavfi -i color=red:size=320x240:rate=30:duration=1 -f lavfi -i color=blue:size=320x240:rate=30:duration=2 " +
		"-filter_complex [0:v][1:v]concat=n=2:v=1[v] -map [v] " + x264,
	// Half a second, red then blue: the poster must be the first (red) frame.
	"short.mp4": "-f lavfi -i color=red:size=160x120:rate=30:duration=0.3 -f lavfi -i color=blue:size=160x120:rate=30:duration=0.2 " +
		"-filter_complex [0:v][1:v]concat=n=2:v=1[v] -map [v] " + x264,
	// Stored 320×240 landscape with a white square top-left ...
	"marker.mp4": "-f lavfi -i color=black:size=320x240:rate=30:duration=2,drawbox=x=0:y=0:w=40:h=40:color=white:t=fill " + x264,
	// ... displayed portrait: ffmpeg 5.1 turns rotate=90 into a display
	// matrix of 90° counterclockwise, i.e. Rotation 270 clockwise.
	"portrait.mp4": "copy:marker.mp4 -i {SRC} -c copy -metadata:s:v:0 rotate=90",
	// HEVC in MOV as iPhones write it.
	"hevc.mov": "-f lavfi -i testsrc=size=320x240:rate=30:duration=1 " + fmt.Sprintf(tone, "1") +
		" -c:v libx265 -preset ultrafast -x265-params log-level=error -tag:v hvc1 -pix_fmt yuv420p " + aac + " -shortest",
	// iPhone HDR: 10-bit HEVC with the HLG transfer and BT.2020 colors.
	"hdr.mov": "-f lavfi -i testsrc=size=320x240:rate=30:duration=1 -c:v libx265 -preset ultrafast -x265-params log-level=error" +
		" -pix_fmt yuv420p10le -color_primaries bt2020 -color_trc arib-std-b67 -colorspace bt2020nc -tag:v hvc1",
	// VP9 + Opus in WebM as browsers record.
	"vp9.webm": "-f lavfi -i testsrc=size=320x240:rate=30:duration=1 " + fmt.Sprintf(tone, "1") +
		" -c:v libvpx-vp9 -deadline realtime -cpu-used 8 -b:v 200k -pix_fmt yuv420p -c:a libopus -shortest",
	// Already what clients play: 640×360 H.264/AAC with faststart ...
	"good.mp4": "-f lavfi -i testsrc=size=640x360:rate=30:duration=1 " + fmt.Sprintf(tone, "1") + " " + x264 + " " + aac + " -shortest -movflags +faststart",
	// ... and the same without faststart.
	"slow.mp4": "-f lavfi -i testsrc=size=640x360:rate=30:duration=1 " + fmt.Sprintf(tone, "1") + " " + x264 + " " + aac + " -shortest",
	// Audio only.
	"audio.m4a": fmt.Sprintf(tone, "2") + " " + aac,
	// A song with its cover art, which ffprobe lists as a video stream.
	"cover.mp3": fmt.Sprintf(tone, "1") + " -f lavfi -i color=red:size=64x64:duration=0.04 -map 0:a -map 1:v" +
		" -c:a libmp3lame -c:v mjpeg -frames:v 1 -disposition:v attached_pic -id3v2_version 3",
}

// fixture returns the path of the named clip, generating it on first use.
// Besides the ffmpeg-made clips, "random.mp4" is random bytes and
// "truncated.mp4" is the first half of slow.mp4 (its moov is lost).
func fixture(tb testing.TB, name string) string {
	tb.Helper()
	path, err := fixtureErr(name)
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

func fixtureErr(name string) (string, error) {
	fixtureMu.Lock()
	e, ok := fixtureDone[name]
	if !ok {
		e = &fixtureEntry{}
		fixtureDone[name] = e
	}
	fixtureMu.Unlock()
	e.once.Do(func() { e.path, e.err = makeFixture(name) })
	return e.path, e.err
}

type fixtureEntry struct {
	once sync.Once
	path string
	err  error
}

func makeFixture(name string) (string, error) {
	path := filepath.Join(fixtureDir, name)
	switch name {
	case "random.mp4":
		b := make([]byte, 64<<10)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return path, os.WriteFile(path, b, 0o600)
	case "truncated.mp4":
		slow, err := fixtureErr("slow.mp4")
		if err != nil {
			return "", err
		}
		b, err := os.ReadFile(slow)
		if err != nil {
			return "", err
		}
		return path, os.WriteFile(path, b[:len(b)/2], 0o600)
	}
	spec, ok := fixtures[name]
	if !ok {
		return "", fmt.Errorf("no fixture %q", name)
	}
	if src, rest, ok := strings.Cut(spec, " "); ok && strings.HasPrefix(src, "copy:") {
		in, err := fixtureErr(strings.TrimPrefix(src, "copy:"))
		if err != nil {
			return "", err
		}
		spec = strings.ReplaceAll(rest, "{SRC}", in)
	}
	args := append([]string{"-nostdin", "-hide_banner", "-v", "error", "-y"}, strings.Fields(spec)...)
	var stderr bytes.Buffer
	cmd := exec.Command("ffmpeg", append(args, path)...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("generate %s: ffmpeg %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return path, nil
}
