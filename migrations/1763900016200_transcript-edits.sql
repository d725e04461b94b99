-- Up Migration
-- Every change to a transcript, oldest first by id: who, when, which segment, which field, before and
-- after, and the version it produced. Append-only like the audit log (a trigger, not a convention).
CREATE TABLE transcript_edits (
  id bigserial PRIMARY KEY,
  transcription_id uuid NOT NULL REFERENCES transcriptions (id) ON DELETE CASCADE,
  version integer NOT NULL,
  at timestamptz NOT NULL DEFAULT now(),
  actor_id uuid REFERENCES users (id),
  actor_username text NOT NULL,
  segment_id uuid REFERENCES transcript_segments (id) ON DELETE CASCADE,
  field text NOT NULL CHECK (field IN ('text', 'speaker', 'status')),
  before text,
  after text,
  -- Why, where one is required (an admin reopening a signed transcript).
  reason text
);
CREATE INDEX transcript_edits_transcription_idx ON transcript_edits (transcription_id, id);

CREATE FUNCTION transcript_edits_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'transcript_edits is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER transcript_edits_no_update BEFORE UPDATE ON transcript_edits
  FOR EACH ROW EXECUTE FUNCTION transcript_edits_append_only();
-- DELETE stays possible only through the cascade from a deleted transcription (retention), which a
-- statement-level TRUNCATE guard does not block.
CREATE TRIGGER transcript_edits_no_truncate BEFORE TRUNCATE ON transcript_edits
  FOR EACH STATEMENT EXECUTE FUNCTION transcript_edits_append_only();

-- Down Migration
DROP TABLE transcript_edits;
DROP FUNCTION transcript_edits_append_only();
