-- Up Migration
-- The repair pass (docs/resilience.md): stretches of a session the primary engine did not
-- transcribe live (fallback text, or nothing), re-transcribed from the recording once the primary
-- is back. One row per stretch, claimed by one task at a time (FOR UPDATE SKIP LOCKED); `replaced`
-- keeps the segments the repair replaced (their text is the prior version).
CREATE TABLE transcript_repairs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  transcription_id uuid NOT NULL REFERENCES transcriptions (id) ON DELETE CASCADE,
  from_ms bigint NOT NULL CHECK (from_ms >= 0),
  to_ms bigint NOT NULL CHECK (to_ms > from_ms),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'repaired', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  not_before timestamptz NOT NULL DEFAULT now(),
  claimed_by text,
  claimed_at timestamptz,
  -- An error code only (never text): why the last attempt failed.
  last_error text,
  segments_replaced integer NOT NULL DEFAULT 0,
  segments_added integer NOT NULL DEFAULT 0,
  replaced jsonb NOT NULL DEFAULT '[]',
  created_at timestamptz NOT NULL DEFAULT now(),
  repaired_at timestamptz,
  UNIQUE (transcription_id, from_ms)
);
CREATE INDEX transcript_repairs_due_idx ON transcript_repairs (not_before) WHERE status IN ('pending', 'running');

-- Down Migration
DROP TABLE transcript_repairs;
