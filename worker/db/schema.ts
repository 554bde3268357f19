import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { TRANSACTION_TYPES } from '../contracts/account';
import type { Role } from '../contracts/auth';

/** Global settings: a single row (id = 1). The multiplier is kept in basis points (1.5× = 15000). */
export const settings = sqliteTable('settings', {
  id: integer('id').primaryKey(),
  tokenMultiplierBps: integer('token_multiplier_bps').notNull(),
  imageCosts: text('image_costs', { mode: 'json' }).$type<Record<string, number>>().notNull(),
  tokensPerUsd: integer('tokens_per_usd').notNull(),
  minimumPurchaseCents: integer('minimum_purchase_cents').notNull(),
  welcomeBonus: integer('welcome_bonus').notNull(),
  lowBalanceThreshold: integer('low_balance_threshold').notNull(),
  criticalBalanceThreshold: integer('critical_balance_threshold').notNull(),
  updatedAt: integer('updated_at').notNull(),
  updatedBy: text('updated_by'),
});

export const packages = sqliteTable('packages', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  description: text('description').notNull().default(''),
  tokens: integer('tokens').notNull(),
  priceCents: integer('price_cents').notNull(),
  stripePriceId: text('stripe_price_id').notNull(),
  popular: integer('popular', { mode: 'boolean' }).notNull().default(false),
  active: integer('active', { mode: 'boolean' }).notNull().default(true),
  sortOrder: integer('sort_order').notNull().default(0),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/** Directory snapshot of each TokenAccount DO, written by its outbox. */
export const tokenAccounts = sqliteTable(
  'token_accounts',
  {
    userId: text('user_id').primaryKey(),
    workspaceId: text('workspace_id').notNull(),
    balance: integer('balance').notNull(),
    reserved: integer('reserved').notNull().default(0),
    status: text('status', { enum: ['active', 'suspended'] }).notNull(),
    onboardingTokensGranted: integer('onboarding_tokens_granted', { mode: 'boolean' }).notNull().default(false),
    lastPurchaseAt: integer('last_purchase_at'),
    autoRechargeEnabled: integer('auto_recharge_enabled', { mode: 'boolean' }).notNull().default(false),
    seq: integer('seq').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('token_accounts_status_balance').on(t.status, t.balance),
    index('token_accounts_workspace').on(t.workspaceId),
    // Added by 0002_users_sessions.sql for the admin accounts list's keyset pagination.
    index('token_accounts_created').on(t.createdAt, t.userId),
  ],
);

// The API's transaction types and roles (worker/contracts) are the columns' enums.
export { TRANSACTION_TYPES, type TransactionType } from '../contracts/account';

export const tokenTransactions = sqliteTable(
  'token_transactions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    seq: integer('seq').notNull(),
    type: text('type', { enum: TRANSACTION_TYPES }).notNull(),
    amount: integer('amount').notNull(),
    balanceAfter: integer('balance_after').notNull(),
    amountCents: integer('amount_cents'),
    ref: text('ref'),
    idempotencyKey: text('idempotency_key'),
    description: text('description').notNull().default(''),
    metadata: text('metadata'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    uniqueIndex('token_transactions_user_seq').on(t.userId, t.seq),
    index('token_transactions_user_type').on(t.userId, t.type, t.seq),
    index('token_transactions_ref').on(t.ref),
  ],
);

export const usageRecords = sqliteTable(
  'usage_records',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    operation: text('operation').notNull(),
    model: text('model').notNull(),
    inputTokens: integer('input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    images: integer('images').notNull().default(0),
    actualTokens: integer('actual_tokens').notNull(),
    billableTokens: integer('billable_tokens').notNull(),
    success: integer('success', { mode: 'boolean' }).notNull(),
    errorCode: text('error_code'),
    requestId: text('request_id'),
    reservationId: text('reservation_id'),
    transactionId: text('transaction_id'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('usage_records_user_created').on(t.userId, t.createdAt)],
);

export const usageDaily = sqliteTable(
  'usage_daily',
  {
    day: text('day').notNull(),
    model: text('model').notNull(),
    operation: text('operation').notNull(),
    requests: integer('requests').notNull(),
    successes: integer('successes').notNull(),
    failures: integer('failures').notNull(),
    insufficientBalanceFailures: integer('insufficient_balance_failures').notNull(),
    actualTokens: integer('actual_tokens').notNull(),
    billableTokens: integer('billable_tokens').notNull(),
  },
  (t) => [primaryKey({ columns: [t.day, t.model, t.operation] })],
);

export const ledgerDaily = sqliteTable(
  'ledger_daily',
  {
    day: text('day').notNull(),
    type: text('type').notNull(),
    entries: integer('entries').notNull(),
    tokens: integer('tokens').notNull(),
    amountCents: integer('amount_cents').notNull(),
  },
  (t) => [primaryKey({ columns: [t.day, t.type] })],
);

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

export { ROLES, type Role } from '../contracts/auth';

/** People who sign in. `email` is lowercase; `passwordHash` is `pbkdf2-sha256$iterations$salt$hash`. */
export const users = sqliteTable(
  'users',
  {
    id: text('id').primaryKey(),
    email: text('email').notNull(),
    passwordHash: text('password_hash').notNull(),
    roles: text('roles', { mode: 'json' }).$type<Role[]>().notNull(),
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
