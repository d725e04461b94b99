-- Up Migration
-- An earlier recording part whose S3 object was deleted once a later, complete part held the whole
-- recording (docs/resilience.md, "Recording parts").
ALTER TABLE recordings DROP CONSTRAINT recordings_upload_state_check;
ALTER TABLE recordings ADD CONSTRAINT recordings_upload_state_check
  CHECK (upload_state IN ('uploading', 'completing', 'completed', 'failed', 'aborted', 'superseded'));

-- Down Migration
-- A superseded row has no object any more; the rows of the later part stay.
DELETE FROM recordings WHERE upload_state = 'superseded';
ALTER TABLE recordings DROP CONSTRAINT recordings_upload_state_check;
ALTER TABLE recordings ADD CONSTRAINT recordings_upload_state_check
  CHECK (upload_state IN ('uploading', 'completing', 'completed', 'failed', 'aborted'));
