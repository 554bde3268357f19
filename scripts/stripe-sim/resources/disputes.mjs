// Disputes: opened by the card network (after a `pm_card_createDispute*` charge, or through the control API),
// answered with evidence, and closed. Stripe's life cycle (https://docs.stripe.com/disputes/how-disputes-work,
// statuses from the `stripe` package's Stripe.Dispute.Status):
// - an *inquiry* (https://docs.stripe.com/disputes/how-disputes-work#inquiries) starts `warning_needs_response`,
//   moves no money (no balance transaction, `is_charge_refundable: true`), may go `warning_under_review` once
//   evidence is submitted, and ends `warning_closed`, or escalates to a chargeback (`needs_response`);
// - a *chargeback* starts `needs_response`: its `amount` (all or part of the charge) is withdrawn at once
//   (`charge.dispute.funds_withdrawn`), then `under_review` after evidence, and ends `won` (funds given back:
//   `charge.dispute.funds_reinstated`) or `lost`;
// - events (https://docs.stripe.com/api/events/types): `charge.dispute.created`, `charge.dispute.updated` on a
//   status change short of closing, `charge.dispute.closed` when won, lost or warning_closed.
import { FRAUD_DISPUTE } from '../cards.mjs';
import { invalid, mergeMetadata, newId, toBool, toInt } from '../lib.mjs';

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

const CLOSED = ['won', 'lost', 'warning_closed'];
/** @param {Obj} dp */
const isInquiry = (dp) => String(dp.status).startsWith('warning_');

/**
 * A balance transaction moving a dispute's funds (Stripe.BalanceTransaction, `reporting_category: 'dispute'` when
 * withdrawn, `'dispute_reversal'` when reinstated).
 * @param {Store} store @param {Obj} dp @param {1 | -1} sign
 */
function disputeTransaction(store, dp, sign) {
  return {
    id: newId('txn'),
    object: 'balance_transaction',
    amount: sign * dp.amount,
    available_on: store.now(),
    balance_type: 'payments',
    created: store.now(),
    currency: dp.currency,
    description: sign < 0 ? `Chargeback withdrawal for ${dp.charge}` : `Chargeback reversal for ${dp.charge}`,
    exchange_rate: null,
    fee: sign < 0 ? 1500 : 0,
    fee_details: sign < 0 ? [{ amount: 1500, application: null, currency: dp.currency, description: 'Dispute fee', type: 'stripe_fee' }] : [],
    net: sign * dp.amount - (sign < 0 ? 1500 : 0),
    reporting_category: sign < 0 ? 'dispute' : 'dispute_reversal',
    source: dp.id,
    status: 'available',
    type: 'adjustment',
  };
}

/** Withdraw a chargeback's amount: `charge.dispute.funds_withdrawn`. @param {Store} store @param {Obj} dp */
function withdraw(store, dp) {
  dp.balance_transactions.push(disputeTransaction(store, dp, -1));
  dp.is_charge_refundable = false;
  store.emit('charge.dispute.funds_withdrawn', dp);
}

/**
 * Open a dispute on a succeeded charge. `p.amount` (default: what has not been refunded) may be part of the charge
 * ("usually the amount of the charge, but it can differ … because only part of the order is disputed",
 * Stripe.Dispute `amount`); `p.status` `warning_needs_response` opens an inquiry.
 * @param {Store} store @param {string} chargeId @param {Obj} p
 */
export function createDispute(store, chargeId, p) {
  const ch = store.get('charges', chargeId);
  if (ch.status !== 'succeeded') throw invalid(`Charge ${ch.id} did not succeed and cannot be disputed.`, 'charge');
  if (ch.disputed) throw invalid(`Charge ${ch.id} has already been disputed.`, 'charge');
  const kind = /** @type {import('../cards.mjs').DisputeKind} */ ({ ...FRAUD_DISPUTE, ...(p.kind ?? {}) });
  const status = p.status ?? kind.status;
  if (!['needs_response', 'warning_needs_response'].includes(status)) throw invalid("status must be 'needs_response' or 'warning_needs_response'", 'status');
  const inquiry = status === 'warning_needs_response';
  const amount = toInt(p.amount, 'amount') ?? ch.amount - ch.amount_refunded;
  if (amount <= 0 || amount > ch.amount) throw invalid(`amount must be between 1 and the charge's ${ch.amount}`, 'amount');
  const created = store.now();
  // Keys as in https://docs.stripe.com/api/disputes/object and Stripe's fixtures (checked by
  // test/scripts/stripe-sim/contract.test.ts): the network's reason code is under payment_method_details.card.
  const dp = {
    id: newId('dp'),
    object: 'dispute',
    amount,
    balance_transactions: /** @type {Obj[]} */ ([]),
    charge: ch.id,
    created,
    currency: ch.currency,
    enhanced_eligibility_types: [],
    evidence: Object.fromEntries([...EVIDENCE_FIELDS.map((k) => [k, null]), ['enhanced_evidence', {}]]),
    evidence_details: { due_by: created + 7 * 86400, enhanced_eligibility: {}, has_evidence: false, past_due: false, submission_count: 0 },
    is_charge_refundable: inquiry,
    livemode: false,
    metadata: {},
    payment_intent: ch.payment_intent,
    payment_method_details: {
      card: {
        brand: ch.payment_method_details.card?.brand ?? 'visa',
        case_type: inquiry ? 'inquiry' : 'chargeback',
        network: ch.payment_method_details.card?.network ?? 'visa',
        network_reason_code: p.network_reason_code ?? (inquiry && kind.case_type !== 'inquiry' ? '10' : kind.network_reason_code),
      },
      type: 'card',
    },
    reason: p.reason ?? kind.reason,
    status,
  };
  store.disputes.set(dp.id, dp);
  ch.disputed = true;
  // The cardholder's bank opens a dispute, not an API request of ours.
  store.outsideRequest(() => {
    store.emit('charge.dispute.created', dp);
    if (!inquiry) withdraw(store, dp);
  });
  return dp;
}

