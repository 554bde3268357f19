// PaymentIntents: create, update, confirm (which charges the card: ./charges.mjs), cancel.
import { BANK_BY_ALIAS } from '../bank-accounts.mjs';
import { BY_ALIAS } from '../cards.mjs';
import { cardError, clone, invalid, mergeMetadata, missingParam, newId, rand, toBool, toInt } from '../lib.mjs';
import { createCharge, settleCharge } from './charges.mjs';
import { disputeLater } from './disputes.mjs';
import { resolvePm } from './payment-methods.mjs';

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {import('../store.mjs').Store} Store
 */

/**
 * Minimum charge amounts in the smallest currency unit, from https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts
 * (USD $0.50); a currency not listed here gets the USD minimum's 50 units.
 * @type {Record<string, number>}
 */
const MINIMUM_AMOUNT = { usd: 50, eur: 50, gbp: 30, cad: 50, aud: 50, nzd: 50, chf: 50, sgd: 50, jpy: 50, brl: 50, inr: 50, mxn: 1000, hkd: 400, dkk: 250, nok: 300, sek: 300, pln: 200 };

/** Stripe's `amount_too_small` message for a currency. @param {string} currency @param {number} min */
const tooSmall = (currency, min) =>
  currency === 'usd' ? `Amount must be at least $0.50 usd` : `Amount must be at least ${min} (in the smallest unit of ${currency})`;

/** @param {any} v */
const isOffSession = (v) => v !== undefined && v !== 'false' && v !== false;

/**
 * Resolve `payment_method` for a PaymentIntent of `customer`. Like Stripe, a `pm_card_*` (or `pm_usBankAccount_*`) alias used with a
 * customer becomes a fresh pm_ attached to it.
 * @param {Store} store @param {string} pmParam @param {string | null} customer
 */
function paymentMethodFor(store, pmParam, customer) {
  const pm = resolvePm(store, pmParam);
  if ((BY_ALIAS.has(pmParam) || BANK_BY_ALIAS.has(pmParam)) && customer) {
    pm.customer = customer;
    store.emit('payment_method.attached', pm);
  }
  checkPmForCustomer(store, pm, customer);
  return pm;
}

