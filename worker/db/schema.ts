/**
 * The D1 schema, the one source for it: this file and the table groups it re-exports from
 * worker/db/schema/ (settings, ledger, rollups, prices, archive, users, payments, webhooks).
 * drizzle-kit generates every new migration from it (`npm run db:generate`, see
 * docs/database.md), and test/db/schema.test.ts proves the database that `migrations/*.sql`
 * build equals what it says. Migrations 0001–0004 were
 * written by hand before that; they are applied and never edited, and the schema was made to
 * match them exactly (CHECK constraints included, so a table drizzle-kit ever rebuilds keeps
 * them). What drizzle cannot say lives only in the SQL and is listed in `SQL_ONLY_OBJECTS`.
 */
export * from './schema/settings';
export * from './schema/ledger';
export * from './schema/rollups';
export * from './schema/prices';
export * from './schema/archive';
export * from './schema/users';
export * from './schema/payments';
export * from './schema/webhooks';

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
  withoutRowidTables: ['usage_by_model_daily', 'usage_by_operation_daily', 'usage_by_day', 'ledger_totals', 'account_totals', 'outcome_counts', 'account_usage_daily'],
} as const satisfies { triggers: Record<string, string>; views: Record<string, string>; withoutRowidTables: readonly string[] };
