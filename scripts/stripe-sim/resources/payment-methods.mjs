// PaymentMethods: cards (from test card numbers, tokens or `pm_card_*` aliases) and US bank accounts (the
// `pm_usBankAccount_*` test tokens, ../bank-accounts.mjs); attach/detach.
import { BANK_BY_ACCOUNT, BANK_BY_ALIAS } from '../bank-accounts.mjs';
import { BY_ALIAS, BY_TOKEN, cardForNumber } from '../cards.mjs';
import { cardError, invalid, mergeMetadata, missingParam, newId, toInt } from '../lib.mjs';

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {import('../store.mjs').Store} Store
 */

/**
 * A PaymentMethod's fields, in the order of https://docs.stripe.com/api/payment_methods/object (keys checked against
 * Stripe's fixtures by test/scripts/stripe-sim/contract.test.ts), with the `type`-named details in their place.
 * @param {Store} store @param {'card' | 'us_bank_account'} type @param {Obj} details
 * @param {{ name?: string | null, email?: string | null, metadata?: Obj }} extra @param {string | null} defaultName
 */
function newPm(store, type, details, extra, defaultName) {
  return {
    id: newId('pm'),
    object: 'payment_method',
    allow_redisplay: 'unspecified',
    billing_details: {
      address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null },
      email: extra.email ?? null,
      name: extra.name ?? defaultName,
      phone: null,
      tax_id: null,
    },
    ...(type === 'card' ? { card: details } : {}),
    created: store.now(),
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: extra.metadata ?? {},
    type,
    ...(type === 'us_bank_account' ? { us_bank_account: details } : {}),
  };
}

/** A stable fingerprint for a card or account number (same number, same fingerprint). @param {string} number */
const fingerprint = (number) => Buffer.from(number).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 16);

/**
 * Create a card PaymentMethod from a test card.
 * @param {Store} store
 * @param {import('../cards.mjs').TestCard} card
 * @param {{ exp_month?: number, exp_year?: number, name?: string | null, email?: string | null, metadata?: Obj }} [extra]
 */
