/**
 * Issue 13: the retention window. Usage records and the `usage` rows of `token_transactions`
 * older than the `retentionDays` setting are written to R2 (and the transactions leave D1), one gzip NDJSON
 * object per kind and UTC day (`usage/2026/11/26.ndjson.gz`, `transactions/2026/11/26.ndjson.gz`).
 * Everything else stays: the other transaction types (purchases, refunds… which Stripe
 * reconciliation reads), the rollups, and the DO's own ledger of record.
 *
 * Per kind and day, oldest first, a bounded number per run (the hourly Cron Trigger resumes):
 *  1. read the day's rows from the TokenAccounts that used the day (the account_usage_daily
 *     rollup says which; the outbox sends D1 no usage_records row since migration 0014 and no
 *     usage transaction since issue 13's last step) plus any such row D1 still holds from before — (and, when the day was archived before, the rows already in its
 *     object, so a re-archive after a partial prune loses nothing), sorted by (user_id,
 *     created_at, id), one JSON object per line with the table's columns in schema order: the
 *     same rows always give the same bytes, so re-archiving a day replaces it with identical content;
 *  2. put the object with its row count and sha256 in custom metadata, read it back and check
 *     both (a write that failed or was cut short stops here, before anything is deleted);
 *  3. record the day `archived` in `archive_days`;
 *  4. delete the day's rows from D1, a chunk of users at a time, each delete guarded in its
 *     statement by "the chunk still has exactly the rows the object holds" (rows are
 *     append-only, so same count = same rows): a row that arrived after step 1 keeps the chunk
 *     in D1 and the next run re-archives the day. The user's usage chart reads the
 *     account_usage_daily rollup, which stays;
 *  5. mark the day `pruned` once no row of it is left.
 *
 * Rows are found through the existing per-user indexes (`usage_records (user_id, created_at)`,
 * `token_transactions (user_id, type, seq)`, `account_usage_daily`'s key) with the user list of
 * `token_accounts`, so the archive adds no index, and no row written, to the charge path. A usage
 * day is due while `usage_by_day` counts more records for it than its object holds; a
 * transactions day while `ledger_daily` counts more usage entries.
 */
import { getTableConfig } from 'drizzle-orm/sqlite-core';
import { DEFAULT_SETTINGS } from '../contracts/settings';
import { tokenTransactions, usageRecords } from '../db/schema';
import { readSettings } from '../db/settings';
import type { TokenAccount } from '../do/token-account';

export const DAY_MS = 24 * 3600_000;
export type ArchiveKind = 'usage' | 'transactions';
export const ARCHIVE_KIND_LIST: readonly ArchiveKind[] = ['usage', 'transactions'];

/** The part of an R2 bucket the archive uses (tests wrap the real binding to fail a write). */
export type ArchiveBucket = Pick<R2Bucket, 'put' | 'get' | 'head'>;

/** One archived row: the D1 row's columns, in schema order. */
export type ArchiveRow = Record<string, string | number | null>;

interface KindSpec {
  table: string;
  /** Extra condition: only usage transactions leave D1. */
  where: string;
  columns: string[];
}

export const KINDS: Record<ArchiveKind, KindSpec> = {
  usage: { table: 'usage_records', where: '', columns: getTableConfig(usageRecords).columns.map((c) => c.name) },
  transactions: { table: 'token_transactions', where: `AND type = 'usage'`, columns: getTableConfig(tokenTransactions).columns.map((c) => c.name) },
};

/** Users per D1 statement (D1 binds at most 100 parameters). */
const USER_CHUNK = 50;
/** Kind-days per run, so one invocation stays well inside a Cron Trigger's CPU and D1 limits. */
export const DEFAULT_MAX_DAYS_PER_RUN = 6;

export function dayStart(day: string): number {
  return Date.parse(`${day}T00:00:00Z`);
}

export function utcDayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** `usage/2026/11/26.ndjson.gz`: one object per kind and UTC day (one shard: D1 is one database). */
export function archiveKey(kind: ArchiveKind, day: string): string {
  return `${kind}/${day.slice(0, 4)}/${day.slice(5, 7)}/${day.slice(8, 10)}.ndjson.gz`;
}

/** Start of the first UTC day that is still inside the window: rows before it may be archived. */
export function retentionCutoff(now: number, retentionDays: number): number {
  return dayStart(utcDayOf(now - retentionDays * DAY_MS));
}

async function pipeBytes(bytes: Uint8Array<ArrayBuffer>, stream: CompressionStream | DecompressionStream): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(stream)).arrayBuffer());
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function compareRows(a: ArchiveRow, b: ArchiveRow): number {
  const ka = [String(a.user_id), Number(a.created_at), String(a.id)] as const;
  const kb = [String(b.user_id), Number(b.created_at), String(b.id)] as const;
  if (ka[0] !== kb[0]) return ka[0] < kb[0] ? -1 : 1;
  if (ka[1] !== kb[1]) return ka[1] - kb[1];
  return ka[2] < kb[2] ? -1 : ka[2] > kb[2] ? 1 : 0;
}

