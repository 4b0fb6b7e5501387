package transcode

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/courier-chat/courier"
)

const (
	// PosterMax is the longest side of a poster: the preview size of photos.
	PosterMax = 1280

	// posterAt is when the poster frame is taken: far enough in to skip a
	// black or blurred first frame, early enough to exist in short clips.
	posterAt = time.Second

	// posterMinDuration is the shortest clip posterAt is used for; shorter
	// clips get their first frame, since a seek near the end may find none.
	posterMinDuration = 1500 * time.Millisecond
)

// Poster writes a JPEG of the frame near 1 s of the video at path (the first
// frame of clips shorter than 1.5 s) to dst, turned upright, HDR mapped to
// SDR, and scaled to fit within PosterMax×PosterMax without enlarging. info
// may be nil, in which case the file is probed first. A file without video
// is EINVALID.
//
// Posters are wanted quickly: callers pass a context with a deadline of
// seconds rather than the Config's Timeout meant for transcodes.
func (c Config) Poster(ctx context.Context, path, dst string, info *Info) error {
	c = c.withDefaults()
	info, err := c.videoInfo(ctx, path, info, "take a poster from")
	if err != nil {
		return err
	}

	at := posterTime(info.DurationMS)
	err = c.posterAt(ctx, path, dst, info, at)
	if err == nil && at > 0 && empty(dst) {
		// Durations lie (edit lists, damaged tails): the seek found no
		// frame, so fall back to the first one.
		err = c.posterAt(ctx, path, dst, info, 0)
	}
	if err != nil {
		os.Remove(dst)
		return err
	}
	if empty(dst) {
		os.Remove(dst)
		return courier.Errorf(courier.EINVALID, "No video frame could be decoded.")
	}
	return nil
}

// posterTime is where the poster frame is taken in a clip this long.
func posterTime(durationMS int64) time.Duration {
	if time.Duration(durationMS)*time.Millisecond < posterMinDuration {
		return 0
	}
	return posterAt
}

// posterAt runs ffmpeg once for the frame at offset at. Seeking before the
// input (-ss ahead of -i) jumps to the keyframe before at and decodes only
// from there, which keeps posters of long videos cheap; ffmpeg then drops
// the frames before at, so the frame is exact. ffmpeg turns frames upright
// by itself (autorotation is on by default), before our scale filter; HDR
// is tone-mapped as in MP4.
func (c Config) posterAt(ctx context.Context, path, dst string, info *Info, at time.Duration) error {
	args := []string{"-nostdin", "-hide_banner", "-v", "error", "-y"}
	if at > 0 {
		args = append(args, "-ss", strconv.FormatFloat(at.Seconds(), 'f', 3, 64))
	}
	args = append(args, c.inputArgs(path)...)
	fit := fmt.Sprintf("scale=w='min(iw,%d)':h='min(ih,%d)':force_original_aspect_ratio=decrease", PosterMax, PosterMax)
	args = append(args,
		"-map", "0:v:0", "-an", "-sn", "-dn", "-map_metadata", "-1",
		"-frames:v", "1", "-vf", videoFilter(info, fit), "-filter_threads", strconv.Itoa(c.Threads))
	args = append(args, colorArgs(info)...)
	args = append(args,
		// yuvj420p is full-range 4:2:0, what JPEG decoders expect.
		"-pix_fmt", "yuvj420p", "-c:v", "mjpeg", "-q:v", "3",
		"-threads", strconv.Itoa(c.Threads), "-f", "image2", "-update", "1", "file:"+dst)
	return c.ffmpeg(ctx, path, dst, args)
}

// empty reports whether the file at path is missing or has no bytes.
func empty(path string) bool {
	fi, err := os.Stat(path)
	return err != nil || fi.Size() == 0
}
