import { newId } from '../lib/crypto';
import { priceCall, type CallUsage, type PricedCall, type VersionedBook } from '../lib/pricing';
import { canonical, remember, replay } from './idempotency';
import { appendLedger } from './ledger-store';
import { INSERT_USAGE, USAGE_COLUMNS, valuesOf, type AccountRow, type UsageRow } from './rows';
import { spendRefusal, type SpendLimits } from './spend-limits';
import type { Sql, Transaction } from './storage';
import type { ChargeRequest, ChargeResult, Result } from './types';

/** An operation's answer and, when it committed anything, the account after it (null: nothing written). */
export interface Outcome<T> {
  result: Result<T>;
  next: AccountRow | null;
}

/**
 * Charges one completed operation (see TokenAccount.charge), priced with `pricing`: the book in
 * force at `now` (the settings cache's `bookAt`), so each charge is priced by exactly one version
 * and records it. Fast path, the common case: a new
 * billed charge the balance covers, written as one statement (appendLedger without checkpoint)
 * whose key probe is the insert itself; a reused key writes nothing and falls through to the
 * replay. Everything else (repeats, refusals, unbilled operations) in one transaction.
 */
export function chargeOperation(sql: Sql, transaction: Transaction, account: AccountRow, pricing: VersionedBook, req: ChargeRequest, now: number, limits?: SpendLimits): Outcome<ChargeResult> {
  const params = canonical('charge', req);
  const cost = priceCall(pricing, req);
  const success = req.success ?? true;
  // The balance and the spend limits are checked in the same synchronous step as the write (I2, I9).
  const refuse = (billable: number) => spendRefusal(limits, account, req.apiKeyId, billable, now);
  // No checkpoint: the account is active and the balance stays at or above its holds, so only the balance changes.
  if (cost.ok && success && cost.billableTokens > 0 && !refuse(cost.billableTokens)) {
    const out = recordUsage(sql, account, { key: req.idempotencyKey, params, usage: req, cost, billable: cost.billableTokens, success, reservationId: null, now, checkpoint: false });
    if (out) {
      limits?.spent(req.apiKeyId, cost.billableTokens, now);
      return { result: out.result, next: out.next };
    }
  }
  // Repeats, refusals and unbilled operations: the stored answer wins over everything else.
  const stored = replay(sql, req.idempotencyKey, params);
  if (stored) return { result: stored as Result<ChargeResult>, next: null };
  if (!cost.ok) return { result: { ok: false, code: cost.code, message: cost.message }, next: null };
  const billable = success ? cost.billableTokens : 0;
  const refused = success ? refuse(billable) : null;
  if (refused) {
    transaction(() => recordRefusal(sql, { usage: req, cost, errorCode: refused.code, now }));
    return { result: refused, next: account };
  }
  const out = transaction(() => recordUsage(sql, account, { key: req.idempotencyKey, params, usage: req, cost, billable, success, reservationId: null, now }));
  // Unreachable (the replay above found no row for this key, and nothing ran in between), but
  // a key already taken must never be charged again.
  if (!out) return { result: { ok: false, code: 'idempotency_conflict' }, next: null };
  limits?.spent(req.apiKeyId, billable, now);
  return { result: out.result, next: out.next };
}

/** The priced parts of a call that its usage record keeps. */
export type PricedCost = Pick<Extract<PricedCall, { ok: true }>, 'actualTokens' | 'images' | 'cachedInputTokens' | 'cacheWriteTokens' | 'reasoningTokens' | 'priceVersion' | 'providerCostMicros' | 'lines'>;

/** What was priced: the operation's tokens and images after pricing. */
export interface PricedUsage {
  usage: CallUsage & { requestId?: string; apiKeyId?: string | null };
  cost: PricedCost;
}

/** One completed operation to record under an idempotency key. */
export interface UsageCommit extends PricedUsage {
  key: string;
  params: string;
  billable: number;
  success: boolean;
  reservationId: string | null;
  now: number;
  /** False on the charge fast path (see appendLedger). */
  checkpoint?: boolean;
}

