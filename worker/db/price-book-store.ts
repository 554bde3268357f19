import type { BillingSettings } from '../contracts/settings';
import { priceBookEntrySchema, priceBookProblems, type PriceBookEntry } from '../lib/price-book';
import { SELECT_SETTINGS, settingsFromRow, type SettingsRow } from './settings';

/**
 * Reads of the versioned price book (`price_book_versions`, issue 10). A version applies from its
 * `effective_at` until the next version's; no version in force means the seed's pricing (the
 * settings' multiplier and image costs, `seedPriceBookEntries`). The `TokenAccount` loads the
 * version in force and the next one scheduled together with the settings, in one D1 batch on
 * its settings cache's TTL (never per charge), and switches to the next one itself at its
 * `effective_at`. The admin API reads through the same functions.
 */

/** One stored version, its entries validated. */
export interface PriceBookVersion {
  version: number;
  /** Epoch ms from which this version prices calls. */
  effectiveAt: number;
  entries: PriceBookEntry[];
}

/** The version in force at a moment and the next one scheduled after it (each null when there is none). */
export interface PriceSchedule {
  current: PriceBookVersion | null;
  next: PriceBookVersion | null;
}

export const NO_PRICE_SCHEDULE: PriceSchedule = { current: null, next: null };

/**
 * The version in force at ?1 (the latest `effective_at` ≤ ?1; of two with the same instant, the
 * higher version, written later) and the first one after it, in one statement.
 */
export const SELECT_PRICE_SCHEDULE = `SELECT version, effective_at, entries FROM (
    SELECT version, effective_at, entries FROM price_book_versions WHERE effective_at <= ?1 ORDER BY effective_at DESC, version DESC LIMIT 1)
  UNION ALL
  SELECT version, effective_at, entries FROM (
    SELECT version, effective_at, entries FROM price_book_versions WHERE effective_at > ?1 ORDER BY effective_at ASC, version DESC LIMIT 1)`;

interface VersionRow {
  version: number;
  effective_at: number;
  entries: string;
}

/**
 * A stored row as a version. Throws when its entries are not a valid book: the writer validates
 * before it inserts, so this only fires on a row written by hand, and the DO's cache then keeps
 * the book it had rather than price with a broken one.
 */
export function versionFromRow(row: VersionRow): PriceBookVersion {
  const invalid = (why: string) => new Error(`price book version ${row.version} is invalid: ${why}`);
  const json: unknown = JSON.parse(row.entries);
  if (!Array.isArray(json)) throw invalid('entries is not an array');
  const entries = json.map((e, i) => {
    const parsed = priceBookEntrySchema.safeParse(e);
    if (!parsed.success) throw invalid(`entry ${i}: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`);
    return parsed.data;
  });
  const problems = priceBookProblems(entries);
  if (problems.length) throw invalid(problems.join('; '));
  return { version: row.version, effectiveAt: row.effective_at, entries };
}

/** Splits the rows of `SELECT_PRICE_SCHEDULE` into the version in force at `now` and the next one. */
export function scheduleFromRows(rows: readonly VersionRow[], now: number): PriceSchedule {
  let current: PriceBookVersion | null = null;
  let next: PriceBookVersion | null = null;
  for (const r of rows) {
    if (r.effective_at <= now) current = versionFromRow(r);
    else next = versionFromRow(r);
  }
  return { current, next };
}

/** The price-book version in force at `now` and the next one scheduled, if any. */
export async function readPriceBook(db: D1Database, now: number): Promise<PriceSchedule> {
  const { results } = await db.prepare(SELECT_PRICE_SCHEDULE).bind(now).all<VersionRow>();
  return scheduleFromRows(results, now);
}

/** What a `TokenAccount` prices with: the settings (null: no row, the defaults apply) and the price schedule. */
export interface BillingConfig {
  settings: BillingSettings | null;
  prices: PriceSchedule;
}

/** The settings and the price schedule at `now` in one D1 batch (one round trip, one consistent read). */
export async function readBillingConfig(db: D1Database, now: number): Promise<BillingConfig> {
  const [settings, prices] = await db.batch<SettingsRow | VersionRow>([db.prepare(SELECT_SETTINGS), db.prepare(SELECT_PRICE_SCHEDULE).bind(now)]);
  const row = settings.results[0] as SettingsRow | undefined;
  return { settings: row ? settingsFromRow(row) : null, prices: scheduleFromRows(prices.results as VersionRow[], now) };
}