/** The object's bytes for a set of rows: sorted, one JSON object per line in column order, gzip. */
export async function encodeDay(kind: ArchiveKind, rows: ArchiveRow[]): Promise<{ body: Uint8Array<ArrayBuffer>; sha256: string; rows: number }> {
  const cols = KINDS[kind].columns;
  const sorted = [...rows].sort(compareRows);
  const text = sorted.map((r) => JSON.stringify(Object.fromEntries(cols.map((c) => [c, r[c] ?? null])))).join('\n') + (sorted.length ? '\n' : '');
  const body = await pipeBytes(new TextEncoder().encode(text), new CompressionStream('gzip'));
  return { body, sha256: await sha256Hex(body), rows: sorted.length };
}

/** An object's bytes if their sha256 is the expected one (null: absent or different). */
async function readVerified(bucket: ArchiveBucket, key: string, sha256: string): Promise<Uint8Array<ArrayBuffer> | null> {
  const obj = await bucket.get(key);
  if (!obj) return null;
  const bytes = new Uint8Array(await obj.arrayBuffer());
  return (await sha256Hex(bytes)) === sha256 ? bytes : null;
}

async function decodeBytes(bytes: Uint8Array<ArrayBuffer>): Promise<ArchiveRow[]> {
  const text = new TextDecoder().decode(await pipeBytes(bytes, new DecompressionStream('gzip')));
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as ArchiveRow);
}

/**
 * The rows of an archived day as `archive_days` recorded them (its sha256), from the object or,
 * if that was damaged by a failed re-archive, from its `.prev` copy; null when the day was never archived.
 */
export async function readArchivedDay(db: D1Database, bucket: ArchiveBucket, kind: ArchiveKind, day: string): Promise<ArchiveRow[] | null> {
  const known = await db.prepare('SELECT sha256 FROM archive_days WHERE kind = ? AND day = ?').bind(kind, day).first<{ sha256: string }>();
  if (!known) return null;
  const key = archiveKey(kind, day);
  const bytes = (await readVerified(bucket, key, known.sha256)) ?? (await readVerified(bucket, `${key}.prev`, known.sha256));
  if (!bytes) throw new Error(`archive object ${key} is missing or damaged`);
  return decodeBytes(bytes);
}

async function userIds(db: D1Database): Promise<string[]> {
  const { results } = await db.prepare('SELECT user_id FROM token_accounts ORDER BY user_id').all<{ user_id: string }>();
  return results.map((r) => r.user_id);
}

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

const marks = (n: number, from: number) => Array.from({ length: n }, (_, i) => `?${from + i}`).join(', ');

/** D1 rows of one kind and UTC day for some users (through the per-user index). */
export async function d1DayRows(db: D1Database, kind: ArchiveKind, day: string, users: string[]): Promise<ArchiveRow[]> {
  const k = KINDS[kind];
  const out: ArchiveRow[] = [];
  for (const chunk of chunks(users, USER_CHUNK)) {
    const { results } = await db
      .prepare(`SELECT ${k.columns.join(', ')} FROM ${k.table} WHERE user_id IN (${marks(chunk.length, 3)}) AND created_at >= ?1 AND created_at < ?2 ${k.where} ORDER BY user_id, created_at, id`)
      .bind(dayStart(day), dayStart(day) + DAY_MS, ...chunk)
      .all<ArchiveRow>();
    out.push(...results);
  }
  return out;
}

/** The users whose TokenAccount recorded usage on a day (a probe of the rollup's key per user). */
async function usersWithUsage(db: D1Database, day: string): Promise<string[]> {
  const { results } = await db
    .prepare('SELECT user_id FROM token_accounts a WHERE EXISTS (SELECT 1 FROM account_usage_daily d WHERE d.user_id = a.user_id AND d.day = ?) ORDER BY user_id')
    .bind(day)
    .all<{ user_id: string }>();
  return results.map((r) => r.user_id);
}

/**
 * A day's rows of a kind as the TokenAccounts hold them (the ledger of record), with the archive's
 * columns: usage records, or (kind `transactions`) usage ledger entries, neither of which the
 * outbox sends to D1 since issue 13. A billed entry is also a usage record of the same day, so the
 * accounts that used the day (account_usage_daily) are the ones to ask.
 */
