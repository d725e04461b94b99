-- Up Migration
-- What the engine produced, kept beside the current (edited) `text` and never changed after insert.
-- NULL for a row written by code that predates this column: the engine's text is then `text` itself
-- until the first edit copies it here.
ALTER TABLE transcript_segments ADD COLUMN machine_text text;
UPDATE transcript_segments SET machine_text = text;

-- Down Migration
ALTER TABLE transcript_segments DROP COLUMN machine_text;
