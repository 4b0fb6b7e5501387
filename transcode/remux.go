package transcode

import (
	"context"
)

// Remux copies the video at path into an MP4 at dst without re-encoding:
// the first video stream and, if there is one, the first audio stream,
// with the index first (faststart), and no metadata. It is for videos that
// NeedsTranscode passes: they play everywhere as they are, but what a
// phone uploads says where it was filmed (the ©xyz atom, Apple's
// com.apple.quicktime.location.ISO6709 key), which must not reach the
// other members of a chat. The display rotation is kept: it is side data
// of the stream, not metadata, and players need it.
//
// Remux costs a read and a write of the file, no decoding: seconds for a
// long clip. A file without video is EINVALID.
func (c Config) Remux(ctx context.Context, path, dst string, info *Info) error {
	c = c.withDefaults()
	info, err := c.videoInfo(ctx, path, info, "copy")
	if err != nil {
		return err
	}
	args := append([]string{"-nostdin", "-hide_banner", "-v", "error", "-y"}, c.inputArgs(path)...)
	args = append(args,
		// Timecode and Apple's timed-metadata tracks stay behind: MP4
		// cannot hold some of them, and they may carry location too.
		"-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn", "-c", "copy",
		"-map_metadata", "-1", "-map_chapters", "-1",
		"-movflags", "+faststart", "-f", "mp4", "file:"+dst)
	return c.ffmpeg(ctx, path, dst, args)
}
