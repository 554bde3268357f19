import type { Sql } from './storage';
import type { Result } from './types';

/**
 * Idempotency (I3): each key is applied once; a repeat gets the stored answer, a repeat with
 * different parameters a conflict. A billed operation's answer lives on its ledger row (see
 * ledger-store); every other answer (holds, releases, unbilled charges) in `idempotency`.
 */

/** Answers are kept a week, far beyond any sane client retry window, then pruned by the alarm. */
export const IDEMPOTENCY_RETENTION_MS = 7 * 24 * 3600_000;

/**
 * The key under which the DO records its own operations on a hold (`settle`, `release`). Caller
 * keys are printable ASCII without spaces (`idempotencyKeySchema`), so a key with a space is out
 * of every caller's reach: a caller key `settle:res_X` can never take hold X's settle answer.
 */
export function internalKey(kind: 'settle' | 'release' | 'expiry', reservationId: string): string {
  return `${kind} ${reservationId}`;
}

/**
 * The key the DO used for the same operation before internal keys had their own namespace
 * (`settle:res_…`). Its stored answer is ours only when its parameters are exactly ours (a
 * caller's `charge`/`authorize` under that key has other `method:` parameters), so holds settled
 * or released before the change still replay their first answer.
 */
export function legacyInternalKey(kind: 'settle' | 'release', reservationId: string): string {
  return `${kind}:${reservationId}`;
}

/**
 * Stable string of a request's parameters for idempotency checks: keys sorted (the default sort,
 * by UTF-16 code units, the same order as `<` on strings), undefined values dropped (by
 * `JSON.stringify` itself). Stored answers are compared with it byte for byte, so its output
 * must never change (the exact string is pinned in test/unit/do/ledger-store.mutation.test.ts).
 */
export function canonical(method: string, params: object): string {
  const p = params as Record<string, unknown>;
  return `${method}:${JSON.stringify(Object.fromEntries(Object.keys(p).sort().map((k) => [k, p[k]])))}`;
}

/** The row stored for `key` (a billed operation's ledger row, else its idempotency row), or undefined. */
function stored(sql: Sql, key: string): { params: string; response: string } | undefined {
  return (
    sql.exec<{ params: string; response: string }>(`SELECT params, response FROM ledger WHERE idempotency_key = ?`, key).toArray()[0] ??
    sql.exec<{ params: string; response: string }>(`SELECT params, response FROM idempotency WHERE key = ?`, key).toArray()[0]
  );
}

/** The stored answer for `key`; a conflict when it was first used with other parameters; null when unused. */
export function replay(sql: Sql, key: string, params: string): Result<unknown> | null {
  const row = stored(sql, key);
  if (!row) return null;
  if (row.params !== params) return { ok: false, code: 'idempotency_conflict' };
  return JSON.parse(row.response) as Result<unknown>;
}

/**
 * The stored answer of an internal operation (see internalKey): under its own key, else under
 * the legacy key when that row was written by the same operation with the same parameters. A
 * caller's row under the legacy key is never a conflict for us: it is simply not ours.
 */
export function replayInternal(sql: Sql, kind: 'settle' | 'release', reservationId: string, params: string): Result<unknown> | null {
  const own = replay(sql, internalKey(kind, reservationId), params);
  if (own) return own;
  const legacy = stored(sql, legacyInternalKey(kind, reservationId));
  return legacy && legacy.params === params ? (JSON.parse(legacy.response) as Result<unknown>) : null;
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
  // No expired row among them (cutoff null): `n <= NULL` matches nothing, so the DELETE is a no-op.
  sql.exec(`DELETE FROM idempotency WHERE n <= ?`, cutoff);
}
