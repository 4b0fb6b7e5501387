package transcode

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/courier-chat/courier"
)

// Info is what Probe learned about a media file.
type Info struct {
	DurationMS int64

	// Width and Height are the size the video is displayed at: after
	// rotation, so a portrait phone video stored as 1920×1080 with a 90°
	// rotation reports 1080×1920.
	Width, Height int

	// Rotation is how many degrees clockwise a player turns the stored
	// frames to show them: 0, 90, 180 or 270. It comes from the display
	// matrix side data or, in older files, the "rotate" tag.
	Rotation int

	// VideoCodec and AudioCodec are ffprobe's codec names ("h264", "hevc",
	// "vp9", "aac", "opus"), empty when the stream is missing.
	VideoCodec, AudioCodec string

	// PixelFormat is the video's pixel format ("yuv420p"); phones play
	// 8-bit 4:2:0 H.264 and little else.
	PixelFormat string

	// HDR reports a PQ or HLG transfer (iPhone video since the 12): MP4
	// and Poster tone-map it to SDR.
	HDR bool

	// Container is "mp4", "mov", "m4a", "3gp", "webm", "matroska", or
	// ffprobe's name for any other format.
	Container string

	// FastStart reports that an MP4/MOV file has its index (moov) before
	// its media data (mdat), so playback can start before the download ends.
	FastStart bool

	// HasVideo ignores cover art: an m4a with an embedded picture is audio.
	HasVideo, HasAudio bool
}

// Short returns the smaller of the display dimensions.
func (i *Info) Short() int { return min(i.Width, i.Height) }

// ffprobeOutput is the part of `ffprobe -print_format json` we read.
type ffprobeOutput struct {
	Streams []struct {
		CodecType   string            `json:"codec_type"`
		CodecName   string            `json:"codec_name"`
		Width       int               `json:"width"`
		Height      int               `json:"height"`
		PixFmt      string            `json:"pix_fmt"`
		Transfer    string            `json:"color_transfer"`
		Duration    string            `json:"duration"`
		Tags        map[string]string `json:"tags"`
		Disposition map[string]int    `json:"disposition"`
		SideData    []struct {
			Rotation json.Number `json:"rotation"`
		} `json:"side_data_list"`
	} `json:"streams"`
	Format struct {
		FormatName string            `json:"format_name"`
		Duration   string            `json:"duration"`
		Tags       map[string]string `json:"tags"`
	} `json:"format"`
}

// Probe reports duration, display size, rotation, codecs and container of
// the media at path. A file with neither audio nor video, or one ffprobe
// cannot read, is EINVALID; a frame larger than MaxPixels is ETOOLARGE.
func (c Config) Probe(ctx context.Context, path string) (*Info, error) {
	c = c.withDefaults()
	if fi, err := os.Stat(path); err != nil {
		return nil, err
	} else if fi.Size() == 0 {
		return nil, courier.Errorf(courier.EINVALID, "The media file is empty.")
	}

	out, err := c.exec(ctx, run{
		tool: "ffprobe", bin: c.FFprobe, paths: map[string]string{path: "input"},
		args: append([]string{"-hide_banner", "-v", "error", "-print_format", "json",
			"-show_format", "-show_streams"}, c.inputArgs(path)...),
	})
	if err != nil {
		return nil, err
	}
	var p ffprobeOutput
	if err := json.Unmarshal(out, &p); err != nil {
		return nil, courier.Errorf(courier.EINVALID, "ffprobe described the media in a way we cannot read: %v", err)
	}
	info, err := c.parseProbe(&p)
	if err != nil {
		return nil, err
	}
	if info.Container == "mp4" || info.Container == "mov" || info.Container == "m4a" || info.Container == "3gp" {
		// ffprobe does not say where the index sits; read the atoms ourselves.
		if info.FastStart, err = fileFastStart(path); err != nil {
			return nil, err
		}
	}
	return info, nil
}

// AudioInfo probes an audio file (or any file with sound) and refuses one
// without an audio stream as EINVALID.
func (c Config) AudioInfo(ctx context.Context, path string) (*Info, error) {
	info, err := c.Probe(ctx, path)
	if err != nil {
		return nil, err
	} else if !info.HasAudio {
		return nil, courier.Errorf(courier.EINVALID, "The file has no audio stream.")
	}
	return info, nil
}

