import { findByRef } from './ledger-store';
import type { Sql } from './storage';
import type { CreditRequest, Failure, LedgerEntry, RefundRequest } from './types';

/**
 * Refunds and lost disputes take back the tokens of a credited payment (I12): never more than
 * it credited. These compute the ledger entry; the facade's credit commits it.
 */

/**
 * The entry for one refund of a payment, proportional to the amount paid. The running total
 * decides the tokens, so partial refunds that add up to the whole payment take back exactly its
 * tokens. `duplicate`: this refund already has its entry.
 */
export function refundEntry(sql: Sql, req: RefundRequest): { duplicate: LedgerEntry } | { credit: CreditRequest } | Failure {
  const dup = findByRef(sql, `refund:${req.refundId}`);
  if (dup) return { duplicate: dup };
  const credited = findByRef(sql, req.paymentIntentId);
  const payment = credited && (credited.type === 'purchase' || credited.type === 'auto_recharge') ? credited : null;
  if (!payment || !payment.amountCents) return { ok: false, code: 'not_found', message: 'No credited payment for this PaymentIntent' };
  const prior = sql
    .exec<{ cents: number | null; tokens: number | null }>(
      `SELECT sum(amount_cents) AS cents, sum(-amount) AS tokens FROM ledger WHERE type = 'refund' AND json_extract(metadata, '$.paymentIntentId') = ?`,
      req.paymentIntentId,
    )
    .one();
  const cumulativeCents = Math.min(payment.amountCents, (prior.cents ?? 0) + req.refundedCents);
  const target = Math.floor((payment.amount * cumulativeCents) / payment.amountCents);
  const tokens = target - (prior.tokens ?? 0);
  // A refund too small to map to a whole token is still recorded (0 tokens, its cents), so the
  // next refund of the same payment counts those cents.
  return {
    credit: {
      type: 'refund',
      amount: -Math.max(0, tokens),
      ref: `refund:${req.refundId}`,
      amountCents: req.refundedCents,
      description: `Refund of ${req.paymentIntentId}`,
      metadata: { paymentIntentId: req.paymentIntentId, refundId: req.refundId },
    },
  };
}

/** The entry for a lost dispute: the disputed payment's tokens, or null when it credited none. */
export function lostDisputeEntry(sql: Sql, req: { disputeId: string; paymentIntentId: string }): CreditRequest | null {
  const payment = findByRef(sql, req.paymentIntentId);
  if (!payment || payment.amount <= 0) return null;
  return { type: 'dispute', amount: -payment.amount, ref: `dispute:${req.disputeId}`, amountCents: payment.amountCents ?? undefined, description: `Lost dispute ${req.disputeId}`, metadata: { paymentIntentId: req.paymentIntentId } };
}
