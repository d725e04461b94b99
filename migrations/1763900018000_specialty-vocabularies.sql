-- Up Migration
-- A custom vocabulary per specialty (issue 16, point 5), managed by admins: the terms (Transcribe's
-- table fields), a version for optimistic concurrency, and the state of Transcribe's copy of it
-- (engine `aws`): its name, the version it was given, PENDING / READY / FAILED and why.
CREATE TABLE specialty_vocabularies (
  specialty text PRIMARY KEY CHECK (specialty IN ('PRIMARYCARE', 'CARDIOLOGY', 'NEUROLOGY', 'ONCOLOGY', 'RADIOLOGY', 'UROLOGY')),
  terms jsonb NOT NULL DEFAULT '[]',
  version integer NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by uuid REFERENCES users (id) ON DELETE SET NULL,
  engine_name text,
  engine_version integer,
  engine_state text CHECK (engine_state IN ('PENDING', 'READY', 'FAILED')),
  engine_failure text,
  engine_checked_at timestamptz
);

-- Down Migration
DROP TABLE specialty_vocabularies;
