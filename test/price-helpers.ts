import { env } from 'cloudflare:workers';
import { DEFAULT_SETTINGS } from '../worker/contracts/settings';
import { seedPriceBookEntries, type PriceBookEntry } from '../worker/lib/price-book';

/**
 * Price-book versions for workerd tests. Every book written here starts from the seed's pricing
 * (the `default` entry at the default multiplier and the default image models), so a test file
 * that shares D1 with this one bills its own models exactly as the seed does.
 */
export function seedBook(extra: PriceBookEntry[] = []): PriceBookEntry[] {
  return [...seedPriceBookEntries(DEFAULT_SETTINGS), ...extra];
}

const written: number[] = [];

/** Inserts a version as the admin API would (it validates first; tests write what they mean to). */
export async function writeVersion(version: number, effectiveAt: number, entries: unknown): Promise<void> {
  written.push(version);
  await env.DB.prepare(`INSERT INTO price_book_versions (version, effective_at, entries, created_at, created_by) VALUES (?, ?, ?, ?, 'test')`)
    .bind(version, effectiveAt, JSON.stringify(entries), Date.now())
    .run();
}

/** Deletes every version this file wrote (call in afterEach). */
export async function deleteVersions(): Promise<void> {
  for (const v of written.splice(0)) await env.DB.prepare(`DELETE FROM price_book_versions WHERE version = ?`).bind(v).run();
}
