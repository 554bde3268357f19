import { allocate, applyEntry, getGrant, type GrantTerms } from './grants';
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
 * Appends one validated credit-like entry and its balance change in one transaction, with what
 * it does to the grants (grants.ts): the debits since the last allocation are burned first, then
 * a positive entry repays debt and creates its grant, and a refund or dispute takes back from
 * its payment's grant first, then as debt. Returns the account it leaves (for the facade to
 * commit) and the answer.
 */
export function appendCredit(sql: Sql, transaction: Transaction, account: AccountRow, req: CreditRequest, now: number): { next: AccountRow; result: { ok: true } & CreditResult } {
  const { draft, opts } = creditEntry(req, now);
  const { account: next, row } = transaction(() => {
    allocate(sql);
    // Never null: a credit carries no idempotency key, and a taken ref fails the insert.
    const out = appendLedger(sql, account, draft, opts)!;
    applyEntry(sql, out.row, grantTermsOf(sql, req));
    return out;
  });
  return { next, result: { ok: true, transactionId: row.id, duplicate: false, balance: next.balance, status: next.status } };
}

/**
 * The grant terms of a credit. Refunds and disputes name their payment: a take-back comes out of
 * that payment's grant, and a give-back (a failed refund, a won dispute) makes a grant on the
 * payment's own terms.
 */
function grantTermsOf(sql: Sql, req: CreditRequest): GrantTerms & { takeFrom?: string | null } {
  if (req.type !== 'refund' && req.type !== 'dispute') return req.grant ?? {};
  const paymentIntentId = typeof req.metadata?.paymentIntentId === 'string' ? req.metadata.paymentIntentId : null;
  if (req.amount < 0) return { takeFrom: paymentIntentId };
  const payment = paymentIntentId ? getGrant(sql, paymentIntentId) : null;
  return payment ? { category: payment.category, priority: payment.priority, expiresAt: payment.expires_at } : {};
}
