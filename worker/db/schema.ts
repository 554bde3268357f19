/**
 * The D1 schema, the one source for it: drizzle-kit generates every new migration from this
 * file (`npm run db:generate`, see docs/database.md), and test/db/schema.test.ts proves the
 * database that `migrations/*.sql` build equals what this file says. Migrations 0001–0004 were
 * written by hand before that; they are applied and never edited, and this file was made to
 * match them exactly (CHECK constraints included, so a table drizzle-kit ever rebuilds keeps
 * them). What drizzle cannot say lives only in the SQL and is listed in `SQL_ONLY_OBJECTS`.
 */
import { sql } from 'drizzle-orm';
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { TRANSACTION_TYPES } from '../contracts/account';
import { ACCOUNT_STATUSES } from '../contracts/billing';
import type { Role } from '../contracts/auth';

/** `<column> IN ('a', 'b')` for a CHECK constraint, from the same list the column's type uses. */
function oneOf(column: string, values: readonly string[]) {
  return sql.raw(`${column} IN (${values.map((v) => `'${v}'`).join(', ')})`);
}

/** Global settings: a single row (id = 1). The multiplier is kept in basis points (1.5× = 15000). */
export const settings = sqliteTable(
  'settings',
  {
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
    // Columns later migrations append, in their order (0008, 0009, 0011).
    // Credit grants (issue 11): null = never expires.
    welcomeBonusExpiryDays: integer('welcome_bonus_expiry_days'),
    adminGrantExpiryDays: integer('admin_grant_expiry_days'),
    /** Issue 10: the price book's guardrail, revenue ≥ provider cost × (1 + min_margin_bps / 10,000). 0 = at least cost. */
    minMarginBps: integer('min_margin_bps').notNull().default(0),
    /** Issue 13: raw usage rows older than this many days leave D1 for the R2 archive (worker/services/archive.ts). */
    retentionDays: integer('retention_days').notNull().default(90),
  },
  () => [check('settings_single_row', sql`id = 1`)],
);

export const packages = sqliteTable(
  'packages',
  {
    id: text('id').primaryKey(),
    // 0001 wrote `UNIQUE` on the column, which SQLite keeps as a constraint with an automatic
    // index (sqlite_autoindex_packages_1); drizzle-kit thinks of it as index packages_name_unique.
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
  },
  () => [
    check('packages_tokens_positive', sql`tokens > 0`),
    check('packages_price_positive', sql`price_cents > 0`),
  ],
);

export { ACCOUNT_STATUSES } from '../contracts/billing';

/** Directory snapshot of each TokenAccount DO, written by its outbox. */
export const tokenAccounts = sqliteTable(
  'token_accounts',
  {
    userId: text('user_id').primaryKey(),
    workspaceId: text('workspace_id').notNull(),
    balance: integer('balance').notNull(),
    reserved: integer('reserved').notNull().default(0),
    status: text('status', { enum: ACCOUNT_STATUSES }).notNull(),
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
    // For the admin accounts list's keyset pagination (added by 0002_users_sessions.sql).
    index('token_accounts_created').on(t.createdAt, t.userId),
    check('token_accounts_status_check', oneOf('status', ACCOUNT_STATUSES)),
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
    check('token_transactions_type_check', oneOf('type', TRANSACTION_TYPES)),
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
    // Issue 10/12 (migration 0006 appends them, so they come last): the token classes beyond input/output, the price-book version that priced the
    // call (0 = the seed's multiplier, no book), what the provider charged us for it (µUSD), and
    // the API key the call came in with (null for calls without one).
    cachedInputTokens: integer('cached_input_tokens').notNull().default(0),
    cacheWriteTokens: integer('cache_write_tokens').notNull().default(0),
    reasoningTokens: integer('reasoning_tokens').notNull().default(0),
    priceVersion: integer('price_version').notNull().default(0),
    providerCostMicros: integer('provider_cost_micros').notNull().default(0),
    apiKeyId: text('api_key_id'),
  },
  (t) => [index('usage_records_user_created').on(t.userId, t.createdAt)],
);

