-- An upload whose bytes are all stored is "finishing" until its blob row,
-- processing job and final state are written. If that is cut short (an
-- outage of Redis or S3, a crash), the next request on the upload or the
-- worker's reconciler finishes it; state_changed_at tells the reconciler
-- which ones nobody is finishing any more.
ALTER TABLE uploads DROP CONSTRAINT uploads_state_check;
ALTER TABLE uploads ADD CONSTRAINT uploads_state_check
    CHECK (state IN ('active', 'finishing', 'finished', 'expired', 'terminated'));
ALTER TABLE uploads ADD COLUMN state_changed_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX uploads_finishing ON uploads (state_changed_at) WHERE state = 'finishing';
-- The reconciler also looks for blobs left processing (a job lost with a
-- Redis restart).
CREATE INDEX blobs_processing ON blobs (updated_at) WHERE state = 'processing';