export async function accountDayRows(accounts: DurableObjectNamespace<TokenAccount>, db: D1Database, kind: ArchiveKind, day: string): Promise<ArchiveRow[]> {
  const out: ArchiveRow[] = [];
  for (const userId of await usersWithUsage(db, day)) {
    const stub = accounts.getByName(userId);
    const rows = kind === 'usage' ? await stub.usageBetween(dayStart(day), dayStart(day) + DAY_MS) : await stub.usageEntriesBetween(dayStart(day), dayStart(day) + DAY_MS);
    for (const r of rows) out.push({ ...(r as unknown as ArchiveRow), user_id: userId });
  }
  return out;
}

/** The oldest created_at of a kind still to archive (null: none), one index probe per user. */
async function oldestInD1(db: D1Database, kind: ArchiveKind): Promise<number | null> {
  const probe =
    kind === 'usage'
      ? `(SELECT MIN(created_at) FROM usage_records u WHERE u.user_id = a.user_id)`
      : // The DO numbers an account's entries in time order, so the lowest usage seq is the oldest.
        `(SELECT created_at FROM token_transactions t WHERE t.user_id = a.user_id AND t.type = 'usage' ORDER BY seq LIMIT 1)`;
  const row = await db.prepare(`SELECT MIN(${probe}) AS m FROM token_accounts a`).first<{ m: number | null }>();
  // Rows held in the objects: the oldest day whose object holds fewer than the rollup counted
  // (never archived, or flushed after it was), one row per day of usage_by_day, or of ledger_daily
  // for the usage entries.
  const due = await db
    .prepare(
      kind === 'usage'
        ? `SELECT MIN(u.day) AS d FROM usage_by_day u LEFT JOIN archive_days a ON a.kind = 'usage' AND a.day = u.day WHERE a.day IS NULL OR a.rows < u.requests`
        : `SELECT MIN(l.day) AS d FROM ledger_daily l LEFT JOIN archive_days a ON a.kind = 'transactions' AND a.day = l.day WHERE l.type = 'usage' AND (a.day IS NULL OR a.rows < l.entries)`,
    )
    .first<{ d: string | null }>();
  const fromObjects = due?.d ? dayStart(due.d) : null;
  return row?.m == null ? fromObjects : fromObjects === null ? row.m : Math.min(row.m, fromObjects);
}

export interface ArchiveDayReport {
  kind: ArchiveKind;
  day: string;
  rows: number;
  sha256: string;
  pruned: boolean;
}

export interface ArchiveRunReport {
  cutoff: string;
  days: ArchiveDayReport[];
  /** True when the bound stopped the run with days still to do (the next run goes on). */
  more: boolean;
}

/**
 * Writes one kind-day to R2 and checks it; throws (nothing deleted) when the write or the check
 * fails. Returns the object's rows, count and sha256.
 */
export async function archiveDay(
  db: D1Database,
  bucket: ArchiveBucket,
  kind: ArchiveKind,
  day: string,
  now: number,
  accounts: DurableObjectNamespace<TokenAccount>,
): Promise<{ rows: ArchiveRow[]; d1Rows: ArchiveRow[]; sha256: string; users: string[] }> {
  const users = await userIds(db);
  const d1Rows = await d1DayRows(db, kind, day, users);
  const fromObjects = await accountDayRows(accounts, db, kind, day);
  const known = await db.prepare('SELECT sha256 FROM archive_days WHERE kind = ? AND day = ?').bind(kind, day).first<{ sha256: string }>();
  const key = archiveKey(kind, day);
  // A day archived before may have been pruned (in part): its object holds rows D1 no longer has.
  // Overwriting it must not risk them, so the verified prior bytes are kept at `<key>.prev` first;
  // if a later write left the main object damaged, the copy is read instead.
  const byId = new Map<string, ArchiveRow>();
  if (known) {
    let prior = await readVerified(bucket, key, known.sha256);
    if (prior) {
      await bucket.put(`${key}.prev`, prior, { customMetadata: { sha256: known.sha256 } });
      if ((await readVerified(bucket, `${key}.prev`, known.sha256)) === null) throw new Error(`archive copy ${key}.prev did not verify`);
    } else prior = await readVerified(bucket, `${key}.prev`, known.sha256);
    if (!prior) throw new Error(`archive object ${key} is missing or damaged and has no good copy`);
    for (const r of await decodeBytes(prior)) byId.set(String(r.id), r);
  }
  for (const r of [...fromObjects, ...d1Rows]) byId.set(String(r.id), r);
  const rows = [...byId.values()];
  const enc = await encodeDay(kind, rows);
  const meta = { rows: String(enc.rows), sha256: enc.sha256 };
  await bucket.put(key, enc.body, { customMetadata: meta, httpMetadata: { contentType: 'application/x-ndjson', contentEncoding: 'gzip' } });
  // Verify what R2 holds before anything leaves D1: the bytes' hash and the row count.
  const back = await bucket.get(key);
  if (!back) throw new Error(`archive object ${key} was not written`);
  const backSha = await sha256Hex(new Uint8Array(await back.arrayBuffer()));
  if (backSha !== enc.sha256 || back.customMetadata?.rows !== meta.rows) throw new Error(`archive object ${key} does not match what was written`);
  await db
    .prepare(
      `INSERT INTO archive_days (kind, day, status, object_key, rows, sha256, archived_at, pruned_at) VALUES (?1, ?2, 'archived', ?3, ?4, ?5, ?6, NULL)
       ON CONFLICT (kind, day) DO UPDATE SET status = 'archived', object_key = ?3, rows = ?4, sha256 = ?5, archived_at = ?6, pruned_at = NULL`,
    )
    .bind(kind, day, key, enc.rows, enc.sha256, now)
    .run();
  return { rows, d1Rows, sha256: enc.sha256, users };
}