// parseProbe turns ffprobe's description into an Info, refusing what no
// later step could handle.
func (c Config) parseProbe(p *ffprobeOutput) (*Info, error) {
	info := &Info{Container: container(p.Format.FormatName, p.Format.Tags["major_brand"])}
	var longest float64
	for _, s := range p.Streams {
		longest = max(longest, parseSeconds(s.Duration))
		switch {
		case s.CodecType == "video" && !info.HasVideo && s.Disposition["attached_pic"] == 0:
			if s.Width <= 0 || s.Height <= 0 {
				return nil, courier.Errorf(courier.EINVALID, "The video stream has no frame size.")
			}
			// Refuse decompression bombs from the header: no frame decoded.
			if int64(s.Width)*int64(s.Height) > c.MaxPixels {
				return nil, courier.Errorf(courier.ETOOLARGE, "The video frame is %dx%d, larger than the %d pixels allowed.", s.Width, s.Height, c.MaxPixels)
			}
			info.HasVideo, info.VideoCodec, info.PixelFormat = true, s.CodecName, s.PixFmt
			info.HDR = hdrTransfers[s.Transfer]
			info.Width, info.Height = s.Width, s.Height
			info.Rotation = rotation(s.SideData, s.Tags["rotate"])
			if info.Rotation == 90 || info.Rotation == 270 {
				info.Width, info.Height = info.Height, info.Width
			}
		case s.CodecType == "audio" && !info.HasAudio:
			info.HasAudio, info.AudioCodec = true, s.CodecName
		}
	}
	if info.Container == "matroska" && webmCodecs[info.VideoCodec] && webmCodecs[info.AudioCodec] {
		info.Container = "webm"
	}
	if !info.HasVideo && !info.HasAudio {
		return nil, courier.Errorf(courier.EINVALID, "The file has neither video nor audio.")
	}
	secs := parseSeconds(p.Format.Duration)
	if secs == 0 {
		secs = longest // WebM and some MOVs leave the format's duration out
	}
	info.DurationMS = int64(math.Round(secs * 1000))
	return info, nil
}

// rotation returns the clockwise display rotation, normalized to 0, 90, 180
// or 270. ffprobe reports the display matrix counterclockwise (an iPhone
// portrait video says -90); the legacy rotate tag is clockwise.
func rotation(sideData []struct {
	Rotation json.Number `json:"rotation"`
}, tag string) int {
	deg, found := 0.0, false
	for _, sd := range sideData {
		if f, err := sd.Rotation.Float64(); err == nil && sd.Rotation != "" {
			deg, found = -f, true
			break
		}
	}
	if !found && tag != "" {
		if f, err := strconv.ParseFloat(tag, 64); err == nil {
			deg = f
		}
	}
	if math.IsNaN(deg) || math.IsInf(deg, 0) {
		return 0
	}
	// Snap to a quarter turn: players do not show frames at 37°.
	q := int(math.Round(deg/90)) % 4
	return (q + 4) % 4 * 90
}

// container names the file format as clients know it. ffprobe lumps the
// ISO family together as "mov,mp4,m4a,3gp,3g2,mj2"; the major brand tells
// them apart. Matroska and WebM share a demuxer too; WebM is what browsers
// send and what the codecs usually say, and callers treat both alike.
func container(formatName, brand string) string {
	first, _, _ := strings.Cut(formatName, ",")
	switch first {
	case "mov":
		switch b := strings.TrimSpace(brand); {
		case b == "qt":
			return "mov"
		case b == "M4A" || b == "M4B":
			return "m4a"
		case strings.HasPrefix(b, "3g"):
			return "3gp"
		}
		return "mp4"
	}
	return first
}

// webmCodecs are the codecs a WebM file may hold ("" for a missing stream).
var webmCodecs = map[string]bool{"": true, "vp8": true, "vp9": true, "av1": true, "opus": true, "vorbis": true}

// parseSeconds reads ffprobe's decimal seconds; "N/A" and junk are 0.
func parseSeconds(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// videoInfo returns info, probing path when it is nil, and EINVALID when
// the file has no video to do what the caller is about to (the words end
// the message: "The file has no video to copy.").
func (c Config) videoInfo(ctx context.Context, path string, info *Info, what string) (*Info, error) {
	if info == nil {
		var err error
		if info, err = c.Probe(ctx, path); err != nil {
			return nil, err
		}
	}
	if !info.HasVideo {
		return nil, courier.Errorf(courier.EINVALID, "The file has no video to %s.", what)
	}
	return info, nil
}