/*
 * Rollups. The usage and ledger rollups (usage_daily, usage_by_*, usage_totals, ledger_daily,
 * ledger_totals) are written by each TokenAccount's outbox as one upsert per key per flush
 * (worker/do/outbox.ts), applied once per flush through `rollup_flushes`; migration 0005 dropped
 * the per-row triggers that kept them before. account_totals and outcome_counts are still kept by
 * the triggers in migrations/*.sql (see SQL_ONLY_OBJECTS). The Worker only reads rollups.
 */

/** The usage counters every usage rollup keeps; a function because drizzle columns belong to one table. */
function usageCounters() {
  return {
    requests: integer('requests').notNull().default(0),
    successes: integer('successes').notNull().default(0),
    failures: integer('failures').notNull().default(0),
    insufficientBalanceFailures: integer('insufficient_balance_failures').notNull().default(0),
    actualTokens: integer('actual_tokens').notNull().default(0),
    billableTokens: integer('billable_tokens').notNull().default(0),
    // Issue 10: margin in money. Revenue is the billable tokens at the tokens-per-USD rate in force
    // when the usage was flushed; provider cost is the price book's cost of the call; both µUSD.
    cachedInputTokens: integer('cached_input_tokens').notNull().default(0),
    cacheWriteTokens: integer('cache_write_tokens').notNull().default(0),
    reasoningTokens: integer('reasoning_tokens').notNull().default(0),
    revenueMicros: integer('revenue_micros').notNull().default(0),
    providerCostMicros: integer('provider_cost_micros').notNull().default(0),
  };
}

/** The ledger counters of ledger_daily and ledger_totals. */
function ledgerCounters() {
  return {
    entries: integer('entries').notNull().default(0),
    tokens: integer('tokens').notNull().default(0),
    amountCents: integer('amount_cents').notNull().default(0),
  };
}

export const usageDaily = sqliteTable(
  'usage_daily',
  { day: text('day').notNull(), model: text('model').notNull(), operation: text('operation').notNull(), ...usageCounters() },
  (t) => [primaryKey({ columns: [t.day, t.model, t.operation] })],
);

export const ledgerDaily = sqliteTable(
  'ledger_daily',
  { day: text('day').notNull(), type: text('type').notNull(), ...ledgerCounters() },
  (t) => [primaryKey({ columns: [t.day, t.type] })],
);

// The narrower rollups of 0004_stats_rollups.sql, so every admin stat reads a handful of rows.
export const usageByModelDaily = sqliteTable(
  'usage_by_model_daily',
  { day: text('day').notNull(), model: text('model').notNull(), ...usageCounters() },
  (t) => [primaryKey({ columns: [t.day, t.model] })],
);

export const usageByOperationDaily = sqliteTable(
  'usage_by_operation_daily',
  { day: text('day').notNull(), operation: text('operation').notNull(), ...usageCounters() },
  (t) => [primaryKey({ columns: [t.day, t.operation] })],
);

export const usageByDay = sqliteTable('usage_by_day', { day: text('day').primaryKey(), ...usageCounters() });

/** All-time usage: a single row (id = 1). */
export const usageTotals = sqliteTable('usage_totals', { id: integer('id').primaryKey(), ...usageCounters() }, () => [
  check('usage_totals_single_row', sql`id = 1`),
]);

export const ledgerTotals = sqliteTable('ledger_totals', { type: text('type').primaryKey(), ...ledgerCounters() });

/**
 * The price book (issue 10), versioned: every change is a new row, never an update. A version
 * applies from `effective_at` until the next version's `effective_at`; no row means the seed's
 * pricing (the settings' multiplier and image costs). `entries` is the JSON of
 * `PriceBookEntry[]` (worker/lib/price-book.ts), validated by its zod schema before it is written.
 */
export const priceBookVersions = sqliteTable(
  'price_book_versions',
  {
    version: integer('version').primaryKey(),
    effectiveAt: integer('effective_at').notNull(),
    entries: text('entries').notNull(),
    createdAt: integer('created_at').notNull(),
    /** Admin user id, or `import:<file name>` for `npm run prices:import`. */
    createdBy: text('created_by').notNull(),
    reason: text('reason'),
    /** Set when a superadmin overrode the minimum-margin guardrail (audited). */
    overrideReason: text('override_reason'),
  },
  (t) => [index('price_book_versions_effective').on(t.effectiveAt)],
);

