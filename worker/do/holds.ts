import { USAGE_CLASS_FIELDS } from '../contracts/billing';
import { newId } from '../lib/crypto';
import { priceCall, type CallUsage, type VersionedBook } from '../lib/pricing';
import { saveAccount } from './account-store';
import { canonical, internalKey, remember, replay, replayInternal } from './idempotency';
import { INSERT_RESERVATION, RESERVATION_COLUMNS, SELECT_RESERVATION, valuesOf, type AccountRow, type HoldExpiryPolicy, type ReservationRow } from './rows';
import { spendRefusal, type SpendLimits } from './spend-limits';
import type { Sql, Transaction } from './storage';
import type { AuthorizeRequest, AuthorizeResult, ChargeResult, ReleaseResult, Result, SettleRequest } from './types';
import { recordRefusal, recordUsage, type Outcome, type PricedCost } from './usage';

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

/**
 * What a hold with `onExpiry: 'settle'` keeps of its pricing, so the alarm can bill it at expiry
 * exactly as a settle with that usage would have been billed by the book that priced the hold:
 * the usage record's fields (classes, price version, provider cost) and the answer's lines. The
 * version is the hold's (a settle prices with the version in force when it settles): the alarm
 * bills exactly what was held. No request id: an authorize carries none.
 */
export interface HoldPricing {
  usage: CallUsage;
  cost: PricedCost;
}

/**
 * Sets `amount` aside (the caller checked that the available balance covers it). A hold given its
 * pricing (`priced`) settles at expiry (`onExpiry: 'settle'`); without it, it is released (I7).
 */
export function openHold(
  sql: Sql,
  account: AccountRow,
  h: { id: string; amount: number; operation: string; model: string; idempotencyKey: string; expiresAt: number; now: number; apiKeyId?: string | null; priced?: HoldPricing },
): AccountRow {
  const onExpiry: HoldExpiryPolicy = h.priced ? 'settle' : 'release';
  const row: ReservationRow = {
    id: h.id,
    amount: h.amount,
    operation: h.operation,
    model: h.model,
    idempotency_key: h.idempotencyKey,
    state: 'open',
    expires_at: h.expiresAt,
    created_at: h.now,
    closed_at: null,
    api_key_id: h.apiKeyId ?? null,
    on_expiry: onExpiry,
    // Only a hold the alarm will bill carries its pricing: release holds stay the size they were.
    priced: h.priced ? JSON.stringify(h.priced) : null,
  };
  sql.exec(INSERT_RESERVATION, ...valuesOf(RESERVATION_COLUMNS, row));
  return saveAccount(sql, account, { reserved: account.reserved + h.amount }, h.now);
}

export function getHold(sql: Sql, id: string): ReservationRow | null {
  return sql.exec<ReservationRow>(SELECT_RESERVATION, id).toArray()[0] ?? null;
}

/**
 * Closes a hold as settled or released, freeing its tokens from `reserved` when it was open.
 * An expired hold was freed by the alarm: closing it only marks it settled or released (a
 * released hold stays released: it can no longer be settled). `freed`: the tokens this released.
 */
export function closeHold(sql: Sql, account: AccountRow, hold: Pick<ReservationRow, 'id' | 'amount' | 'state'>, state: 'settled' | 'released', now: number): { account: AccountRow; freed: number } {
  if (hold.state !== 'open' && hold.state !== 'expired') throw new Error(`hold ${hold.id} is ${hold.state}`);
  if (sql.exec(`UPDATE reservations SET state = ?, closed_at = ? WHERE id = ? AND state = ?`, state, now, hold.id, hold.state).rowsWritten === 0) {
    throw new Error(`hold ${hold.id} is no longer ${hold.state}`);
  }
  if (hold.state === 'expired') return { account, freed: 0 };
  return { account: saveAccount(sql, account, { reserved: account.reserved - hold.amount }, now), freed: hold.amount };
}

