-- Users, sessions and the indexes the admin pages page through.
-- Emails are stored lowercase so the unique index also catches case variants.

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  roles TEXT NOT NULL DEFAULT '["user"]',
  workspace_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX users_created ON users (created_at, id);

-- The cookie carries a random 32-byte id; only its SHA-256 is stored, so a leaked
-- table cannot be replayed as cookies.
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Keyset pagination of the admin accounts list and the audit log, newest first.
CREATE INDEX token_accounts_created ON token_accounts (created_at, user_id);
CREATE INDEX audit_log_created_id ON audit_log (created_at, id);
