// Refunds of a succeeded charge (named directly or through its PaymentIntent), full or partial, and how they
// settle. Stripe's refund life cycle (https://docs.stripe.com/refunds#refund-status, the `status` values in the
// `stripe` package's Stripe.Refund: pending, requires_action, succeeded, failed, canceled):
// - most card refunds are `succeeded` at once;
// - a refund can be `pending` first and later succeed, fail or be canceled: `refund.updated` when it changes,
//   `refund.failed` when it fails (https://docs.stripe.com/refunds#failed-refunds), and `charge.refund.updated`
//   for the charge's listeners;
// - a failed or canceled refund gives its amount back to the charge: `amount_refunded` counts what is refunded or
//   still pending, cumulatively (https://docs.stripe.com/api/charges/object#charge_object-amount_refunded), and
//   `refunded` is true only once the whole amount is refunded.
// Test cards (https://docs.stripe.com/testing#refunds): `pm_card_pendingRefund` (4000000000007726) refunds start
// `pending` and succeed `store.refundDelayMs` later; `pm_card_refundFail` (4000000000005126) refunds start
// `succeeded` and fail later with `expired_or_canceled_card`. POST /_sim/refunds/:id/settle decides any pending or
// succeeded refund at once.
import { invalid, mergeMetadata, newId, toInt } from '../lib.mjs';

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {import('../store.mjs').Store} Store
 */

/** Chargeback statuses (not an inquiry) under which the charge cannot be refunded: open, or lost (the money went back already). */
const CHARGEBACK_OPEN = ['needs_response', 'under_review', 'lost'];

/** @param {Store} store @param {Obj} p */
export function createRefund(store, p) {
  /** @type {Obj} */
  let ch;
  if (p.charge) ch = store.get('charges', String(p.charge), 'charge');
  else if (p.payment_intent) {
    const pi = store.get('paymentIntents', String(p.payment_intent), 'payment_intent');
    if (pi.status !== 'succeeded' || !pi.latest_charge) {
      throw invalid(`This PaymentIntent (${pi.id}) does not have a successful charge to refund.`, 'payment_intent', 'charge_not_refundable');
    }
    ch = store.get('charges', pi.latest_charge);
  } else throw invalid('One of the following params should be provided for this request: payment_intent or charge.', undefined, 'parameter_missing');
  if (ch.status !== 'succeeded') throw invalid(`Charge ${ch.id} has not been captured or has failed and cannot be refunded.`, 'charge', 'charge_not_refundable');
  // A charge under an open chargeback is refused with `charge_disputed` (https://docs.stripe.com/error-codes#charge-disputed,
  // one of the `stripe` package's error codes); Stripe.Dispute `is_charge_refundable`: "If true, it's still possible to
  // refund the disputed payment" — true for an inquiry (warning_*), which moves no money.
  const dispute = [...store.disputes.values()].find((d) => d.charge === ch.id && CHARGEBACK_OPEN.includes(d.status));
  if (dispute) throw invalid(`Charge ${ch.id} has been charged back; you cannot issue a refund.`, 'charge', 'charge_disputed');
  const remaining = ch.amount - ch.amount_refunded;
  if (remaining <= 0) throw invalid(`Charge ${ch.id} has already been refunded.`, 'charge', 'charge_already_refunded');
  const amount = toInt(p.amount, 'amount') ?? remaining;
  if (amount <= 0) throw invalid('Invalid positive integer', 'amount', 'parameter_invalid_integer');
  if (amount > remaining) {
    const fmt = (/** @type {number} */ n) => `$${(n / 100).toFixed(2)}`;
    throw invalid(`Refund amount (${fmt(amount)}) is greater than unrefunded amount on charge (${fmt(remaining)})`, 'amount', 'amount_too_large');
  }
  const card = store.pmCard.get(ch.payment_method);
  const behavior = card?.refund ?? 'succeed';
  // Keys as in https://docs.stripe.com/api/refunds/object (checked against Stripe's fixtures by
  // test/scripts/stripe-sim/contract.test.ts); `failure_reason` only once failed (optional in Stripe.Refund).
  /** @type {Obj} */
  const re = {
    id: newId('re'),
    object: 'refund',
    amount,
    balance_transaction: newId('txn'),
    charge: ch.id,
    created: store.now(),
    currency: ch.currency,
    customer: ch.customer,
    customer_account: null,
    destination_details: { card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' }, type: 'card' },
    metadata: mergeMetadata({}, p.metadata),
    payment_intent: ch.payment_intent,
    payment_method: ch.payment_method,
    reason: p.reason ?? null,
    receipt_number: null,
    source_transfer_reversal: null,
    status: behavior === 'pending' ? 'pending' : 'succeeded',
    transfer_reversal: null,
  };
  store.refunds.set(re.id, re);
  const prev = { amount_refunded: ch.amount_refunded, refunded: ch.refunded };
  ch.amount_refunded += amount;
  ch.refunded = ch.amount_refunded >= ch.amount;
  store.emit('charge.refunded', ch, prev);
  store.emit('refund.created', re);
  if (behavior === 'pending') store.later(store.refundDelayMs, () => re.status === 'pending' && settleRefund(store, re.id, 'succeeded'));
  if (behavior === 'fail') store.later(store.refundDelayMs, () => ['pending', 'succeeded'].includes(re.status) && settleRefund(store, re.id, 'failed'));
  return re;
}

/**
 * Move a refund to its final status, as the card network or the bank reports it: a pending refund succeeds, fails
 * or is canceled; a succeeded card refund can still fail later (https://docs.stripe.com/refunds#failed-refunds).
 * A failed or canceled refund gives its amount back to the charge.
 * @param {Store} store @param {string} id @param {'succeeded'|'failed'|'canceled'|string} status
 * @param {string} [failureReason] for `failed` (Stripe.Refund `failure_reason`), default `expired_or_canceled_card`
 */
export function settleRefund(store, id, status, failureReason) {
  const re = store.get('refunds', id);
  if (!['succeeded', 'failed', 'canceled'].includes(status)) throw invalid("status must be 'succeeded', 'failed' or 'canceled'", 'status');
  const allowed = status === 'failed' ? ['pending', 'succeeded'] : ['pending'];
  if (!allowed.includes(re.status)) throw invalid(`Refund ${re.id} is ${re.status} and cannot become ${status}.`, 'status');
  const prevRefund = { status: re.status };
  re.status = status;
  if (status === 'failed') {
    re.failure_reason = failureReason ?? 'expired_or_canceled_card';
    re.failure_balance_transaction = newId('txn');
    Object.assign(prevRefund, { failure_reason: null, failure_balance_transaction: null });
  }
  const ch = store.charges.get(re.charge);
  if (ch) {
    if (status !== 'succeeded') {
      ch.amount_refunded -= re.amount;
      ch.refunded = ch.amount_refunded >= ch.amount;
    }
  }
  store.emit('refund.updated', re, prevRefund);
  if (status === 'failed') store.emit('refund.failed', re);
  store.emit('charge.refund.updated', re, prevRefund);
  return re;
}

/** Refunds for GET /v1/refunds (`charge`, `payment_intent` filters). @param {Store} store @param {Obj} p */
export const listRefunds = (store, p) =>
  [...store.refunds.values()].filter((x) => (!p.charge || x.charge === p.charge) && (!p.payment_intent || x.payment_intent === p.payment_intent));