export function newCardPm(store, card, extra = {}) {
  const pm = newPm(
    store,
    'card',
    {
      brand: card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
      country: card.country ?? 'US',
      display_brand: card.brand,
      exp_month: extra.exp_month ?? 12,
      exp_year: extra.exp_year ?? new Date().getFullYear() + 3,
      fingerprint: fingerprint(card.number),
      funding: card.funding ?? 'credit',
      generated_from: null,
      last4: card.number.slice(-4),
      networks: { available: [card.brand], preferred: null },
      regulated_status: 'unregulated',
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    extra,
    null,
  );
  store.paymentMethods.set(pm.id, pm);
  store.pmCard.set(pm.id, card);
  return pm;
}

/**
 * Create a US bank account PaymentMethod from a test account (`us_bank_account` as typed by
 * Stripe.PaymentMethod.UsBankAccount).
 * @param {Store} store @param {import('../bank-accounts.mjs').TestBankAccount} bank @param {{ name?: string | null, email?: string | null, metadata?: Obj }} [extra]
 */
export function newBankPm(store, bank, extra = {}) {
  const pm = newPm(
    store,
    'us_bank_account',
    {
      account_holder_type: 'individual',
      account_type: 'checking',
      bank_name: 'STRIPE TEST BANK',
      financial_connections_account: null,
      fingerprint: fingerprint(bank.account),
      last4: bank.account.slice(-4),
      networks: { preferred: 'ach', supported: ['ach'] },
      routing_number: '110000000',
      status_details: {},
    },
    extra,
    'Jenny Rosen',
  );
  store.paymentMethods.set(pm.id, pm);
  store.pmBank.set(pm.id, bank);
  return pm;
}

/** @param {Store} store @param {Obj} p */
export function createPaymentMethod(store, p) {
  if (p.type === 'us_bank_account') {
    const acct = String(p.us_bank_account?.account_number ?? '');
    const bank = BANK_BY_ACCOUNT.get(acct) ?? (acct ? { alias: '', account: acct, outcome: /** @type {const} */ ('succeeded') } : null);
    if (!bank) throw missingParam('us_bank_account[account_number]');
    return newBankPm(store, bank, { name: p.billing_details?.name ?? null, email: p.billing_details?.email ?? null, metadata: mergeMetadata({}, p.metadata) });
  }
  if ((p.type ?? 'card') !== 'card') throw invalid(`The payment method type \`${p.type}\` is not supported by the simulator.`, 'type');
  const c = p.card ?? {};
  /** @type {import('../cards.mjs').TestCard | null | undefined} */
  let card;
  if (c.token) card = BY_TOKEN.get(String(c.token));
  else if (c.number) card = cardForNumber(String(c.number));
  else throw missingParam('card');
  if (!card) throw cardError({ code: 'incorrect_number', message: 'Your card number is incorrect.', param: 'card[number]' }, false);
  return newCardPm(store, card, {
    exp_month: toInt(c.exp_month, 'card[exp_month]'),
    exp_year: toInt(c.exp_year, 'card[exp_year]'),
    name: p.billing_details?.name ?? null,
    email: p.billing_details?.email ?? null,
    metadata: mergeMetadata({}, p.metadata),
  });
}

/**
 * Resolve a payment method id. `pm_card_*` aliases are cloned into a fresh pm_... each time.
 * @param {Store} store @param {string} id @param {string} [param]
 */
export function resolvePm(store, id, param = 'payment_method') {
  const alias = BY_ALIAS.get(id);
  if (alias) return newCardPm(store, alias);
  const bank = BANK_BY_ALIAS.get(id);
  if (bank) return newBankPm(store, bank);
  return store.get('paymentMethods', id, param === 'id' ? undefined : param);
}

/** @param {Store} store @param {string} id @param {Obj} p */
export function updatePaymentMethod(store, id, p) {
  const pm = store.get('paymentMethods', id);
  if (p.metadata !== undefined) pm.metadata = mergeMetadata(pm.metadata, p.metadata);
  if (p.billing_details?.name !== undefined) pm.billing_details.name = p.billing_details.name || null;
  store.emit('payment_method.updated', pm);
  return pm;
}

/**
 * PaymentMethods for GET /v1/payment_methods: a customer's (`customer`, 400 if unknown), else all attached
 * ones; optional `type`.
 * @param {Store} store @param {Obj} p
 */
export function listPaymentMethods(store, p) {
  if (p.customer) store.get('customers', p.customer, 'customer');
  return [...store.paymentMethods.values()].filter((pm) => (!p.customer || pm.customer === p.customer) && (!p.type || pm.type === p.type) && (p.customer || pm.customer));
}

/** @param {Store} store @param {string} pmId @param {string} customerId */
export function attachPaymentMethod(store, pmId, customerId) {
  if (!customerId) throw missingParam('customer');
  const customer = store.get('customers', customerId, 'customer');
  const pm = resolvePm(store, pmId, BY_ALIAS.has(pmId) || BANK_BY_ALIAS.has(pmId) ? 'payment_method' : 'id');
  if (pm.customer === customer.id) return pm;
  if (pm.customer) throw invalid('The payment method you provided has already been attached to a customer.', undefined, 'payment_method_unexpected_state');
  if (store.pmConsumed.has(pm.id)) {
    throw invalid(
      'This PaymentMethod was previously used without being attached to a Customer or was detached from a Customer, and may not be used again.',
      undefined,
      'payment_method_unexpected_state',
    );
  }
  const card = store.pmCard.get(pm.id);
  if (card?.behavior === 'decline') {
    throw cardError({ code: card.code, decline_code: card.decline_code, message: card.message }, false);
  }
  pm.customer = customer.id;
  store.emit('payment_method.attached', pm);
  return pm;
}

/** @param {Store} store @param {string} pmId */
export function detachPaymentMethod(store, pmId) {
  const pm = store.get('paymentMethods', pmId);
  if (!pm.customer) throw invalid('The payment method you provided is not attached to a customer so detachment is impossible.', undefined, 'payment_method_unexpected_state');
  const prev = { customer: pm.customer };
  const cust = store.customers.get(pm.customer);
  if (cust && cust.invoice_settings.default_payment_method === pm.id) cust.invoice_settings.default_payment_method = null;
  pm.customer = null;
  store.pmConsumed.add(pm.id);
  store.emit('payment_method.detached', pm, prev);
  return pm;
}