/**
 * The refusal a settle or release of a hold that is no longer open gets (an `expired` hold, freed
 * by the alarm, may still be settled or released: see closeHold). A `captured` hold was billed its
 * held amount at expiry: the caller hears for how much, so it never bills the work a second time.
 */
export function closedHoldRefusal(hold: Pick<ReservationRow, 'state' | 'amount'>): { ok: false; code: 'reservation_closed'; message: string } {
  if (hold.state === 'captured') return { ok: false, code: 'reservation_closed', message: `Reservation was settled at expiry for ${hold.amount} tokens` };
  return { ok: false, code: 'reservation_closed', message: `Reservation is ${hold.state}` };
}

/**
 * Ends every open hold due by `now`, once, inside the caller's transaction. Null when none was due.
 * A `release` hold (the default, I7) is marked `expired` and its tokens are freed. A `settle` hold
 * (issue 12: the caller may have lost the chance to settle, e.g. a gateway call cut off after its
 * client left, and the provider's work must never be billed 0) is marked `captured` and billed its
 * held amount: one usage entry through recordUsage → appendLedger with the usage it was priced at,
 * as a settle with that usage would write, under the internal key `expiry <id>`. Its tokens were
 * already reserved, so the entry never spends more than the available balance allowed. Safe to run
 * twice: each hold changes state only from `open`, and the key is unique in the ledger.
 * `onFreed` hears of each hold that stops being held, `onSpent` of each billed (the spend limits
 * count a captured hold as a settle: freed, then spent); call them only after the transaction committed.
 */
export function expireHolds(sql: Sql, account: AccountRow, now: number, onFreed?: (apiKeyId: string | null, amount: number) => void, onSpent?: (apiKeyId: string | null, amount: number) => void): AccountRow | null {
  const due = sql
    .exec<Pick<ReservationRow, 'id' | 'amount' | 'api_key_id' | 'on_expiry' | 'priced' | 'operation' | 'model'>>(
      `SELECT id, amount, api_key_id, on_expiry, priced, operation, model FROM reservations WHERE state = 'open' AND expires_at <= ?`,
      now,
    )
    .toArray();
  if (due.length === 0) return null;
  let next = account;
  let freed = 0;
  for (const r of due) {
    const capture = r.on_expiry === 'settle';
    if (sql.exec(`UPDATE reservations SET state = ?, closed_at = ? WHERE id = ? AND state = 'open'`, capture ? 'captured' : 'expired', now, r.id).rowsWritten === 0) continue;
    onFreed?.(r.api_key_id, r.amount);
    if (!capture) {
      freed += r.amount;
      continue;
    }
    // Free this hold before its entry, so the entry's account (and its answer's `available`) is the one after it.
    next = saveAccount(sql, next, { reserved: next.reserved - freed - r.amount }, now);
    freed = 0;
    const priced = capturedPricing(r);
    const key = internalKey('expiry', r.id);
    const done = recordUsage(sql, next, {
      key,
      params: canonical('expiry', { reservationId: r.id }),
      usage: { ...priced.usage, apiKeyId: r.api_key_id },
      cost: priced.cost,
      billable: r.amount,
      success: true,
      reservationId: r.id,
      now,
    });
    // The hold was open, so nothing was recorded under its key; throwing rolls the whole step back.
    if (!done) throw new Error(`expiry key ${key} already used`);
    next = done.next;
    onSpent?.(r.api_key_id, r.amount);
  }
  return freed > 0 ? saveAccount(sql, next, { reserved: next.reserved - freed }, now) : next;
}

