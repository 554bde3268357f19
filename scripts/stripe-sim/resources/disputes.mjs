// Disputes: opened by the card network (after a `pm_card_createDispute` charge, or through the control API)
// and closed as won or lost.
import { invalid, newId, now, toInt } from '../lib.mjs';

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {import('../store.mjs').Store} Store
 */

/** Evidence a merchant can submit (https://docs.stripe.com/api/disputes/evidence_object); none yet. */
const EVIDENCE_FIELDS = [
  'access_activity_log', 'billing_address', 'cancellation_policy', 'cancellation_policy_disclosure', 'cancellation_rebuttal',
  'customer_communication', 'customer_email_address', 'customer_name', 'customer_purchase_ip', 'customer_signature',
  'duplicate_charge_documentation', 'duplicate_charge_explanation', 'duplicate_charge_id', 'product_description', 'receipt',
  'refund_policy', 'refund_policy_disclosure', 'refund_refusal_explanation', 'service_date', 'service_documentation',
  'shipping_address', 'shipping_carrier', 'shipping_date', 'shipping_documentation', 'shipping_tracking_number',
  'uncategorized_file', 'uncategorized_text',
];

/** @param {Store} store @param {string} chargeId @param {Obj} p */
export function createDispute(store, chargeId, p) {
  const ch = store.get('charges', chargeId);
  if (ch.status !== 'succeeded') throw invalid(`Charge ${ch.id} did not succeed and cannot be disputed.`, 'charge');
  if (ch.disputed) throw invalid(`Charge ${ch.id} has already been disputed.`, 'charge');
  const amount = toInt(p.amount, 'amount') ?? ch.amount - ch.amount_refunded;
  const created = now();
  // Keys as in https://docs.stripe.com/api/disputes/object and Stripe's fixtures (checked by
  // test/scripts/stripe-sim/contract.test.ts): the network's reason code is under payment_method_details.card.
  const dp = {
    id: newId('dp'),
    object: 'dispute',
    amount,
    balance_transactions: [],
    charge: ch.id,
    created,
    currency: ch.currency,
    enhanced_eligibility_types: [],
    evidence: Object.fromEntries([...EVIDENCE_FIELDS.map((k) => [k, null]), ['enhanced_evidence', {}]]),
    evidence_details: { due_by: created + 7 * 86400, enhanced_eligibility: {}, has_evidence: false, past_due: false, submission_count: 0 },
    is_charge_refundable: false,
    livemode: false,
    metadata: {},
    payment_intent: ch.payment_intent,
    payment_method_details: { card: { brand: ch.payment_method_details.card.brand, case_type: 'chargeback', network: ch.payment_method_details.card.network, network_reason_code: '10.4' }, type: 'card' },
    reason: p.reason ?? 'fraudulent',
    status: p.status ?? 'needs_response',
  };
  store.disputes.set(dp.id, dp);
  ch.disputed = true;
  // The cardholder's bank opens a dispute, not an API request of ours.
  store.outsideRequest(() => store.emit('charge.dispute.created', dp));
  return dp;
}

/**
 * Open a dispute on `ch` `store.disputeDelayMs` from now (the `pm_card_createDispute` test card), unless
 * the charge is gone (reset) or already disputed by then.
 * @param {Store} store @param {Obj} ch
 */
export function disputeLater(store, ch) {
  const t = setTimeout(() => {
    store.timers.delete(t);
    if (store.charges.get(ch.id) === ch && !ch.disputed) createDispute(store, ch.id, {});
  }, store.disputeDelayMs);
  store.timers.add(t);
}

/** @param {Store} store @param {string} id @param {'won'|'lost'|string} status */
export function closeDispute(store, id, status) {
  const dp = store.get('disputes', id);
  if (!['won', 'lost'].includes(status)) throw invalid("status must be 'won' or 'lost'", 'status');
  if (['won', 'lost'].includes(dp.status)) throw invalid(`This dispute is already closed (${dp.status}).`, undefined, 'dispute_already_closed');
  const prev = { status: dp.status };
  dp.status = status;
  store.emit('charge.dispute.closed', dp, prev);
  return dp;
}

/** Disputes for GET /v1/disputes (`charge`, `payment_intent` filters). @param {Store} store @param {Obj} p */
export const listDisputes = (store, p) =>
  [...store.disputes.values()].filter((x) => (!p.charge || x.charge === p.charge) && (!p.payment_intent || x.payment_intent === p.payment_intent));
