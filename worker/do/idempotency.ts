import type { Sql } from './storage';
import type { Result } from './types';

/**
 * Idempotency (I3): each key is applied once; a repeat gets the stored answer, a repeat with
 * different parameters a conflict. A billed operation's answer lives on its ledger row (see
 * ledger-store); every other answer (holds, releases, unbilled charges) in `idempotency`.
 */

/** Answers are kept a week, far beyond any sane client retry window, then pruned by the alarm. */
export const IDEMPOTENCY_RETENTION_MS = 7 * 24 * 3600_000;

/** Stable string of a request's parameters (keys sorted, undefined dropped) for idempotency checks. */
export function canonical(method: string, params: object): string {
  const entries = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${method}:${JSON.stringify(Object.fromEntries(entries))}`;
}

/** The stored answer for `key`; a conflict when it was first used with other parameters; null when unused. */
export function replay(sql: Sql, key: string, params: string): Result<unknown> | null {
  const row =
    sql.exec<{ params: string; response: string }>(`SELECT params, response FROM ledger WHERE idempotency_key = ?`, key).toArray()[0] ??
    sql.exec<{ params: string; response: string }>(`SELECT params, response FROM idempotency WHERE key = ?`, key).toArray()[0];
  if (!row) return null;
  if (row.params !== params) return { ok: false, code: 'idempotency_conflict' };
  return JSON.parse(row.response) as Result<unknown>;
}

/** Stores the answer of an operation that wrote no ledger entry. Fails if the key is taken (the caller replayed first). */
export function remember(sql: Sql, key: string, params: string, response: unknown, now: number): void {
  sql.exec(`INSERT INTO idempotency (key, params, response, created_at) VALUES (?, ?, ?, ?)`, key, params, JSON.stringify(response), now);
}

/** When the oldest stored answer was made (rowid order is arrival order), or null. */
export function oldestAnswerAt(sql: Sql): number | null {
  return sql.exec<{ t: number }>(`SELECT created_at AS t FROM idempotency ORDER BY n LIMIT 1`).toArray()[0]?.t ?? null;
}

/** Deletes answers made before `before`. Two indexed probes when nothing is due. */
export function pruneAnswers(sql: Sql, before: number): void {
  const oldest = oldestAnswerAt(sql);
  if (oldest === null || oldest >= before) return;
  // Rows arrive in rowid order: find the newest expired row among the oldest few thousand.
  const cutoff = sql.exec<{ n: number | null }>(`SELECT max(n) AS n FROM (SELECT n, created_at FROM idempotency ORDER BY n LIMIT 5000) WHERE created_at < ?`, before).one().n;
  if (cutoff !== null) sql.exec(`DELETE FROM idempotency WHERE n <= ?`, cutoff);
}
