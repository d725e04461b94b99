-- Up Migration
-- The engine's words for `machine_text`: [{text, startMs, endMs, confidence?}] (confidence 0..1 where
-- the engine gives one). Review highlights low-confidence words and plays the current word.
ALTER TABLE transcript_segments ADD COLUMN words jsonb;

-- Down Migration
ALTER TABLE transcript_segments DROP COLUMN words;
