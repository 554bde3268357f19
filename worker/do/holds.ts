import { saveAccount } from './account-store';
import { INSERT_RESERVATION, RESERVATION_COLUMNS, SELECT_RESERVATION, valuesOf, type AccountRow, type ReservationRow } from './rows';
import type { Sql } from './storage';

/**
 * Holds (reservations): an amount set aside until the operation is settled, released, or
 * expired by the alarm (I7), each exactly once. Each function keeps the `reservations` table and
 * the account's `reserved` together, inside the caller's transaction, and returns the account.
 */

export const DEFAULT_HOLD_TTL_MS = 10 * 60_000;
export const MAX_HOLD_TTL_MS = 60 * 60_000;

/** When a hold asked to live `ttlMs` (default 10 min, at most an hour) expires. */
export function holdExpiry(now: number, ttlMs?: number): number {
  return now + Math.min(ttlMs ?? DEFAULT_HOLD_TTL_MS, MAX_HOLD_TTL_MS);
}

/** Sets `amount` aside (the caller checked that the available balance covers it). */
export function openHold(sql: Sql, account: AccountRow, h: { id: string; amount: number; operation: string; model: string; idempotencyKey: string; expiresAt: number; now: number }): AccountRow {
  const row: ReservationRow = { id: h.id, amount: h.amount, operation: h.operation, model: h.model, idempotency_key: h.idempotencyKey, state: 'open', expires_at: h.expiresAt, created_at: h.now, closed_at: null };
  sql.exec(INSERT_RESERVATION, ...valuesOf(RESERVATION_COLUMNS, row));
  return saveAccount(sql, account, { reserved: account.reserved + h.amount }, h.now);
}

export function getHold(sql: Sql, id: string): ReservationRow | null {
  return sql.exec<ReservationRow>(SELECT_RESERVATION, id).toArray()[0] ?? null;
}

/**
 * Closes a hold as settled or released, freeing its tokens from `reserved` when it was open.
 * An expired hold was freed by the alarm: settling it only marks it settled, and releasing it
 * changes nothing (it stays expired). `freed`: the tokens this released.
 */
export function closeHold(sql: Sql, account: AccountRow, hold: Pick<ReservationRow, 'id' | 'amount' | 'state'>, state: 'settled' | 'released', now: number): { account: AccountRow; freed: number } {
  if (hold.state !== 'open' && hold.state !== 'expired') throw new Error(`hold ${hold.id} is ${hold.state}`);
  if (hold.state === 'expired' && state === 'released') return { account, freed: 0 };
  if (sql.exec(`UPDATE reservations SET state = ?, closed_at = ? WHERE id = ? AND state = ?`, state, now, hold.id, hold.state).rowsWritten === 0) {
    throw new Error(`hold ${hold.id} is no longer ${hold.state}`);
  }
  if (hold.state === 'expired') return { account, freed: 0 };
  return { account: saveAccount(sql, account, { reserved: account.reserved - hold.amount }, now), freed: hold.amount };
}

/** Expires every open hold due by `now`, once, and frees their tokens. Null when none was due. */
export function expireHolds(sql: Sql, account: AccountRow, now: number): AccountRow | null {
  const due = sql.exec<{ id: string; amount: number }>(`SELECT id, amount FROM reservations WHERE state = 'open' AND expires_at <= ?`, now).toArray();
  if (due.length === 0) return null;
  let freed = 0;
  for (const r of due) {
    if (sql.exec(`UPDATE reservations SET state = 'expired', closed_at = ? WHERE id = ? AND state = 'open'`, now, r.id).rowsWritten > 0) freed += r.amount;
  }
  return saveAccount(sql, account, { reserved: account.reserved - freed }, now);
}

/** When the next open hold expires, or null. */
export function earliestHoldExpiry(sql: Sql): number | null {
  return sql.exec<{ t: number | null }>(`SELECT min(expires_at) AS t FROM reservations WHERE state = 'open'`).one().t;
}

/** Deletes holds closed before `before`. One indexed probe when nothing is due. */
export function pruneClosedHolds(sql: Sql, before: number): void {
  const closed = sql.exec<{ t: number | null }>(`SELECT min(closed_at) AS t FROM reservations WHERE state != 'open'`).one().t;
  if (closed !== null && closed < before) sql.exec(`DELETE FROM reservations WHERE state != 'open' AND closed_at < ?`, before);
}
