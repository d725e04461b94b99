-- Up Migration
CREATE TABLE recordings (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  transcription_id uuid NOT NULL UNIQUE REFERENCES transcriptions (id) ON DELETE CASCADE,
  -- Random, never derived from patient data.
  object_key text NOT NULL UNIQUE,
  content_type text NOT NULL,
  upload_id text,
  upload_state text NOT NULL DEFAULT 'uploading'
    CHECK (upload_state IN ('uploading', 'completing', 'completed', 'failed', 'aborted')),
  parts jsonb NOT NULL DEFAULT '[]'::jsonb,
  bytes bigint NOT NULL DEFAULT 0,
  duration_ms bigint NOT NULL DEFAULT 0,
  sha256 text,
  gaps jsonb NOT NULL DEFAULT '[]'::jsonb,
  failure_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz
);

-- Down Migration
DROP TABLE recordings;
