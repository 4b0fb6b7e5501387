-- tusd's s3store names an upload "<object>+<S3 multipart upload ID>". The
-- upload URL and blob ID carry only the object part (Courier's 22-character
-- ID), so the multipart upload ID is kept here, next to the owner.
ALTER TABLE uploads ADD COLUMN multipart_id text NOT NULL DEFAULT '';