/** A captured hold's pricing: `openHold`, the only writer of holds, stores it with every `settle` hold. */
function capturedPricing(r: Pick<ReservationRow, 'id' | 'priced'>): HoldPricing {
  // Throwing rolls the expiry step back (the alarm retries): nothing is billed from a guess.
  if (r.priced === null) throw new Error(`settle-at-expiry hold ${r.id} has no stored pricing`);
  return JSON.parse(r.priced) as HoldPricing;
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

// ---------------------------------------------------------------- operations (see TokenAccount's RPC methods)

/**
 * The usage a hold is priced at. Per-class fields, when the caller gave them (the contract allows
 * them or `estimatedTokens`, never both), are taken as they are, with the nesting `charge` and
 * `settle` use, so `priceCall` picks the same long-context tier the settle will at that usage.
 * Otherwise `estimatedTokens` is priced as output, the dearest class of every model a provider
 * lists (with the seed's single multiplier it is the seed's estimate × multiplier); as one total it
 * carries no prompt size, so it never reaches a long-context tier.
 */
export function holdUsage(req: AuthorizeRequest): CallUsage {
  const perClass = USAGE_CLASS_FIELDS.some((f) => req[f] !== undefined);
  if (!perClass) return { operation: req.operation, model: req.model, outputTokens: req.estimatedTokens ?? 0, images: req.images };
  return {
    operation: req.operation,
    model: req.model,
    inputTokens: req.inputTokens,
    outputTokens: req.outputTokens,
    cachedInputTokens: req.cachedInputTokens,
    cacheWriteTokens: req.cacheWriteTokens,
    cacheWrite1hTokens: req.cacheWrite1hTokens,
    reasoningTokens: req.reasoningTokens,
    images: req.images,
  };
}

/**
 * Holds an operation's estimated cost, if the available balance covers it (a refusal is recorded
 * as failed usage). Priced with `pricing`, the book in force now, at `holdUsage(req)`.
 */
export function authorizeHold(sql: Sql, transaction: Transaction, account: AccountRow, pricing: VersionedBook, req: AuthorizeRequest, now: number, limits?: SpendLimits): Outcome<AuthorizeResult> {
  const params = canonical('authorize', req);
  const stored = replay(sql, req.idempotencyKey, params) as Result<Omit<AuthorizeResult, 'available'> & { available?: number }> | null;
  // An answer stored before `available` was part of it replays with the available balance as it is now.
  if (stored) return { result: stored.ok ? { ...stored, available: stored.available ?? account.balance - account.reserved } : stored, next: null };
  const usage = holdUsage(req);
  const cost = priceCall(pricing, usage);
  if (!cost.ok) return { result: { ok: false, code: cost.code, message: cost.message }, next: null };
  const amount = cost.billableTokens;
  // The balance and the spend limits in the same synchronous step as the hold (I2, I9).
  const refused = spendRefusal(limits, account, req.apiKeyId, amount, now);
  if (refused) {
    transaction(() => recordRefusal(sql, { usage: { ...usage, apiKeyId: req.apiKeyId }, cost, errorCode: refused.code, now }));
    return { result: refused, next: account };
  }
  const id = newId('res');
  const expiresAt = holdExpiry(now, req.ttlMs);
  const result: Result<AuthorizeResult> = { ok: true, reservationId: id, reservedTokens: amount, available: account.balance - account.reserved - amount, expiresAt, priceVersion: cost.priceVersion };
  const next = transaction(() => {
    remember(sql, req.idempotencyKey, params, result, now);
    const priced: HoldPricing | undefined = req.onExpiry === 'settle' ? { usage, cost: pricedCost(cost) } : undefined;
    return openHold(sql, account, { id, amount, operation: req.operation, model: req.model, idempotencyKey: req.idempotencyKey, expiresAt, now, apiKeyId: req.apiKeyId, priced });
  });
  limits?.held(req.apiKeyId, amount);
  return { result, next };
}

/** The parts of a priced call a usage record keeps (usage.ts PricedCost), without the rest. */
function pricedCost(c: PricedCost): PricedCost {
  return { actualTokens: c.actualTokens, images: c.images, cachedInputTokens: c.cachedInputTokens, cacheWriteTokens: c.cacheWriteTokens, reasoningTokens: c.reasoningTokens, priceVersion: c.priceVersion, providerCostMicros: c.providerCostMicros, lines: c.lines };
}

/**
 * Bills a held operation's actual usage and frees its hold, in one transaction. Idempotent by
 * reservation id. Priced with `pricing`, the book in force at the settle (not the hold's version):
 * the work is billed at the price of the moment it is billed, as a charge would be, and the hold
 * was only an estimate (docs/pricing.md, "Versions").
 */
export function settleHold(sql: Sql, transaction: Transaction, account: AccountRow, pricing: VersionedBook, req: SettleRequest, now: number, limits?: SpendLimits): Outcome<ChargeResult> {
  const key = internalKey('settle', req.reservationId);
  const params = canonical('settle', req);
  const stored = replayInternal(sql, 'settle', req.reservationId, params);
  if (stored) return { result: stored as Result<ChargeResult>, next: null };
  const hold = getHold(sql, req.reservationId);
  if (!hold) return { result: { ok: false, code: 'reservation_not_found' }, next: null };
  if (hold.state !== 'open' && hold.state !== 'expired') return { result: closedHoldRefusal(hold), next: null };
  // The work was done: a settle is never refused for a limit or a revoked key, and is billed to its hold's key.
  if (req.apiKeyId !== undefined && req.apiKeyId !== hold.api_key_id) return { result: { ok: false, code: 'bad_request', message: 'apiKeyId is not the key the reservation was made with' }, next: null };
  const usage: CallUsage = {
    operation: hold.operation as CallUsage['operation'],
    model: hold.model,
    inputTokens: req.inputTokens,
    outputTokens: req.outputTokens,
    tokens: req.tokens,
    cachedInputTokens: req.cachedInputTokens,
    cacheWriteTokens: req.cacheWriteTokens,
    cacheWrite1hTokens: req.cacheWrite1hTokens,
    reasoningTokens: req.reasoningTokens,
    images: req.images,
  };
  const cost = priceCall(pricing, usage);
  if (!cost.ok) return { result: { ok: false, code: cost.code, message: cost.message }, next: null };
  const billable = req.success ? cost.billableTokens : 0;
  const out = transaction(() => {
    const closed = closeHold(sql, account, hold, 'settled', now);
    const done = recordUsage(sql, closed.account, { key, params, usage: { ...usage, requestId: req.requestId, apiKeyId: hold.api_key_id }, cost, billable, success: req.success, reservationId: hold.id, now });
    // The replay check above found no answer for this key; throwing rolls the hold's release back.
    if (!done) throw new Error(`settle key ${key} already used`);
    return { result: done.result, next: done.next, freed: closed.freed };
  });
  limits?.freed(hold.api_key_id, out.freed);
  limits?.spent(hold.api_key_id, billable, now);
  return { result: out.result, next: out.next };
}

/** Frees a hold without billing. Idempotent by reservation id. */
export function releaseHold(sql: Sql, transaction: Transaction, account: AccountRow, reservationId: string, now: number, limits?: SpendLimits): Outcome<ReleaseResult> {
  const key = internalKey('release', reservationId);
  const params = canonical('release', { reservationId });
  const stored = replayInternal(sql, 'release', reservationId, params);
  if (stored) return { result: stored as Result<ReleaseResult>, next: null };
  const hold = getHold(sql, reservationId);
  if (!hold) return { result: { ok: false, code: 'reservation_not_found' }, next: null };
  if (hold.state !== 'open' && hold.state !== 'expired') return { result: closedHoldRefusal(hold), next: null };
  const out = transaction(() => {
    const { account: next, freed } = closeHold(sql, account, hold, 'released', now);
    const result: Result<ReleaseResult> = { ok: true, reservationId, releasedTokens: freed, balance: next.balance, available: next.balance - next.reserved };
    remember(sql, key, params, result, now);
    return { result, next, freed };
  });
  limits?.freed(hold.api_key_id, out.freed);
  return { result: out.result, next: out.next };
}
