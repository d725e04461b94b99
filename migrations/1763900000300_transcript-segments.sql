-- Up Migration
CREATE TABLE transcript_segments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  transcription_id uuid NOT NULL REFERENCES transcriptions (id) ON DELETE CASCADE,
  -- The engine's own segment identity, so a replayed final is stored once.
  segment_key text NOT NULL,
  start_ms bigint NOT NULL CHECK (start_ms >= 0),
  end_ms bigint NOT NULL CHECK (end_ms >= start_ms),
  text text NOT NULL,
  speaker text,
  engine text NOT NULL,
  -- final: engine result; gap: audio the server never received; provisional: last partial kept at a failure.
  kind text NOT NULL DEFAULT 'final' CHECK (kind IN ('final', 'gap', 'provisional')),
  tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (transcription_id, segment_key)
);
CREATE INDEX transcript_segments_order_idx ON transcript_segments (transcription_id, start_ms);
CREATE INDEX transcript_segments_tsv_idx ON transcript_segments USING gin (tsv);

-- Down Migration
DROP TABLE transcript_segments;
