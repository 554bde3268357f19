import { sql } from 'drizzle-orm';
import { check, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Global settings and the token packages on sale. */
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
    // Columns later migrations append, in their order (0008, 0009, 0011, 0012, 0013).
    // Credit grants (issue 11): null = never expires.
    welcomeBonusExpiryDays: integer('welcome_bonus_expiry_days'),
    adminGrantExpiryDays: integer('admin_grant_expiry_days'),
    /** Issue 10: the price book's guardrail, revenue ≥ provider cost × (1 + min_margin_bps / 10,000). 0 = at least cost. */
    minMarginBps: integer('min_margin_bps').notNull().default(0),
    /** Issue 13: raw usage rows older than this many days leave D1 for the R2 archive (worker/services/archive.ts). */
    retentionDays: integer('retention_days').notNull().default(90),
    /** Issue 13: billing calls per second per account, both paths, counted by the account's DO (worker/do/call-throttle.ts). */
    billingCallsPerSecond: integer('billing_calls_per_second').notNull().default(5000),
    /** Issue 11: `grant.expiring` fires this many days before a grant expires (worker/do/grant-notices.ts). */
    grantExpiringNoticeDays: integer('grant_expiring_notice_days').notNull().default(7),
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
