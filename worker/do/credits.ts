import type { AppendOptions, LedgerDraft } from './ledger-store';
import type { CreditRequest, Failure } from './types';

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