export const accountTotals = sqliteTable('account_totals', {
  status: text('status').primaryKey(),
  accounts: integer('accounts').notNull().default(0),
  balanceSum: integer('balance_sum').notNull().default(0),
});

/** Outcome counters, named `<table>:<status>` (stripe_events, auto_recharge_attempts). */
export const outcomeCounts = sqliteTable('outcome_counts', {
  name: text('name').primaryKey(),
  n: integer('n').notNull().default(0),
});

export const ARCHIVE_KINDS = ['usage', 'transactions'] as const;
export const ARCHIVE_DAY_STATUSES = ['archived', 'pruned'] as const;

/**
 * Issue 13: progress of the R2 archive (worker/services/archive.ts), one row per kind and UTC day.
 * `archived`: the day's object is written and verified (rows, sha256 of its bytes); `pruned`: the
 * day's raw rows have left D1 too. The cron resumes from here, and reads (history, CSV export,
 * reconcile) ask it which days to read from R2.
 */
export const archiveDays = sqliteTable(
  'archive_days',
  {
    kind: text('kind', { enum: ARCHIVE_KINDS }).notNull(),
    day: text('day').notNull(),
    status: text('status', { enum: ARCHIVE_DAY_STATUSES }).notNull(),
    objectKey: text('object_key').notNull(),
    rows: integer('rows').notNull(),
    sha256: text('sha256').notNull(),
    archivedAt: integer('archived_at').notNull(),
    prunedAt: integer('pruned_at'),
  },
  (t) => [
    primaryKey({ columns: [t.kind, t.day] }),
    check('archive_days_kind_check', oneOf('kind', ARCHIVE_KINDS)),
    check('archive_days_status_check', oneOf('status', ARCHIVE_DAY_STATUSES)),
  ],
);

/**
 * Issue 13: each user's usage per UTC day, model and operation for the days whose raw
 * usage_records were pruned, written in the same D1 batch that deletes them. The user's usage
 * summary (worker/services/account.ts) adds it to the raw rows still in D1, so the chart keeps
 * every day without reading R2. A rollup: it stays forever.
 */
export const userUsageDaily = sqliteTable(
  'user_usage_daily',
  {
    userId: text('user_id').notNull(),
    day: text('day').notNull(),
    model: text('model').notNull(),
    operation: text('operation').notNull(),
    requests: integer('requests').notNull().default(0),
    actualTokens: integer('actual_tokens').notNull().default(0),
    billableTokens: integer('billable_tokens').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.userId, t.day, t.model, t.operation] })],
);

/**
 * The last rollup flush each account's outbox has applied (its flush sequence). Every rollup delta
 * of a flush is conditional on `seq` being below the flush's, and the same D1 batch (one
 * transaction) then records the flush, so a retried or duplicated flush adds nothing twice.
 */
export const rollupFlushes = sqliteTable('rollup_flushes', {
  userId: text('user_id').primaryKey(),
  seq: integer('seq').notNull(),
});

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

/** The Stripe customer of each user (one each). */
export const stripeCustomers = sqliteTable('stripe_customers', {
  customerId: text('customer_id').primaryKey(),
  // A constraint with an automatic index, like packages.name.
  userId: text('user_id').notNull().unique(),
  createdAt: integer('created_at').notNull(),
});

export const STRIPE_EVENT_STATUSES = ['processing', 'processed', 'ignored', 'failed'] as const;

/** Every webhook event received, with its processing outcome. */
export const stripeEvents = sqliteTable(
  'stripe_events',
  {
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    status: text('status', { enum: STRIPE_EVENT_STATUSES }).notNull(),
    userId: text('user_id'),
    objectId: text('object_id'),
    error: text('error'),
    attempts: integer('attempts').notNull().default(1),
    stripeCreated: integer('stripe_created').notNull(),
    receivedAt: integer('received_at').notNull(),
    processedAt: integer('processed_at'),
  },
  (t) => [
    index('stripe_events_status').on(t.status),
    index('stripe_events_received').on(t.receivedAt),
    check('stripe_events_status_check', oneOf('status', STRIPE_EVENT_STATUSES)),
  ],
);

