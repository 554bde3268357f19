// Refunds of a succeeded charge (named directly or through its PaymentIntent), full or partial.
import { clone, invalid, mergeMetadata, newId, now, toInt } from '../lib.mjs';

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {import('../store.mjs').Store} Store
 */

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
  const remaining = ch.amount - ch.amount_refunded;
  if (remaining <= 0) throw invalid(`Charge ${ch.id} has already been refunded.`, 'charge', 'charge_already_refunded');
  const amount = toInt(p.amount, 'amount') ?? remaining;
  if (amount <= 0) throw invalid('Invalid positive integer', 'amount', 'parameter_invalid_integer');
  if (amount > remaining) {
    const fmt = (/** @type {number} */ n) => `$${(n / 100).toFixed(2)}`;
    throw invalid(`Refund amount (${fmt(amount)}) is greater than unrefunded amount on charge (${fmt(remaining)})`, 'amount', 'amount_too_large');
  }
  // Keys as in https://docs.stripe.com/api/refunds/object (checked against Stripe's fixtures by
  // test/scripts/stripe-sim/contract.test.ts).
  const re = {
    id: newId('re'),
    object: 'refund',
    amount,
    balance_transaction: newId('txn'),
    charge: ch.id,
    created: now(),
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
    status: 'succeeded',
    transfer_reversal: null,
  };
  store.refunds.set(re.id, re);
  const prev = { amount_refunded: ch.amount_refunded, refunded: ch.refunded };
  ch.amount_refunded += amount;
  ch.refunded = ch.amount_refunded >= ch.amount;
  ch.refunds.data.unshift(clone(re));
  store.emit('charge.refunded', ch, prev);
  store.emit('refund.created', re);
  return re;
}

/** Refunds for GET /v1/refunds (`charge`, `payment_intent` filters). @param {Store} store @param {Obj} p */
export const listRefunds = (store, p) =>
  [...store.refunds.values()].filter((x) => (!p.charge || x.charge === p.charge) && (!p.payment_intent || x.payment_intent === p.payment_intent));
