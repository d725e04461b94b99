-- Up Migration
-- The live session a transcription belongs to, so a `session:resume` on any task finds it, and how
-- many times another task has continued it (segment keys and recording parts are numbered by it).
ALTER TABLE transcriptions ADD COLUMN session_id uuid UNIQUE;
ALTER TABLE transcriptions ADD COLUMN resume_part integer NOT NULL DEFAULT 0;

-- Down Migration
ALTER TABLE transcriptions DROP COLUMN resume_part;
ALTER TABLE transcriptions DROP COLUMN session_id;
