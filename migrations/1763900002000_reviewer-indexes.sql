-- Up Migration
-- The reviewer workspace's filters: the admin audit view by actor or action, newest first.
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id DESC);
CREATE INDEX audit_log_action_idx ON audit_log (action, id DESC);
-- Status filter on the transcript list (the partial index on 'recording' covers only that status).
CREATE INDEX transcriptions_status_created_idx ON transcriptions (status, created_at DESC, id DESC);

-- Down Migration
DROP INDEX transcriptions_status_created_idx;
DROP INDEX audit_log_action_idx;
DROP INDEX audit_log_actor_idx;