/**
 * Records one operation. Billed: a single ledger entry that is also its usage record and its
 * idempotency record. Unbilled (a failed operation, or 0 tokens): a usage row and an idempotency
 * row. Null, having written nothing, when the key is taken. Runs inside the caller's transaction,
 * except on the fast path, whose single statement is atomic on its own.
 */
export function recordUsage(sql: Sql, account: AccountRow, u: UsageCommit): { next: AccountRow; result: Result<ChargeResult> } | null {
  const usageId = newId('use');
  if (u.billable <= 0) {
    insertUsage(sql, usageRow({ ...u, id: usageId, billable: 0, errorCode: u.success ? null : 'operation_failed' }));
    const result: Result<ChargeResult> = { ok: true, transactionId: null, usageId, billableTokens: 0, balance: account.balance, available: account.balance - account.reserved, priceVersion: u.cost.priceVersion, lines: [] };
    remember(sql, u.key, u.params, result, u.now);
    return { next: account, result };
  }
  const out = appendLedger(
    sql,
    account,
    {
      type: 'usage',
      amount: -u.billable,
      description: `${u.usage.operation} · ${u.usage.model}`,
      createdAt: u.now,
      idempotencyKey: u.key,
      params: u.params,
      usage: {
        usageId,
        operation: u.usage.operation,
        model: u.usage.model,
        inputTokens: u.usage.inputTokens ?? 0,
        outputTokens: u.usage.outputTokens ?? 0,
        images: u.cost.images,
        actualTokens: u.cost.actualTokens,
        requestId: u.usage.requestId ?? null,
        reservationId: u.reservationId,
        apiKeyId: u.usage.apiKeyId ?? null,
        cachedInputTokens: u.cost.cachedInputTokens,
        cacheWriteTokens: u.cost.cacheWriteTokens,
        reasoningTokens: u.cost.reasoningTokens,
        priceVersion: u.cost.priceVersion,
        providerCostMicros: u.cost.providerCostMicros,
      },
      respond: ({ id, balanceAfter }): Result<ChargeResult> => ({
        ok: true,
        transactionId: id,
        usageId,
        billableTokens: u.billable,
        balance: balanceAfter,
        available: balanceAfter - account.reserved,
        priceVersion: u.cost.priceVersion,
        lines: u.cost.lines,
      }),
    },
    { checkpoint: u.checkpoint },
  );
  if (!out) return null;
  return { next: out.account, result: out.response as Result<ChargeResult> };
}

/** Records a refused operation (insufficient balance, suspended, a spend limit, a revoked key): nothing billed, the reason kept. */
export function recordRefusal(sql: Sql, p: PricedUsage & { errorCode: string; now: number }): void {
  insertUsage(sql, usageRow({ ...p, id: newId('use'), billable: 0, success: false, reservationId: null }));
}

function usageRow(u: PricedUsage & { id: string; billable: number; success: boolean; errorCode: string | null; reservationId: string | null; now: number }): UsageRow {
  return {
    id: u.id,
    operation: u.usage.operation,
    model: u.usage.model,
    input_tokens: u.usage.inputTokens ?? 0,
    output_tokens: u.usage.outputTokens ?? 0,
    images: u.cost.images,
    actual_tokens: u.cost.actualTokens,
    billable_tokens: u.billable,
    success: u.success ? 1 : 0,
    error_code: u.errorCode,
    request_id: u.usage.requestId ?? null,
    reservation_id: u.reservationId,
    transaction_id: null,
    created_at: u.now,
    api_key_id: u.usage.apiKeyId ?? null,
    cached_input_tokens: u.cost.cachedInputTokens,
    cache_write_tokens: u.cost.cacheWriteTokens,
    reasoning_tokens: u.cost.reasoningTokens,
    price_version: u.cost.priceVersion,
    // Provider cost counts billed calls only: an unbilled one failed or was refused (docs/pricing.md).
    provider_cost_micros: 0,
  };
}

function insertUsage(sql: Sql, row: UsageRow): void {
  sql.exec(INSERT_USAGE, ...valuesOf(USAGE_COLUMNS, row));
}
