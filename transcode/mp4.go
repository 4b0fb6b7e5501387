package transcode

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/courier-chat/courier"
)

const (
	// MP4Short is the largest short side of a transcoded video: 720p,
	// whether landscape (1280×720) or portrait (720×1280).
	MP4Short = 720

	// mp4MaxFPS caps the frame rate: 240 fps slow-motion clips play back
	// as well at 60 and cost a quarter of the bits.
	mp4MaxFPS = "60"
)

// NeedsTranscode reports whether the video described by info must be
// re-encoded to play everywhere. It is false when the file is already what
// MP4 would write: H.264 in 8-bit 4:2:0 SDR, with AAC audio or none, in an MP4
// or MOV container with faststart, whose short side is at most 720 pixels
// (so 1280×720 and 720×1280 pass, 1920×1080 does not). Audio-only files
// need no video transcode and report false.
func NeedsTranscode(info *Info) bool {
	if !info.HasVideo {
		return false
	}
	okAudio := !info.HasAudio || info.AudioCodec == "aac"
	okContainer := info.Container == "mp4" || info.Container == "mov"
	okPixels := (info.PixelFormat == "yuv420p" || info.PixelFormat == "yuvj420p") && !info.HDR
	return !(info.VideoCodec == "h264" && okAudio && okContainer && okPixels &&
		info.Short() <= MP4Short && info.FastStart)
}

// MP4Size returns the display size MP4 writes for the video described by
// info: scaled down so the short side is at most MP4Short, aspect kept, both
// sides even (4:2:0 H.264 needs them even); never enlarged.
func MP4Size(info *Info) (w, h int) {
	w, h = info.Width, info.Height
	if short := min(w, h); short > MP4Short {
		if w < h {
			w, h = MP4Short, int(float64(h)*MP4Short/float64(w)+0.5)
		} else {
			w, h = int(float64(w)*MP4Short/float64(h)+0.5), MP4Short
		}
	}
	return max(w&^1, 2), max(h&^1, 2)
}

// MP4 transcodes the video at path to dst: H.264 (libx264, preset veryfast,
// CRF 23, yuv420p) with AAC audio when the original has sound, faststart,
// turned upright, HDR tone-mapped to SDR, sized by MP4Size, at most 60 fps. Metadata (location,
// device, dates) is dropped: the variant is served to other people. info
// may be nil, in which case the file is probed first. A file without video
// is EINVALID; one longer than MaxDuration is ETOOLARGE.
func (c Config) MP4(ctx context.Context, path, dst string, info *Info) error {
	c = c.withDefaults()
	info, err := c.videoInfo(ctx, path, info, "transcode")
	if err != nil {
		return err
	}
	if d := time.Duration(info.DurationMS) * time.Millisecond; d > c.MaxDuration {
		return courier.Errorf(courier.ETOOLARGE, "The video lasts %v, longer than the %v allowed.", d.Round(time.Second), c.MaxDuration)
	}

	w, h := MP4Size(info)
	threads := strconv.Itoa(c.Threads)
	args := append([]string{"-nostdin", "-hide_banner", "-v", "error", "-y"}, c.inputArgs(path)...)
	args = append(args,
		// The first video and, if there is one, the first audio stream.
		"-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn",
		"-map_metadata", "-1", "-map_chapters", "-1",
		// Autorotation happens before this filter, so w×h is the upright size.
		"-vf", videoFilter(info, fmt.Sprintf("scale=%d:%d,setsar=1", w, h)), "-filter_threads", threads,
		"-fpsmax", mp4MaxFPS,
		"-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
		"-profile:v", "high", "-c:a", "aac", "-b:a", "128k")
	args = append(args, colorArgs(info)...)
	args = append(args,
		// Some phone files interleave audio sparsely; let the muxer wait.
		"-max_muxing_queue_size", "1024",
		"-movflags", "+faststart", "-threads", threads, "-f", "mp4", "file:"+dst)
	return c.ffmpeg(ctx, path, dst, args)
}