/**
 * Open a dispute on `ch` `store.disputeDelayMs` from now (the `pm_card_createDispute*` test cards), unless
 * the charge is gone (reset) or already disputed by then.
 * @param {Store} store @param {Obj} ch @param {import('../cards.mjs').DisputeKind} [kind]
 */
export function disputeLater(store, ch, kind) {
  store.later(store.disputeDelayMs, () => {
    if (store.charges.get(ch.id) === ch && !ch.disputed) createDispute(store, ch.id, { kind });
  });
}

/**
 * POST /v1/disputes/:id: evidence and metadata; `submit=true` (the default, as in Stripe) sends the evidence, which
 * moves `needs_response` → `under_review` and `warning_needs_response` → `warning_under_review`
 * (https://docs.stripe.com/api/disputes/update).
 * @param {Store} store @param {string} id @param {Obj} p
 */
export function updateDispute(store, id, p) {
  const dp = store.get('disputes', id);
  if (CLOSED.includes(dp.status)) throw invalid(`This dispute is already closed (${dp.status}).`, undefined, 'dispute_already_closed');
  /** @type {Obj} */
  const prev = {};
  if (p.metadata !== undefined) {
    prev.metadata = dp.metadata;
    dp.metadata = mergeMetadata(dp.metadata, p.metadata);
  }
  if (p.evidence && typeof p.evidence === 'object') {
    prev.evidence = { ...dp.evidence };
    for (const [k, v] of Object.entries(p.evidence)) if (EVIDENCE_FIELDS.includes(k)) dp.evidence[k] = v === '' ? null : String(v);
    dp.evidence_details.has_evidence = true;
  }
  const submit = p.submit === undefined ? true : toBool(p.submit);
  if (submit && p.evidence) {
    const next = { needs_response: 'under_review', warning_needs_response: 'warning_under_review' }[/** @type {string} */ (dp.status)];
    if (next) {
      prev.status = dp.status;
      dp.status = next;
      dp.evidence_details.submission_count++;
    }
  }
  if (Object.keys(prev).length) store.emit('charge.dispute.updated', dp, prev);
  return dp;
}

/**
 * The network moves a dispute on (POST /_sim/disputes/:id/update): an inquiry under review or escalated to a
 * chargeback (`needs_response`, funds withdrawn), or a chargeback under review. `charge.dispute.updated`.
 * @param {Store} store @param {string} id @param {string} status
 */
export function moveDispute(store, id, status) {
  const dp = store.get('disputes', id);
  /** @type {Record<string, string[]>} */
  const next = { warning_needs_response: ['warning_under_review', 'needs_response'], warning_under_review: ['needs_response'], needs_response: ['under_review'] };
  if (!(next[dp.status] ?? []).includes(status)) throw invalid(`A ${dp.status} dispute cannot become ${status}.`, 'status');
  const escalated = isInquiry(dp) && !status.startsWith('warning_');
  const prev = { status: dp.status };
  dp.status = status;
  if (escalated) {
    dp.payment_method_details.card.case_type = 'chargeback';
    dp.evidence_details.has_evidence = false;
  }
  store.outsideRequest(() => {
    store.emit('charge.dispute.updated', dp, prev);
    if (escalated) withdraw(store, dp);
  });
  return dp;
}

/**
 * Close a dispute: a chargeback `won` (funds reinstated: `charge.dispute.funds_reinstated`) or `lost`; an inquiry
 * `warning_closed` (no money moved either way). Closing through the API (POST /v1/disputes/:id/close) concedes:
 * a chargeback is lost, an inquiry is closed.
 * @param {Store} store @param {string} id @param {'won'|'lost'|'warning_closed'|'concede'|string} status
 */
export function closeDispute(store, id, status) {
  const dp = store.get('disputes', id);
  if (CLOSED.includes(dp.status)) throw invalid(`This dispute is already closed (${dp.status}).`, undefined, 'dispute_already_closed');
  const inquiry = isInquiry(dp);
  const final = status === 'concede' ? (inquiry ? 'warning_closed' : 'lost') : status;
  const allowed = inquiry ? ['warning_closed'] : ['won', 'lost'];
  if (!allowed.includes(final)) throw invalid(`A ${dp.status} dispute closes as ${allowed.map((s) => `'${s}'`).join(' or ')}.`, 'status');
  const prev = { status: dp.status };
  dp.status = final;
  store.emit('charge.dispute.closed', dp, prev);
  if (final === 'won') {
    dp.balance_transactions.push(disputeTransaction(store, dp, 1));
    store.emit('charge.dispute.funds_reinstated', dp);
  }
  return dp;
}

/** Disputes for GET /v1/disputes (`charge`, `payment_intent` filters). @param {Store} store @param {Obj} p */
export const listDisputes = (store, p) =>
  [...store.disputes.values()].filter((x) => (!p.charge || x.charge === p.charge) && (!p.payment_intent || x.payment_intent === p.payment_intent));
