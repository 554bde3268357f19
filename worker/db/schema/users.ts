import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import type { Role } from '../../contracts/auth';

/** The audit log, people who sign in, their sessions and API keys. */
export const auditLog = sqliteTable(
  'audit_log',
  {
    id: text('id').primaryKey(),
    actorUserId: text('actor_user_id'),
    action: text('action').notNull(),
    target: text('target'),
    before: text('before'),
    after: text('after'),
    createdAt: integer('created_at').notNull(),
  },
  // audit_log_created_id is added by 0002_users_sessions.sql for keyset pagination.
  (t) => [index('audit_log_created').on(t.createdAt), index('audit_log_created_id').on(t.createdAt, t.id)],
);

export { ROLES, type Role } from '../../contracts/auth';

/** People who sign in. `email` is lowercase; `passwordHash` is `pbkdf2-sha256$iterations$salt$hash`. */
export const users = sqliteTable(
  'users',
  {
    id: text('id').primaryKey(),
    email: text('email').notNull(),
    passwordHash: text('password_hash').notNull(),
    roles: text('roles', { mode: 'json' }).$type<Role[]>().notNull().default(['user']),
    workspaceId: text('workspace_id').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('users_email').on(t.email), index('users_created').on(t.createdAt, t.id)],
);

/** Sign-in sessions, keyed by the SHA-256 (hex) of the cookie's random id. */
export const sessions = sqliteTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('sessions_user').on(t.userId)],
);

/**
 * API keys (issue 12): a user's keys for the metered AI gateway. The key itself is never stored:
 * `hash` is the SHA-256 (hex) of the whole key, `prefix` its first characters (shown for
 * recognition and used to find the row; the hash is then compared in constant time). `limits` is
 * the key's optional spend limit as JSON (`ApiKeyLimits`: tokens per day, per month, lifetime),
 * enforced by the account's Durable Object. A revoked key keeps its row (usage still names it).
 */
export const apiKeys = sqliteTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    name: text('name').notNull(),
    prefix: text('prefix').notNull(),
    hash: text('hash').notNull(),
    limits: text('limits', { mode: 'json' }),
    createdAt: integer('created_at').notNull(),
    lastUsedAt: integer('last_used_at'),
    revokedAt: integer('revoked_at'),
  },
  (t) => [uniqueIndex('api_keys_hash').on(t.hash), index('api_keys_prefix').on(t.prefix), index('api_keys_user').on(t.userId, t.createdAt)],
);
