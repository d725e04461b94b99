-- Up Migration
-- @socket.io/postgres-adapter: events between tasks travel by NOTIFY; payloads above its threshold
-- (binary ones included) go through this table, and the adapter deletes rows after 30 s.
CREATE TABLE socket_io_attachments (
  id bigserial UNIQUE,
  created_at timestamptz DEFAULT now(),
  payload bytea
);

-- Down Migration
DROP TABLE socket_io_attachments;
