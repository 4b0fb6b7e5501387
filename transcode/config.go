package transcode

import (
	"context"
	"time"
)

// Config tells the functions which executables to run and how hard to work.
// The zero value is ready to use; package-level functions use it.
type Config struct {
	// FFmpeg is the ffmpeg executable, a path or a name looked up in PATH.
	// Default "ffmpeg".
	FFmpeg string

	// FFprobe is the ffprobe executable. Default "ffprobe".
	FFprobe string

	// Threads caps the threads each run uses for decoding, filtering and
	// encoding (ffmpeg -threads / -filter_threads), so one job does not take
	// every core of a shared worker. Default 2.
	Threads int

	// Timeout is the deadline of each ffmpeg or ffprobe run; a shorter
	// deadline on the caller's context wins (a poster should take seconds,
	// not the minutes a transcode may need). Default 10 minutes.
	Timeout time.Duration

	// MaxPixels refuses videos whose declared frame size (width × height)
	// is larger, before any frame is decoded. Default 8192×8192.
	MaxPixels int64

	// MaxDuration refuses to transcode longer videos; probing and posters
	// still work on them. Default 3 hours.
	MaxDuration time.Duration
}

// Defaults of Config's fields.
const (
	DefaultThreads     = 2
	DefaultTimeout     = 10 * time.Minute
	DefaultMaxPixels   = 8192 * 8192
	DefaultMaxDuration = 3 * time.Hour
)

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.FFmpeg == "" {
		c.FFmpeg = "ffmpeg"
	}
	if c.FFprobe == "" {
		c.FFprobe = "ffprobe"
	}
	if c.Threads <= 0 {
		c.Threads = DefaultThreads
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxPixels <= 0 {
		c.MaxPixels = DefaultMaxPixels
	}
	if c.MaxDuration <= 0 {
		c.MaxDuration = DefaultMaxDuration
	}
	return c
}

// Probe reports what path holds, using the default Config.
func Probe(ctx context.Context, path string) (*Info, error) {
	return Config{}.Probe(ctx, path)
}

// AudioInfo probes an audio file, using the default Config.
func AudioInfo(ctx context.Context, path string) (*Info, error) {
	return Config{}.AudioInfo(ctx, path)
}

// Poster writes a JPEG poster frame of the video at path to dst, using the
// default Config.
func Poster(ctx context.Context, path, dst string, info *Info) error {
	return Config{}.Poster(ctx, path, dst, info)
}

// MP4 transcodes the video at path to an H.264/AAC MP4 at dst, using the
// default Config.
func MP4(ctx context.Context, path, dst string, info *Info) error {
	return Config{}.MP4(ctx, path, dst, info)
}