export const AUTO_RECHARGE_STATUSES = ['in_flight', 'succeeded', 'failed'] as const;

/** Auto-recharge attempts, replicated from each TokenAccount DO's outbox for admin metrics. */
export const autoRechargeAttempts = sqliteTable(
  'auto_recharge_attempts',
  {
    id: text('id').primaryKey(),
    userId: text('user_id').notNull(),
    paymentIntentId: text('payment_intent_id'),
    status: text('status', { enum: AUTO_RECHARGE_STATUSES }).notNull(),
    tokens: integer('tokens').notNull(),
    amountCents: integer('amount_cents').notNull(),
    error: text('error'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [
    index('auto_recharge_attempts_status').on(t.status),
    index('auto_recharge_attempts_user').on(t.userId, t.createdAt),
    check('auto_recharge_attempts_status_check', oneOf('status', AUTO_RECHARGE_STATUSES)),
  ],
);

/**
 * Outgoing webhook endpoints (alerts for the operator's app, docs/webhooks.md), configured by a
 * superadmin. `secret` signs every delivery; the API shows it once, at creation. `event_types` is
 * a JSON array of alert types.
 */
export const webhookEndpoints = sqliteTable(
  'webhook_endpoints',
  {
    id: text('id').primaryKey(),
    url: text('url').notNull(),
    secret: text('secret').notNull(),
    eventTypes: text('event_types').notNull(),
    enabled: integer('enabled').notNull().default(1),
    description: text('description').notNull().default(''),
    createdBy: text('created_by'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [check('webhook_endpoints_enabled_check', sql`enabled IN (0, 1)`)],
);

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

/**
 * One alert event to one endpoint (unique per pair, so a queue redelivery sends nothing twice):
 * its body, tries, outcome and the next try. A `failed` delivery can be resent by an admin.
 */
export const webhookDeliveries = sqliteTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    eventId: text('event_id').notNull(),
    eventType: text('event_type').notNull(),
    endpointId: text('endpoint_id').notNull(),
    userId: text('user_id'),
    payload: text('payload').notNull(),
    attempts: integer('attempts').notNull().default(0),
    status: text('status', { enum: WEBHOOK_DELIVERY_STATUSES }).notNull(),
    lastResponseCode: integer('last_response_code'),
    lastError: text('last_error'),
    nextAttemptAt: integer('next_attempt_at'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    deliveredAt: integer('delivered_at'),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_endpoint').on(t.eventId, t.endpointId),
    index('webhook_deliveries_created').on(t.createdAt, t.id),
    index('webhook_deliveries_status').on(t.status, t.createdAt),
    check('webhook_deliveries_status_check', oneOf('status', WEBHOOK_DELIVERY_STATUSES)),
  ],
);

/**
 * What the migrations create that drizzle cannot describe, so it exists only in
 * `migrations/*.sql`: the rollup triggers (trigger name → its table) and the WITHOUT ROWID
 * option of some rollup tables. test/db/schema.test.ts checks the database has exactly these.
 * Beware: SQLite drops a table's triggers with the table, so a migration in which drizzle-kit
 * rebuilds one of these tables must re-create its triggers (docs/database.md).
 */
export const SQL_ONLY_OBJECTS = {
  triggers: {
    // 0004_stats_rollups.sql (0005_rollup_deltas.sql dropped the usage_records and
    // token_transactions triggers of 0001 and 0004: the outbox sends rollup deltas instead)
    token_accounts_totals_insert: 'token_accounts',
    token_accounts_totals_update: 'token_accounts',
    token_accounts_totals_delete: 'token_accounts',
    stripe_events_count_insert: 'stripe_events',
    stripe_events_count_update: 'stripe_events',
    auto_recharge_attempts_count_insert: 'auto_recharge_attempts',
    auto_recharge_attempts_count_update: 'auto_recharge_attempts',
  },
  views: {},
  withoutRowidTables: ['usage_by_model_daily', 'usage_by_operation_daily', 'usage_by_day', 'ledger_totals', 'account_totals', 'outcome_counts'],
} as const satisfies { triggers: Record<string, string>; views: Record<string, string>; withoutRowidTables: readonly string[] };
