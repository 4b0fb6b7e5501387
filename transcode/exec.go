package transcode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/courier-chat/courier"
)

const (
	// stderrTail is how much of the end of stderr an error keeps: enough for
	// ffmpeg's last few messages, small enough to store as a failure reason.
	stderrTail = 2048

	// maxProbeOutput bounds ffprobe's JSON; a hostile file with thousands of
	// streams must not make the worker buffer megabytes.
	maxProbeOutput = 4 << 20

	// waitDelay is how long a killed run may take to close its pipes.
	waitDelay = 5 * time.Second
)

// demuxers lists the container formats ffmpeg may open. Without it a
// "video" that is really an HLS or concat playlist would make ffmpeg read
// other files on the worker (or URLs) into the output the uploader then
// downloads; with it, such a file is refused as unreadable.
const demuxers = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts,flv,ogg,wav,mp3,aac,flac,asf,mpeg,amr,caf,aiff,w64,gif"

// inputArgs are the arguments that open path as the only input: local file
// protocol only, known demuxers only, and the decoder's thread cap. The
// "file:" prefix keeps a name like "x:y.mp4" from being taken for a protocol.
func (c Config) inputArgs(path string) []string {
	return []string{"-protocol_whitelist", "file", "-format_whitelist", demuxers,
		"-threads", strconv.Itoa(c.Threads), "-i", "file:" + path}
}

// ExecError is an ffmpeg or ffprobe run that failed. It is always wrapped:
// with a *courier.Error when the media is at fault, alone otherwise.
type ExecError struct {
	Tool   string // "ffmpeg" or "ffprobe"
	Err    error  // *exec.ExitError, a context error, or a start error
	Stderr string // the last ~2 KB of stderr, file paths replaced
}

func (e *ExecError) Error() string {
	if e.Stderr == "" {
		return fmt.Sprintf("%s: %v", e.Tool, e.Err)
	}
	return fmt.Sprintf("%s: %v: %s", e.Tool, e.Err, e.Stderr)
}

func (e *ExecError) Unwrap() error { return e.Err }

// run is one ffmpeg or ffprobe command. paths are the files named in args;
// they are replaced in stderr by "input", "output", ... so that failure
// reasons never show the worker's temp directory.
type run struct {
	tool  string // for messages: "ffmpeg" or "ffprobe"
	bin   string
	args  []string
	paths map[string]string // path → the word that replaces it
}

// ffmpeg runs ffmpeg with args, which read path and write dst; a failed
// run leaves no dst behind.
func (c Config) ffmpeg(ctx context.Context, path, dst string, args []string) error {
	_, err := c.exec(ctx, run{tool: "ffmpeg", bin: c.FFmpeg, args: args,
		paths: map[string]string{path: "input", dst: "output"}})
	if err != nil {
		os.Remove(dst)
	}
	return err
}

// exec runs r under the Config's deadline and returns its stdout. Errors are
// classified as documented in the package comment.
func (c Config) exec(ctx context.Context, r run) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()

	var stdout limitedBuffer
	stdout.max = maxProbeOutput
	var stderr tailBuffer
	stderr.max = stderrTail

	cmd := exec.CommandContext(ctx, r.bin, r.args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = waitDelay
	isolate(cmd) // dies with the worker; a cancel kills its children too
	err := cmd.Run()
	if err == nil {
		if stdout.overflow {
			return nil, courier.Errorf(courier.EINVALID, "%s printed more than %d bytes describing the media", r.tool, maxProbeOutput)
		}
		return stdout.Bytes(), nil
	}

	ee := &ExecError{Tool: r.tool, Err: err, Stderr: r.scrub(stderr.String())}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		// The deadline ran out or the caller gave up: the media may be fine.
		ee.Err = fmt.Errorf("%w (after %v)", ctx.Err(), err)
		return nil, ee
	case !errors.As(err, &exit):
		// Not started at all: the executable is missing or not runnable.
		return nil, ee
	case exit.ExitCode() < 0 || resourceProblem(ee.Stderr):
		// Killed by a signal (the OOM killer, an operator) or out of disk,
		// memory or descriptors: the machine's fault, not the file's.
		return nil, ee
	}
	reason := lastLine(ee.Stderr)
	if reason == "" {
		reason = "exit status " + strconv.Itoa(exit.ExitCode())
	}
	return nil, fmt.Errorf("%w: %w", courier.Errorf(courier.EINVALID, "%s could not read the media: %s", r.tool, reason), ee)
}

// scrub replaces file paths in s by the words r.paths maps them to.
func (r run) scrub(s string) string {
	for p, word := range r.paths {
		if p != "" {
			s = strings.ReplaceAll(s, "file:"+p, word)
			s = strings.ReplaceAll(s, p, word)
		}
	}
	return strings.TrimSpace(s)
}

// resourceProblem reports whether stderr blames the machine, not the media.
func resourceProblem(stderr string) bool {
	for _, s := range []string{"No space left on device", "Cannot allocate memory", "Too many open files", "Permission denied", "Disk quota exceeded"} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}

// lastLine returns the last non-empty line of s: ffmpeg prints its verdict
// last ("input: Invalid data found when processing input").
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > t.max {
		p = p[len(p)-t.max:]
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

// limitedBuffer keeps the first max bytes written to it and notes whether
// more came. It never fails a write: a failed write would leave the child
// blocked on a full pipe until the deadline.
type limitedBuffer struct {
	bytes.Buffer
	max      int
	overflow bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := l.max - l.Len(); len(p) > room {
		p, l.overflow = p[:max(room, 0)], true
	}
	l.Buffer.Write(p)
	return n, nil
}