/** @param {Store} store @param {Obj} p @param {{ internal?: boolean }} [o] internal: made by Checkout (no minimum amount) */
export function createPaymentIntent(store, p, o = {}) {
  const amount = toInt(p.amount, 'amount');
  if (amount === undefined) throw missingParam('amount');
  if (!p.currency) throw missingParam('currency');
  const currency = String(p.currency).toLowerCase();
  const min = MINIMUM_AMOUNT[currency] ?? 50;
  if (amount < min && !o.internal) throw invalid(tooSmall(currency, min), 'amount', 'amount_too_small');
  if (amount > 99999999) throw invalid('Amount must be no more than $999,999.99', 'amount', 'amount_too_large');
  const customer = p.customer ? store.get('customers', String(p.customer), 'customer').id : null;
  const confirm = toBool(p.confirm);
  const offSession = isOffSession(p.off_session);
  if (offSession && !confirm) throw invalid('You may only specify `off_session` when you also specify `confirm=true`.', 'off_session');
  if (confirm && !p.payment_method) {
    throw invalid(
      "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.",
      'payment_method',
      'payment_intent_unexpected_state',
    );
  }
  const sfu = p.setup_future_usage || null;
  if (sfu && !['off_session', 'on_session'].includes(sfu)) throw invalid(`Invalid setup_future_usage: must be one of on_session or off_session`, 'setup_future_usage');
  const pm = p.payment_method ? paymentMethodFor(store, String(p.payment_method), customer) : null;
  const id = newId('pi');
  // Keys as in https://docs.stripe.com/api/payment_intents/object (checked against Stripe's fixtures by
  // test/scripts/stripe-sim/contract.test.ts). No `charges`: removed in API version 2022-11-15,
  // https://docs.stripe.com/changelog/2022-11-15/removes-charges-attribute-paymentintent
  const pi = {
    id,
    object: 'payment_intent',
    amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: p.automatic_payment_methods ? { allow_redirects: 'always', enabled: toBool(p.automatic_payment_methods.enabled) } : null,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: p.capture_method ?? 'automatic',
    client_secret: `${id}_secret_${rand(25)}`,
    confirmation_method: 'automatic',
    created: store.now(),
    currency,
    customer,
    customer_account: null,
    description: p.description ?? null,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: mergeMetadata({}, p.metadata),
    next_action: null,
    on_behalf_of: null,
    payment_method: pm ? pm.id : null,
    payment_method_configuration_details: null,
    payment_method_options: { card: { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic' } },
    payment_method_types: Array.isArray(p.payment_method_types) ? p.payment_method_types : ['card'],
    processing: null,
    receipt_email: p.receipt_email ?? null,
    review: null,
    setup_future_usage: sfu,
    shipping: null,
    source: null,
    statement_descriptor: p.statement_descriptor ?? null,
    statement_descriptor_suffix: null,
    status: pm ? 'requires_confirmation' : 'requires_payment_method',
    transfer_data: null,
    transfer_group: null,
  };
  store.paymentIntents.set(id, pi);
  store.counters.paymentIntentsCreated++;
  store.emit('payment_intent.created', pi);
  if (confirm) confirmPaymentIntent(store, pi, { offSession });
  return pi;
}

/** @param {Store} store @param {Obj} pm @param {string | null} customer */
function checkPmForCustomer(store, pm, customer) {
  if (pm.customer && !customer) {
    throw invalid(
      'The provided PaymentMethod was previously attached to a Customer. To use a PaymentMethod that has been attached to a Customer, you must provide the Customer ID in the request.',
      'payment_method',
    );
  }
  if (pm.customer && customer && pm.customer !== customer) {
    throw invalid(`The provided PaymentMethod (${pm.id}) does not belong to the Customer (${customer}).`, 'payment_method');
  }
  if (!pm.customer && store.pmConsumed.has(pm.id)) {
    throw invalid(
      'This PaymentMethod was previously used without being attached to a Customer or was detached from a Customer, and may not be used again.',
      'payment_method',
      'payment_method_unexpected_state',
    );
  }
}

/** @param {Store} store @param {string} id @param {Obj} p */
export function updatePaymentIntent(store, id, p) {
  const pi = store.get('paymentIntents', id);
  if (['succeeded', 'canceled'].includes(pi.status) && (p.amount !== undefined || p.payment_method !== undefined)) {
    throw invalid(`This PaymentIntent's amount could not be updated because it has a status of ${pi.status}.`, undefined, 'payment_intent_unexpected_state');
  }
  if (p.amount !== undefined) pi.amount = toInt(p.amount, 'amount');
  if (p.description !== undefined) pi.description = p.description || null;
  if (p.receipt_email !== undefined) pi.receipt_email = p.receipt_email || null;
  if (p.metadata !== undefined) pi.metadata = mergeMetadata(pi.metadata, p.metadata);
  if (p.customer !== undefined) pi.customer = store.get('customers', p.customer, 'customer').id;
  if (p.setup_future_usage !== undefined) pi.setup_future_usage = p.setup_future_usage || null;
  if (p.payment_method !== undefined) {
    // Unlike create/confirm, update does not attach a `pm_card_*` alias to the customer.
    const pm = resolvePm(store, String(p.payment_method));
    checkPmForCustomer(store, pm, pi.customer);
    pi.payment_method = pm.id;
    pi.status = 'requires_confirmation';
  }
  return pi;
}

/** POST /v1/payment_intents/:id/confirm. @param {Store} store @param {string} id @param {Obj} p */
export function confirmPaymentIntentById(store, id, p) {
  const pi = store.get('paymentIntents', id);
  if (p.payment_method) pi.payment_method = paymentMethodFor(store, String(p.payment_method), pi.customer).id;
  if (p.setup_future_usage !== undefined) pi.setup_future_usage = p.setup_future_usage || null;
  confirmPaymentIntent(store, pi, { offSession: isOffSession(p.off_session) });
  return pi;
}

/** @param {Store} store @param {string} id @param {Obj} p */
export function cancelPaymentIntent(store, id, p) {
  const pi = store.get('paymentIntents', id);
  if (['succeeded', 'canceled', 'processing'].includes(pi.status)) {
    throw invalid(
      `You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.`,
      undefined,
      'payment_intent_unexpected_state',
    );
  }
  pi.status = 'canceled';
  pi.canceled_at = store.now();
  pi.cancellation_reason = p.cancellation_reason ?? null;
  pi.next_action = null;
  store.emit('payment_intent.canceled', pi);
  return pi;
}

/**
 * Confirm a PaymentIntent against its payment method. Throws a saved 402 SimError on decline.
 * @param {Store} store @param {Obj} pi @param {{ offSession: boolean, checkoutSession?: Obj }} o
 */
export function confirmPaymentIntent(store, pi, o) {
  if (!['requires_payment_method', 'requires_confirmation', 'requires_action'].includes(pi.status)) {
    throw invalid(`You cannot confirm this PaymentIntent because it has a status of ${pi.status}.`, undefined, 'payment_intent_unexpected_state');
  }
  if (!pi.payment_method) throw invalid("You cannot confirm this PaymentIntent because it's missing a payment method.", 'payment_method', 'payment_intent_unexpected_state');
  const pm = store.get('paymentMethods', pi.payment_method, 'payment_method');
  if (pm.type === 'us_bank_account') return debitBankAccount(store, pi, pm);
  const card = store.pmCard.get(pm.id) ?? { number: '4242424242424242', alias: 'pm_card_visa', brand: 'visa', behavior: 'success' };
  pi.last_payment_error = null;
  pi.next_action = null;
  if (!pm.customer) store.pmConsumed.add(pm.id);

  /** @param {{ code: string, decline_code: string, message: string }} f */
  const fail = (f) => {
    const ch = createCharge(store, pi, pm, card, f);
    pi.status = 'requires_payment_method';
    pi.latest_charge = ch.id;
    pi.last_payment_error = {
      charge: ch.id,
      code: f.code,
      decline_code: f.decline_code,
      doc_url: `https://stripe.com/docs/error-codes/${f.code.replace(/_/g, '-')}`,
      message: f.message,
      payment_method: clone(pm),
      type: 'card_error',
    };
    store.counters.paymentIntentsFailed++;
    store.emit('charge.failed', ch);
    store.emit('payment_intent.payment_failed', pi);
    const { payment_method: _pm, ...rest } = pi.last_payment_error;
    throw cardError({ ...rest, payment_intent: clone(pi), payment_method: clone(pm) });
  };

  const needsAuth = card.behavior === 'auth_always' || (card.behavior === 'auth_setup' && !o.offSession);
  if (needsAuth) {
    if (o.offSession) {
      fail({ code: 'authentication_required', decline_code: 'authentication_required', message: 'Your card was declined. This transaction requires authentication.' });
    }
    pi.status = 'requires_action';
    pi.next_action = {
      type: 'use_stripe_sdk',
      use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: `${store.baseUrl}/_sim/3ds/${pi.id}`, source: `src_${rand(24)}` },
    };
    store.emit('payment_intent.requires_action', pi);
    return pi;
  }
  if (card.behavior === 'decline' || card.behavior === 'charge_fail') {
    fail({ code: card.code ?? 'card_declined', decline_code: card.decline_code ?? 'generic_decline', message: card.message ?? 'Your card was declined.' });
  }
  // success / dispute
  const ch = createCharge(store, pi, pm, card, null);
  pi.status = 'succeeded';
  pi.amount_received = pi.amount;
  pi.latest_charge = ch.id;
  if (pi.setup_future_usage && pi.customer && !pm.customer) {
    pm.customer = pi.customer;
    store.pmConsumed.delete(pm.id);
    store.emit('payment_method.attached', pm);
  }
  store.counters.paymentIntentsSucceeded++;
  store.emit('charge.succeeded', ch);
  store.emit('payment_intent.succeeded', pi);
  if (card.behavior === 'dispute') disputeLater(store, ch, card.dispute);
  return pi;
}

/**
 * Confirm with a US bank account: the PaymentIntent goes to `processing` and its charge is `pending` until the bank
 * answers (https://docs.stripe.com/payments/paymentintents/lifecycle: "processing … for payment methods with
 * delayed notification, such as ACH"), `payment_intent.processing` and `charge.pending` now, the outcome
 * `store.bankDelayMs` later unless the test account stays processing (`pm_usBankAccount_processing`).
 * @param {Store} store @param {Obj} pi @param {Obj} pm
 */
function debitBankAccount(store, pi, pm) {
  const types = pi.payment_method_types ?? [];
  if (!types.includes('us_bank_account') && !pi.automatic_payment_methods?.enabled) {
    throw invalid(
      `The PaymentMethod provided (us_bank_account) is not allowed for this PaymentIntent. Please attach a PaymentMethod of one of the following types: ${types.join(', ')}. Alternatively update the allowed payment_method_types for this PaymentIntent to include "us_bank_account".`,
      'payment_method',
      'payment_intent_unexpected_state',
    );
  }
  if (!pm.customer) store.pmConsumed.add(pm.id);
  const ch = createCharge(store, pi, pm, null, null, { pending: true });
  pi.status = 'processing';
  pi.latest_charge = ch.id;
  store.emit('charge.pending', ch);
  store.emit('payment_intent.processing', pi);
  const bank = store.pmBank.get(pm.id);
  if (bank && bank.outcome !== 'processing') {
    store.later(store.bankDelayMs, () => {
      if (pi.status === 'processing') settleBankDebit(store, pi.id, bank.outcome === 'succeeded' ? 'succeeded' : 'failed');
    });
  }
  return pi;
}

/**
 * The bank's answer to a `processing` debit (the timer above, or POST /_sim/payment_intents/:id/settle): the
 * PaymentIntent succeeds, or fails back to `requires_payment_method` with `last_payment_error`
 * (https://docs.stripe.com/payments/ach-direct-debit/accept-a-payment#test-integration).
 * @param {Store} store @param {string} id @param {'succeeded'|'failed'|string} outcome
 */
export function settleBankDebit(store, id, outcome) {
  const pi = store.get('paymentIntents', id);
  if (pi.status !== 'processing') throw invalid(`This PaymentIntent is not processing (status: ${pi.status}).`, undefined, 'payment_intent_unexpected_state');
  if (!['succeeded', 'failed'].includes(outcome)) throw invalid("outcome must be 'succeeded' or 'failed'", 'outcome');
  const ch = store.get('charges', pi.latest_charge);
  const pm = store.paymentMethods.get(pi.payment_method);
  const bank = store.pmBank.get(pi.payment_method);
  if (outcome === 'succeeded') {
    settleCharge(store, ch, null);
    pi.status = 'succeeded';
    pi.amount_received = pi.amount;
    store.counters.paymentIntentsSucceeded++;
    store.emit('charge.succeeded', ch);
    store.emit('payment_intent.succeeded', pi);
    return pi;
  }
  const code = bank?.outcome === 'failed' && bank.code ? bank.code : 'insufficient_funds';
  const message = bank?.outcome === 'failed' && bank.message ? bank.message : 'The bank account has insufficient funds.';
  settleCharge(store, ch, { code, message });
  pi.status = 'requires_payment_method';
  pi.last_payment_error = {
    charge: ch.id,
    code,
    doc_url: `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}`,
    message,
    payment_method: clone(pm),
    type: 'invalid_request_error',
  };
  store.counters.paymentIntentsFailed++;
  store.emit('charge.failed', ch);
  store.emit('payment_intent.payment_failed', pi);
  return pi;
}

/** PaymentIntents for GET /v1/payment_intents (`customer` filter). @param {Store} store @param {Obj} p */
export const listPaymentIntents = (store, p) => [...store.paymentIntents.values()].filter((x) => !p.customer || x.customer === p.customer);
