-- Up Migration
-- When the user's password, role or enabled state last changed (src/auth/revoke.ts). A session
-- remembers the value it was created under; any other value means it predates the change and is
-- refused, even if its row survived the revocation's DELETE. NULL: never changed since this column.
ALTER TABLE users ADD COLUMN credentials_changed_at timestamptz;

-- Down Migration
ALTER TABLE users DROP COLUMN credentials_changed_at;
