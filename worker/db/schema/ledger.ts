import { sql } from 'drizzle-orm';
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';
import { TRANSACTION_TYPES } from '../../contracts/account';
import { ACCOUNT_STATUSES } from '../../contracts/billing';
import { oneOf } from './checks';

/** The accounts directory, their ledger and their usage records, written by each TokenAccount's outbox. */
export { ACCOUNT_STATUSES } from '../../contracts/billing';

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
export { TRANSACTION_TYPES, type TransactionType } from '../../contracts/account';

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
    // Issue 13 (migration 0014): no (user_id, type, seq) index — the history pages read the DO, and
    // the archive's per-user probes walk user_seq (test/db/query-plans.test.ts). The payment lookup
    // by ref (stripe-events.ts userFor) keeps its index, partial: usage rows have no ref, so a
    // charge writes no entry in it.
    index('token_transactions_ref').on(t.ref).where(sql`ref IS NOT NULL`),
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
