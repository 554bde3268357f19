import { newId } from '../lib/crypto';
import type { UsageInput } from '../lib/pricing';
import { remember } from './idempotency';
import { appendLedger } from './ledger-store';
import { INSERT_USAGE, USAGE_COLUMNS, valuesOf, type AccountRow, type UsageRow } from './rows';
import type { Sql } from './storage';
import type { ChargeResult, Result } from './types';

/** What was priced: the operation's tokens and images after pricing. */
export interface PricedUsage {
  usage: UsageInput & { requestId?: string };
  cost: { actualTokens: number; images: number };
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
    const result: Result<ChargeResult> = { ok: true, transactionId: null, usageId, billableTokens: 0, balance: account.balance, available: account.balance - account.reserved };
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
      },
      respond: ({ id, balanceAfter }): Result<ChargeResult> => ({ ok: true, transactionId: id, usageId, billableTokens: u.billable, balance: balanceAfter, available: balanceAfter - account.reserved }),
    },
    { checkpoint: u.checkpoint },
  );
  if (!out) return null;
  return { next: out.account, result: out.response as Result<ChargeResult> };
}

/** Records a refused operation (insufficient balance, suspended): nothing billed, the reason kept. */
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
  };
}

function insertUsage(sql: Sql, row: UsageRow): void {
  sql.exec(INSERT_USAGE, ...valuesOf(USAGE_COLUMNS, row));
}
