-- Up Migration
CREATE TABLE transcriptions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  clinician_id uuid NOT NULL REFERENCES users (id),
  title text NOT NULL DEFAULT '',
  specialty text NOT NULL DEFAULT 'PRIMARYCARE'
    CHECK (specialty IN ('PRIMARYCARE', 'CARDIOLOGY', 'NEUROLOGY', 'ONCOLOGY', 'RADIOLOGY', 'UROLOGY')),
  type text NOT NULL DEFAULT 'CONVERSATION' CHECK (type IN ('CONVERSATION', 'DICTATION')),
  engine text NOT NULL,
  status text NOT NULL DEFAULT 'recording' CHECK (status IN ('recording', 'completed', 'failed')),
  failure_reason text,
  end_reason text CHECK (end_reason IN ('stopped', 'idle_timeout', 'max_duration', 'server_shutdown', 'error')),
  audio_encoding text NOT NULL CHECK (audio_encoding IN ('pcm_s16le', 'webm_opus', 'ogg_opus')),
  sample_rate integer,
  -- Live-session state a resume on any task needs: the highest contiguous chunk held.
  ack_seq bigint NOT NULL DEFAULT -1,
  audio_ms bigint NOT NULL DEFAULT 0,
  owner_task text,
  last_audio_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  duration_ms bigint
);
CREATE INDEX transcriptions_created_idx ON transcriptions (created_at DESC, id DESC);
CREATE INDEX transcriptions_clinician_created_idx ON transcriptions (clinician_id, created_at DESC, id DESC);
CREATE INDEX transcriptions_recording_idx ON transcriptions (status) WHERE status = 'recording';

-- Down Migration
DROP TABLE transcriptions;
