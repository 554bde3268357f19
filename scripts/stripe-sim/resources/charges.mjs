// Charges: one per confirmation attempt of a PaymentIntent (succeeded or failed). Refunds and disputes
// update the charge they belong to (./refunds.mjs, ./disputes.mjs).
import { clone, newId } from '../lib.mjs';

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {import('../store.mjs').Store} Store
 */

/**
 * @param {Store} store @param {Obj} pi @param {Obj} pm @param {import('../cards.mjs').TestCard | null} card null for a bank account
 * @param {{ code: string, decline_code: string, message: string } | null} failure
 * @param {{ pending?: boolean }} [o] pending: a bank debit awaiting the bank's answer (Stripe.Charge.Status 'pending')
 */
export function createCharge(store, pi, pm, card, failure, o = {}) {
  const id = newId('ch');
  // Keys as in https://docs.stripe.com/api/charges/object (checked against Stripe's fixtures by
  // test/scripts/stripe-sim/contract.test.ts), except `refunds`: since API version 2022-11-15 Stripe leaves it
  // out unless expanded (https://docs.stripe.com/changelog/2022-11-15/deprecates-charges-auto-expand); ../output.mjs
  // builds the list from the store's refunds for `expand[]=refunds`.
  const ch = {
    id,
    object: 'charge',
    amount: pi.amount,
    amount_captured: failure ? 0 : pi.amount,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: failure ? null : newId('txn'),
    billing_details: clone(pm.billing_details),
    calculated_statement_descriptor: 'TOKEN BILLING',
    captured: !failure,
    created: store.now(),
    currency: pi.currency,
    customer: pi.customer,
    description: pi.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: failure ? failure.code : null,
    failure_message: failure ? failure.message : null,
    fraud_details: {},
    livemode: false,
    metadata: clone(pi.metadata),
    on_behalf_of: null,
    outcome: failure
      ? {
          advice_code: null,
          network_advice_code: null,
          network_decline_code: null,
          network_status: 'declined_by_network',
          reason: failure.decline_code,
          risk_level: 'normal',
          risk_score: 20,
          seller_message: 'The bank did not return any further details with this decline.',
          type: 'issuer_declined',
        }
      : {
          advice_code: null,
          network_advice_code: null,
          network_decline_code: null,
          network_status: 'approved_by_network',
          reason: null,
          risk_level: 'normal',
          risk_score: 20,
          seller_message: 'Payment complete.',
          type: 'authorized',
        },
    paid: !failure,
    payment_intent: pi.id,
    payment_method: pm.id,
    payment_method_details: pm.type === 'us_bank_account' ? bankDetails(pm) : {
      card: {
        amount_authorized: failure ? null : pi.amount,
        authorization_code: null,
        brand: pm.card.brand,
        checks: clone(pm.card.checks),
        country: pm.card.country,
        exp_month: pm.card.exp_month,
        exp_year: pm.card.exp_year,
        extended_authorization: { status: 'disabled' },
        fingerprint: pm.card.fingerprint,
        funding: pm.card.funding,
        incremental_authorization: { status: 'unavailable' },
        installments: null,
        last4: pm.card.last4,
        mandate: null,
        multicapture: { status: 'unavailable' },
        network: card?.brand ?? pm.card.brand,
        network_token: { used: false },
        network_transaction_id: null,
        overcapture: { maximum_amount_capturable: pi.amount, status: 'unavailable' },
        regulated_status: pm.card.regulated_status,
        three_d_secure: null,
        transaction_link_id: null,
        wallet: null,
      },
      type: 'card',
    },
    receipt_email: pi.receipt_email,
    receipt_number: null,
    receipt_url: `${store.baseUrl}/_sim/receipts/${id}`,
    refunded: false,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: failure ? 'failed' : o.pending ? 'pending' : 'succeeded',
    transfer_data: null,
    transfer_group: null,
  };
  // A pending bank debit is not paid yet (Stripe.Charge `paid`: "true if the charge succeeded").
  if (o.pending) ch.paid = false;
  store.charges.set(id, ch);
  if (failure) store.counters.chargesFailed++;
  else if (!o.pending) store.counters.chargesSucceeded++;
  return ch;
}

/** `payment_method_details` of a US bank account debit (Stripe.Charge.PaymentMethodDetails.UsBankAccount). @param {Obj} pm */
function bankDetails(pm) {
  const b = pm.us_bank_account;
  return {
    type: 'us_bank_account',
    us_bank_account: {
      account_holder_type: b.account_holder_type,
      account_type: b.account_type,
      bank_name: b.bank_name,
      fingerprint: b.fingerprint,
      last4: b.last4,
      mandate: null,
      payment_reference: null,
      routing_number: b.routing_number,
    },
  };
}

/**
 * A pending bank debit's answer from the bank: the charge succeeds or fails.
 * @param {Store} store @param {Obj} ch @param {{ code: string, message: string } | null} failure
 */
export function settleCharge(store, ch, failure) {
  ch.status = failure ? 'failed' : 'succeeded';
  ch.paid = !failure;
  if (failure) {
    ch.failure_code = failure.code;
    ch.failure_message = failure.message;
    ch.amount_captured = 0;
    ch.balance_transaction = null;
    store.counters.chargesFailed++;
  } else store.counters.chargesSucceeded++;
  return ch;
}

/** Charges for GET /v1/charges (`customer`, `payment_intent` filters). @param {Store} store @param {Obj} p */
export const listCharges = (store, p) =>
  [...store.charges.values()].filter((x) => (!p.customer || x.customer === p.customer) && (!p.payment_intent || x.payment_intent === p.payment_intent));
