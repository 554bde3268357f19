import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

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
