import { findByRef } from './ledger-store';
import type { Sql } from './storage';
import type { CreditRequest, Failure, LedgerEntry, RefundRequest } from './types';

/**
 * Refunds and disputes take back the tokens of a credited payment (I12): never more than it
 * credited, whatever mix of refunds and disputes Stripe reports. Every entry is keyed by the
 * refund or dispute id (I4), and its metadata names the PaymentIntent, so the running totals
 * below are per payment. These compute the ledger entry; the facade commits it.
 *
 * Give-backs (a refund that failed or was canceled, a dispute won or reinstated) are entries of
 * the same type with the opposite sign (tokens back, negative cents), so the running totals net
 * them out without a special case.
 */

type Entry = { duplicate: LedgerEntry } | { credit: CreditRequest } | Failure;

const notCredited: Failure = { ok: false, code: 'not_found', message: 'No credited payment for this PaymentIntent' };

/** The credited purchase or auto-recharge of a PaymentIntent, or null (not credited yet). */
function paymentOf(sql: Sql, paymentIntentId: string): LedgerEntry | null {
  const credited = findByRef(sql, paymentIntentId);
  return credited && (credited.type === 'purchase' || credited.type === 'auto_recharge') && credited.amountCents ? credited : null;
}

/** Net cents and tokens taken back from one payment by entries of `type` (give-backs netted out). */
function takenBack(sql: Sql, type: 'refund' | 'dispute', paymentIntentId: string): { cents: number; tokens: number } {
  const row = sql
    .exec<{ cents: number | null; tokens: number | null }>(
      `SELECT sum(amount_cents) AS cents, sum(-amount) AS tokens FROM ledger WHERE type = ? AND json_extract(metadata, '$.paymentIntentId') = ?`,
      type,
      paymentIntentId,
    )
    .one();
  return { cents: row.cents ?? 0, tokens: row.tokens ?? 0 };
}

/** An entry's metadata (stored as JSON text). */
function metadataOf(e: LedgerEntry): Record<string, unknown> {
  return e.metadata ? (JSON.parse(e.metadata) as Record<string, unknown>) : {};
}

/** Tokens of the payment not yet taken back by its refunds or disputes. */
function tokensLeft(sql: Sql, payment: LedgerEntry, paymentIntentId: string): number {
  return Math.max(0, payment.amount - takenBack(sql, 'refund', paymentIntentId).tokens - takenBack(sql, 'dispute', paymentIntentId).tokens);
}

/** Tokens worth `cents` of the payment, rounded down (`cents` capped at what was paid, so the product stays below 2^53 for any safe payment). */
function share(payment: LedgerEntry, cents: number): number {
  const paid = payment.amountCents!;
  return Math.floor((payment.amount * Math.min(Math.max(0, cents), paid)) / paid);
}

/**
 * The entry for one refund of a payment, proportional to the amount paid. The running total
 * decides the tokens, so partial refunds that add up to the whole payment take back exactly its
 * tokens; tokens a dispute already holds are not taken twice. `duplicate`: this refund already
 * has its entry. `not_found`: the payment is not credited yet (the caller retries later).
 */
export function refundEntry(sql: Sql, req: RefundRequest): Entry {
  const dup = findByRef(sql, `refund:${req.refundId}`);
  if (dup) return { duplicate: dup };
  const payment = paymentOf(sql, req.paymentIntentId);
  if (!payment) return notCredited;
  const prior = takenBack(sql, 'refund', req.paymentIntentId);
  const target = share(payment, prior.cents + req.refundedCents);
  const tokens = Math.min(target - prior.tokens, tokensLeft(sql, payment, req.paymentIntentId));
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

/**
 * A refund that failed or was canceled after it was applied: its cents come back, and the tokens
 * the payment's remaining refunds no longer account for. Usually that is what it took; but a
 * later refund of the same payment, applied while this one still counted, was capped by it
 * (Stripe lets the amount of a failed refund be refunded again, https://docs.stripe.com/refunds#failed-refunds),
 * so the running total decides here too. Null when it was never applied (nothing to give back).
 * `duplicate`: already given back.
 */
export function refundReversalEntry(sql: Sql, refundId: string): Entry | null {
  const applied = findByRef(sql, `refund:${refundId}`);
  if (!applied) return null;
  const dup = findByRef(sql, `refund:${refundId}:reversed`);
  if (dup) return { duplicate: dup };
  const meta = metadataOf(applied);
  const payment = typeof meta.paymentIntentId === 'string' ? paymentOf(sql, meta.paymentIntentId) : null;
  let back = -applied.amount;
  if (payment) {
    const pi = meta.paymentIntentId as string;
    const prior = takenBack(sql, 'refund', pi);
    const stillJustified = Math.min(share(payment, prior.cents - (applied.amountCents ?? 0)), Math.max(0, payment.amount - takenBack(sql, 'dispute', pi).tokens));
    back = Math.max(0, prior.tokens - stillJustified);
  }
  return {
    credit: {
      type: 'refund',
      amount: back,
      ref: `refund:${refundId}:reversed`,
      amountCents: -(applied.amountCents ?? 0),
      description: `Refund ${refundId} failed or canceled: tokens given back`,
      metadata: { paymentIntentId: meta.paymentIntentId, refundId, reversed: true },
    },
  };
}

/**
 * A formal dispute holds `disputedCents`' share of the payment's tokens (Stripe withdraws the
 * disputed amount, https://docs.stripe.com/disputes/how-disputes-work), never more than its
 * refunds and other disputes left. A lost dispute keeps the hold; a won one gives it back.
 */
export function disputeHoldEntry(sql: Sql, req: { disputeId: string; paymentIntentId: string; disputedCents?: number }): Entry {
  const dup = findByRef(sql, `dispute:${req.disputeId}`);
  if (dup) return { duplicate: dup };
  const payment = paymentOf(sql, req.paymentIntentId);
  if (!payment) return notCredited;
  const cents = Math.min(req.disputedCents ?? payment.amountCents!, payment.amountCents!);
  const tokens = Math.min(share(payment, cents), tokensLeft(sql, payment, req.paymentIntentId));
  return {
    credit: {
      type: 'dispute',
      amount: -tokens,
      ref: `dispute:${req.disputeId}`,
      amountCents: cents,
      description: `Dispute ${req.disputeId}: tokens held`,
      metadata: { paymentIntentId: req.paymentIntentId, disputeId: req.disputeId },
    },
  };
}

/** A dispute won (or its funds reinstated): the held tokens come back. Null when nothing was held. */
export function disputeReleaseEntry(sql: Sql, disputeId: string): Entry | null {
  const held = findByRef(sql, `dispute:${disputeId}`);
  if (!held) return null;
  const dup = findByRef(sql, `dispute:${disputeId}:reinstated`);
  if (dup) return { duplicate: dup };
  const meta = metadataOf(held);
  return {
    credit: {
      type: 'dispute',
      amount: -held.amount,
      ref: `dispute:${disputeId}:reinstated`,
      amountCents: -(held.amountCents ?? 0),
      description: `Dispute ${disputeId} won: tokens given back`,
      metadata: { paymentIntentId: meta.paymentIntentId, disputeId, reinstated: true },
    },
  };
}
