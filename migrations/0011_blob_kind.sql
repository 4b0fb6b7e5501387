-- What the media worker found in a plain blob's bytes: photo, video, audio
-- or other (empty until it looked, and for e2e blobs). Downloads decide by
-- it, never by the content type the uploader declared.
ALTER TABLE blobs ADD COLUMN kind text NOT NULL DEFAULT ''
    CHECK (kind IN ('', 'photo', 'video', 'audio', 'other'));

-- Blobs the worker finished before the column existed: what it recorded
-- then says what it found (a photo has the stripped original, a video a
-- video codec, audio an audio codec). Failed blobs stay unknown, which
-- keeps them from everyone but their owner.
UPDATE blobs SET kind = CASE
        WHEN variants @> '[{"name": "original"}]' THEN 'photo'
        WHEN video_codec <> '' THEN 'video'
        WHEN audio_codec <> '' THEN 'audio'
        ELSE 'other' END
    WHERE state = 'ready' AND mode = 'plain';
