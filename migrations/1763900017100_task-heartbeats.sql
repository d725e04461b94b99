-- Up Migration
-- Every task writes its id here every few seconds while it runs. A live session whose owner has not
-- been seen for TASK_DEAD_AFTER_MS is taken over by the task its client resumes on (a crash: no
-- SIGTERM, no hand-over), rebuilt from its durable checkpoints.
CREATE TABLE task_heartbeats (
  task_id text PRIMARY KEY,
  seen_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE task_heartbeats;
