-- Up Migration
-- What recovery needs to rebuild a recording from its spool and the parts already in S3:
-- the container and its parameters ({"container":"wav","sampleRate":16000} or {"container":"ogg"}).
ALTER TABLE recordings ADD COLUMN format jsonb NOT NULL DEFAULT '{}'::jsonb;
CREATE INDEX recordings_unfinished_idx ON recordings (upload_state) WHERE upload_state IN ('uploading', 'completing');

-- Down Migration
DROP INDEX recordings_unfinished_idx;
ALTER TABLE recordings DROP COLUMN format;