/**
 * Deletes a day's archived rows from D1, chunk by chunk, each delete conditional on the chunk
 * still holding exactly the rows that were archived. Returns whether the day is now empty in D1.
 */
export async function pruneDay(db: D1Database, kind: ArchiveKind, day: string, d1Rows: ArchiveRow[], users: string[], now: number): Promise<boolean> {
  const k = KINDS[kind];
  const from = dayStart(day);
  const to = from + DAY_MS;
  const perUser = new Map<string, number>();
  for (const r of d1Rows) perUser.set(String(r.user_id), (perUser.get(String(r.user_id)) ?? 0) + 1);
  const withRows = users.filter((u) => perUser.has(u));
  for (const chunk of chunks(withRows, USER_CHUNK)) {
    const expected = chunk.reduce((s, u) => s + (perUser.get(u) ?? 0), 0);
    const inChunk = `user_id IN (${marks(chunk.length, 4)}) AND created_at >= ?1 AND created_at < ?2 ${k.where}`;
    const guard = `(SELECT COUNT(*) FROM ${k.table} WHERE ${inChunk}) = ?3`;
    await db.prepare(`DELETE FROM ${k.table} WHERE ${inChunk} AND ${guard}`).bind(from, to, expected, ...chunk).run();
  }
  const left = await d1DayRows(db, kind, day, await userIds(db));
  if (left.length > 0) return false;
  await db.prepare(`UPDATE archive_days SET status = 'pruned', pruned_at = ? WHERE kind = ? AND day = ?`).bind(now, kind, day).run();
  return true;
}

/** Days (`YYYY-MM-DD`) of a kind whose rows left D1 for the archive. */
export async function prunedDays(db: D1Database, kind: ArchiveKind, fromDay: string, toDay: string): Promise<Set<string>> {
  const { results } = await db
    .prepare(`SELECT day FROM archive_days WHERE kind = ? AND day >= ? AND day <= ? AND status = 'pruned'`)
    .bind(kind, fromDay, toDay)
    .all<{ day: string }>();
  return new Set(results.map((r) => r.day));
}

export interface RunArchiveOptions {
  now?: number;
  bucket?: ArchiveBucket;
  maxDays?: number;
}

/**
 * One run of the archive (the Cron Trigger's work): the oldest days before the retention cutoff,
 * at most `maxDays` kind-days. Resumable: a run that stops (limit, error) leaves D1 rows that
 * the next run finds again as the oldest.
 */
export async function runArchive(env: Env, opts: RunArchiveOptions = {}): Promise<ArchiveRunReport> {
  const now = opts.now ?? Date.now();
  const bucket = opts.bucket ?? env.ARCHIVE;
  const budget = opts.maxDays ?? DEFAULT_MAX_DAYS_PER_RUN;
  const settings = (await readSettings(env.DB)) ?? DEFAULT_SETTINGS;
  const cutoff = retentionCutoff(now, settings.retentionDays);
  const report: ArchiveRunReport = { cutoff: utcDayOf(cutoff), days: [], more: false };
  for (const kind of ARCHIVE_KIND_LIST) {
    let lastDay: string | null = null;
    for (;;) {
      const oldest = await oldestInD1(env.DB, kind);
      if (oldest === null || oldest >= cutoff) break;
      const day = utcDayOf(oldest);
      // A day that did not empty (a row arrived meanwhile) waits for the next run.
      if (day === lastDay) break;
      if (report.days.length >= budget) {
        report.more = true;
        return report;
      }
      lastDay = day;
      const a = await archiveDay(env.DB, bucket, kind, day, now, env.TOKEN_ACCOUNT);
      const pruned = await pruneDay(env.DB, kind, day, a.d1Rows, a.users, now);
      report.days.push({ kind, day, rows: a.rows.length, sha256: a.sha256, pruned });
    }
  }
  return report;
}
