-- Up Migration
-- Who signed which version and when; cleared when an admin reopens (the history keeps every signature).
ALTER TABLE transcriptions ADD COLUMN signed_by uuid REFERENCES users (id);
ALTER TABLE transcriptions ADD COLUMN signed_at timestamptz;
ALTER TABLE transcriptions ADD COLUMN signed_version integer;

-- Down Migration
ALTER TABLE transcriptions DROP COLUMN signed_version;
ALTER TABLE transcriptions DROP COLUMN signed_at;
ALTER TABLE transcriptions DROP COLUMN signed_by;
