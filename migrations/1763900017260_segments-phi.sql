-- Up Migration
-- PHI entity spans the engine identified (Transcribe Medical ContentIdentificationType=PHI):
-- [{type, startMs, endMs, content, confidence?}]. Redacted views and exports replace them.
ALTER TABLE transcript_segments ADD COLUMN phi jsonb;

-- Down Migration
ALTER TABLE transcript_segments DROP COLUMN phi;
