-- Up Migration
-- rate-limiter-flexible's RateLimiterPostgres shape, so every task shares the login limits.
CREATE TABLE login_rate_limits (
  key varchar(255) PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);

-- Down Migration
DROP TABLE login_rate_limits;
