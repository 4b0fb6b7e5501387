-- What ffprobe said about a video or audio blob, beyond its size and
-- duration: the codecs of its first video and audio streams ("h264",
-- "hevc", "vp9"; "aac", "opus") and the clockwise rotation a player applies
-- to the stored frames (0, 90, 180, 270; width and height are already the
-- displayed ones). Empty and 0 for everything else.
ALTER TABLE blobs
    ADD COLUMN video_codec text NOT NULL DEFAULT '',
    ADD COLUMN audio_codec text NOT NULL DEFAULT '',
    ADD COLUMN rotation    integer NOT NULL DEFAULT 0;
