-- Up Migration
-- Durable checkpoints of a live session's audio (docs/recordings.md, "Durable checkpoints"): one row
-- per small S3 object holding the audio of chunks first_seq..last_seq, written every few seconds so
-- that what is acknowledged as durable (`durableSeq`) survives the loss of the task and its disk.
-- `kind` says what the object holds: `pcm` (the 16 kHz PCM appended to a WAV recording, declared
-- gaps' silence included) or `wire` (the chunk bytes as received, WebM/Ogg Opus, replayed through a
-- fresh demuxer on the task that continues the session).
CREATE TABLE recording_checkpoints (
  transcription_id uuid NOT NULL REFERENCES transcriptions(id) ON DELETE CASCADE,
  first_seq bigint NOT NULL,
  last_seq bigint NOT NULL,
  kind text NOT NULL CHECK (kind IN ('pcm', 'wire')),
  object_key text NOT NULL,
  bytes integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (transcription_id, first_seq),
  CHECK (last_seq >= first_seq)
);

-- Down Migration
DROP TABLE recording_checkpoints;
