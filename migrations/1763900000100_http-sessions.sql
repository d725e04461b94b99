-- Up Migration
-- The shape connect-pg-simple expects, so any task can serve any user's session.
CREATE TABLE http_sessions (
  sid varchar NOT NULL PRIMARY KEY,
  sess json NOT NULL,
  expire timestamp(6) NOT NULL
);
CREATE INDEX http_sessions_expire_idx ON http_sessions (expire);

-- Down Migration
DROP TABLE http_sessions;
