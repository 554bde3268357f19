import { check, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { oneOf } from './checks';

/** What the R2 archive has taken out of D1, per day and kind. */
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
