-- Up Migration
-- A session continued on another task after a shutdown gets a new recording row whose object holds
-- the whole recording (the earlier part's audio copied in first); readers take the highest part.
ALTER TABLE recordings ADD COLUMN part_index integer NOT NULL DEFAULT 0;
ALTER TABLE recordings DROP CONSTRAINT recordings_transcription_id_key;
ALTER TABLE recordings ADD CONSTRAINT recordings_transcription_part_key UNIQUE (transcription_id, part_index);

-- Down Migration
DELETE FROM recordings r WHERE EXISTS (SELECT 1 FROM recordings n WHERE n.transcription_id = r.transcription_id AND n.part_index > r.part_index);
ALTER TABLE recordings DROP CONSTRAINT recordings_transcription_part_key;
ALTER TABLE recordings ADD CONSTRAINT recordings_transcription_id_key UNIQUE (transcription_id);
ALTER TABLE recordings DROP COLUMN part_index;
