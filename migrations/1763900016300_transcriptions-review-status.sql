-- Up Migration
-- Review states: `in_review` from the first edit, `signed` once a reviewer signs a version.
ALTER TABLE transcriptions DROP CONSTRAINT transcriptions_status_check;
ALTER TABLE transcriptions ADD CONSTRAINT transcriptions_status_check
  CHECK (status IN ('recording', 'completed', 'failed', 'in_review', 'signed'));

-- Down Migration
-- The edits stay (transcript_edits, text); only the state goes back to the one before review.
UPDATE transcriptions SET status = 'completed' WHERE status IN ('in_review', 'signed');
ALTER TABLE transcriptions DROP CONSTRAINT transcriptions_status_check;
ALTER TABLE transcriptions ADD CONSTRAINT transcriptions_status_check
  CHECK (status IN ('recording', 'completed', 'failed'));
