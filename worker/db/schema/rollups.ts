import { sql } from 'drizzle-orm';
import { check, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

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
    // Issue 11: operations a spend limit refused, counted like insufficient-balance refusals.
    spendLimitFailures: integer('spend_limit_failures').notNull().default(0),
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

/**
 * Issue 13: each account's usage per UTC day, model, operation and API key ('' for calls without
 * one). The outbox sends it as one delta upsert per key per flush, under the flush sequence like
 * the other rollups, instead of a `usage_records` row per operation: it serves the user's usage
 * summary, the burn estimate and the usage-by-key breakdown (worker/services/account.ts,
 * api-keys.ts). Migration 0014 filled it from the usage_records rows then in D1 and from
 * user_usage_daily (the archive's per-user sums of pruned days, which it replaces). Per-record
 * detail stays in each TokenAccount (`usageBetween`) and the R2 archive. A rollup: it stays forever.
 * WITHOUT ROWID (SQL_ONLY_OBJECTS): the key is the table, so an upsert writes one b-tree row, not two.
 */
export const accountUsageDaily = sqliteTable(
  'account_usage_daily',
  {
    userId: text('user_id').notNull(),
    day: text('day').notNull(),
    model: text('model').notNull(),
    operation: text('operation').notNull(),
    apiKeyId: text('api_key_id').notNull().default(''),
    requests: integer('requests').notNull().default(0),
    /** Successful operations' actual tokens, as the other rollups count them. */
    actualTokens: integer('actual_tokens').notNull().default(0),
    billableTokens: integer('billable_tokens').notNull().default(0),
    cachedInputTokens: integer('cached_input_tokens').notNull().default(0),
    reasoningTokens: integer('reasoning_tokens').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.userId, t.day, t.model, t.operation, t.apiKeyId] })],
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
