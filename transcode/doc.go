// Package transcode turns uploaded videos and audio into what chat clients
// play everywhere: it probes a file (duration, display size, codecs,
// rotation, faststart), grabs a poster frame, and re-encodes to an H.264/AAC
// MP4 with faststart at most 720p when the original is not one already.
//
// It runs the ffmpeg and ffprobe executables over local files and knows
// nothing of queues or buckets: the media worker downloads the original to a
// temp file, calls these functions, and uploads what they write.
//
// Errors say what to do next. Media that ffmpeg cannot read carries
// courier.EINVALID (and absurd dimensions or durations courier.ETOOLARGE):
// both are permanent, retrying changes nothing, and the message holds the
// tail of ffmpeg's stderr so it can be stored as the blob's failure reason.
// A deadline that ran out, a missing executable or a full disk are plain
// errors (courier.EINTERNAL) that a retry may fix.
package transcode
