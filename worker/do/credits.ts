import { appendLedger, type AppendOptions, type LedgerDraft } from './ledger-store';
import type { AccountRow } from './rows';
import type { Sql, Transaction } from './storage';
import type { CreditRequest, CreditResult, Failure } from './types';

/** Credits and take-backs by external reference: what each type may do, and its ledger entry. */

/** Why a credit request is malformed (zero, fractional, or the wrong sign for its type), or null. */
export function creditRefusal(req: CreditRequest): Failure | null {
  if (!Number.isSafeInteger(req.amount) || req.amount === 0) return { ok: false, code: 'bad_request', message: 'amount must be a non-zero integer' };
  const positive = req.type === 'purchase' || req.type === 'auto_recharge' || req.type === 'admin_grant';
  if (positive && req.amount < 0) return { ok: false, code: 'bad_request', message: `${req.type} must add tokens` };
  if ((req.type === 'refund' || req.type === 'dispute') && req.amount > 0) return { ok: false, code: 'bad_request', message: `${req.type} must take tokens back` };
  return null;
}

/** The ledger entry of a credit (purchases also stamp `last_purchase_at`). */
export function creditEntry(req: CreditRequest, now: number): { draft: LedgerDraft; opts: AppendOptions } {
  return {
    draft: {
      type: req.type,
      amount: req.amount,
      ref: req.ref,
      amountCents: req.amountCents ?? null,
      description: req.description ?? req.type,
      metadata: req.metadata ? JSON.stringify(req.metadata) : null,
      createdAt: now,
    },
    opts: { patch: req.isPurchase ? { last_purchase_at: now } : undefined },
  };
}

/**
 * Appends one validated credit-like entry and its balance change in one transaction; returns the
 * account it leaves (for the facade to commit) and the answer.
 */
export function appendCredit(sql: Sql, transaction: Transaction, account: AccountRow, req: CreditRequest, now: number): { next: AccountRow; result: { ok: true } & CreditResult } {
  const { draft, opts } = creditEntry(req, now);
  // Never null: a credit carries no idempotency key, and a taken ref fails the insert.
  const { account: next, row } = transaction(() => appendLedger(sql, account, draft, opts)!);
  return { next, result: { ok: true, transactionId: row.id, duplicate: false, balance: next.balance, status: next.status } };
}
