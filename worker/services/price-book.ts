import type { PriceEntry, PriceVersionInfo, UserPricesAnswer } from '../contracts/prices';
import { DEFAULT_SETTINGS, type BillingSettings } from '../contracts/settings';
import { readPriceBook } from '../db/price-book-store';
import { readSettings } from '../db/settings';
import { seedPriceBookEntries, type PriceBookEntry } from '../lib/price-book';

/**
 * Reads of the price book (D1 `price_book_versions`, issue 10) for the admin API and the user's
 * `/api/prices`. The user's view reads through `readPriceBook` (worker/db/price-book-store.ts),
 * the same read the `TokenAccount` prices with. The admin view also needs each version's
 * who/why (created_by, reason, override_reason) and the newest version (changes build on it),
 * so `readVersions` reads those rows with the store's ordering: the version in force at t is the
 * latest `effective_at ≤ t` (of two at one instant, the higher version). Versions are made in
 * `effective_at` order (admin-prices.ts refuses one before the newest), so that is also the
 * highest-numbered one. No such row = the seed's pricing (`seedPriceBookEntries`).
 */

/** One stored version, entries parsed. */
export interface StoredVersion extends PriceVersionInfo {
  entries: PriceBookEntry[];
}

interface VersionRow {
  version: number;
  effective_at: number;
  entries: string;
  created_at: number;
  created_by: string;
  reason: string | null;
  override_reason: string | null;
}

const COLS = 'version, effective_at, entries, created_at, created_by, reason, override_reason';

export function toStoredVersion(r: VersionRow): StoredVersion {
  // Written only by admin-prices.ts after validation with priceBookEntrySchema.
  const entries = JSON.parse(r.entries) as PriceBookEntry[];
  return {
    version: r.version,
    effectiveAt: r.effective_at,
    createdAt: r.created_at,
    createdBy: r.created_by,
    reason: r.reason,
    overrideReason: r.override_reason,
    entryCount: entries.length,
    entries,
  };
}

export function versionInfo(v: StoredVersion): PriceVersionInfo {
  const { entries: _entries, ...info } = v;
  return info;
}

/** The stored entry type is the API's entry shape: the compiler checks the contract mirrors the lib. */
export const asPriceEntries = (entries: PriceBookEntry[]): PriceEntry[] => entries;

/** The version in force at `at`, the newest version, and the first one scheduled after `at`. */
export async function readVersions(db: D1Database, at: number): Promise<{ current: StoredVersion | null; latest: StoredVersion | null; next: StoredVersion | null }> {
  const [current, latest, next] = await db.batch<VersionRow>([
    db.prepare(`SELECT ${COLS} FROM price_book_versions WHERE effective_at <= ? ORDER BY effective_at DESC, version DESC LIMIT 1`).bind(at),
    db.prepare(`SELECT ${COLS} FROM price_book_versions ORDER BY version DESC LIMIT 1`),
    db.prepare(`SELECT ${COLS} FROM price_book_versions WHERE effective_at > ? ORDER BY effective_at ASC, version DESC LIMIT 1`).bind(at),
  ]);
  const one = (r: D1Result<VersionRow>) => (r.results[0] ? toStoredVersion(r.results[0]) : null);
  return { current: one(current), latest: one(latest), next: one(next) };
}

export async function readVersion(db: D1Database, version: number): Promise<StoredVersion | null> {
  const r = await db.prepare(`SELECT ${COLS} FROM price_book_versions WHERE version = ?`).bind(version).first<VersionRow>();
  return r ? toStoredVersion(r) : null;
}

export async function settingsOrDefault(db: D1Database): Promise<BillingSettings> {
  return (await readSettings(db)) ?? DEFAULT_SETTINGS;
}

/** A version's entries, or the seed's pricing when there is no version. */
export function entriesOf(v: StoredVersion | null, settings: BillingSettings): PriceBookEntry[] {
  return v?.entries ?? seedPriceBookEntries(settings);
}

/**
 * `GET /api/prices`: what each model costs a user now, in platform tokens. Rates, image prices,
 * request fees and long-context tiers only: provider costs, sources and notes stay with admins.
 */
export async function getUserPrices(db: D1Database, now = Date.now()): Promise<UserPricesAnswer> {
  const [{ current }, settings] = await Promise.all([readPriceBook(db, now), settingsOrDefault(db)]);
  return {
    version: current?.version ?? null,
    effectiveAt: current?.effectiveAt ?? null,
    tokensPerUsd: settings.tokensPerUsd,
    models: (current?.entries ?? seedPriceBookEntries(settings)).map((e) => ({
      id: e.id,
      provider: e.provider,
      aliases: e.aliases,
      rates: e.rates,
      ...(e.images ? { images: e.images } : {}),
      ...(e.requestFee !== undefined ? { requestFee: e.requestFee } : {}),
      ...(e.longContext ? { longContext: e.longContext.map((t) => ({ aboveInputTokens: t.aboveInputTokens, rates: t.rates })) } : {}),
    })),
  };
}
