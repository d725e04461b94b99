-- Up Migration
-- Login throttling shared by every task (src/auth/login-limiter.ts): failures per username, per
-- address and username, and per address; `blocked_until` is the exponential delay's end. Keys hold
-- hashes, never usernames.
CREATE TABLE login_throttle (
  key text PRIMARY KEY,
  failures integer NOT NULL DEFAULT 0,
  blocked_until timestamptz NOT NULL DEFAULT '-infinity',
  expires_at timestamptz NOT NULL
);
CREATE INDEX login_throttle_expires_at ON login_throttle (expires_at);

-- Down Migration
DROP TABLE login_throttle;
