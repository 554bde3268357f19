// Checkout Sessions (mode=payment): create with line items, expire, and pay as the hosted page does
// (../hosted-page.mjs and the control API both call payCheckoutSession).
import { cardForNumber } from '../cards.mjs';
import { cardError, clone, invalid, mergeMetadata, missingParam, rand, toInt } from '../lib.mjs';
import { createPrice } from './catalog.mjs';
import { createCustomer } from './customers.mjs';
import { newCardPm } from './payment-methods.mjs';
import { confirmPaymentIntent, createPaymentIntent } from './payment-intents.mjs';

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {import('../store.mjs').Store} Store
 */

/** A session's `customer_details` (what the customer entered on the page). @param {string | null} email @param {string | null} name */
const customerDetails = (email, name) => ({ address: null, business_name: null, email, individual_name: null, name, phone: null, tax_exempt: 'none', tax_ids: [] });

/** @param {Store} store @param {Obj} p */
export function createCheckoutSession(store, p) {
  const mode = p.mode;
  if (!mode) throw missingParam('mode');
  if (mode !== 'payment') throw invalid(`The simulator only supports mode=payment (got '${mode}').`, 'mode');
  const customer = p.customer ? store.get('customers', String(p.customer), 'customer').id : null;
  if (customer && p.customer_email) throw invalid('You may only specify one of these parameters: customer, customer_email.', 'customer_email');
  const items = Array.isArray(p.line_items) ? p.line_items : [];
  if (!items.length) throw invalid('`line_items` is required in `payment` mode.', 'line_items', 'parameter_missing');
  const id = `cs_test_a1${rand(56)}`;
  /** @type {Obj[]} */
  const lineItems = [];
  /** @type {string | null} */
  let currency = null;
  let total = 0;
  items.forEach((li, i) => {
    const quantity = toInt(li.quantity, `line_items[${i}][quantity]`) ?? 1;
    if (quantity < 1) throw invalid('This value must be greater than or equal to 1.', `line_items[${i}][quantity]`);
    /** @type {Obj} */
    let price;
    if (li.price) {
      price = store.get('prices', String(li.price), `line_items[${i}][price]`);
      if (!price.active) throw invalid(`The price specified (${price.id}) is inactive. This field only accepts active prices.`, `line_items[${i}][price]`);
    } else if (li.price_data) {
      const pd = li.price_data;
      if (!pd.product && !pd.product_data) throw missingParam(`line_items[${i}][price_data][product_data]`);
      price = createPrice(store, { ...pd, active: 'false' }, true);
    } else throw invalid('You must specify either `price` or `price_data` for each line item.', `line_items[${i}]`);
    if (currency && price.currency !== currency) throw invalid('All prices must have the same currency.', `line_items[${i}]`);
    currency = price.currency;
    const product = store.products.get(price.product);
    const amount = price.unit_amount * quantity;
    total += amount;
    // Keys as in https://docs.stripe.com/api/checkout/sessions/line_items (checked against Stripe's fixtures).
    lineItems.push({
      id: `li_${rand(24)}`,
      object: 'item',
      adjustable_quantity: null,
      amount_discount: 0,
      amount_subtotal: amount,
      amount_tax: 0,
      amount_total: amount,
      currency: price.currency,
      description: product?.name ?? null,
      metadata: {},
      price: clone(price),
      quantity,
    });
  });
  const pid = p.payment_intent_data ?? {};
  const created = store.now();
  // Keys as in https://docs.stripe.com/api/checkout/sessions/object (checked against Stripe's fixtures by
  // test/scripts/stripe-sim/contract.test.ts). No `line_items`: it is includable, sent only when expanded
  // (https://docs.stripe.com/api/checkout/sessions/line_items, https://docs.stripe.com/expand); ../output.mjs
  // adds it for `expand[]=line_items`.
  const s = {
    id,
    object: 'checkout.session',
    adaptive_pricing: { enabled: false },
    after_expiration: null,
    allow_promotion_codes: null,
    amount_subtotal: total,
    amount_total: total,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: null,
    cancel_url: p.cancel_url ?? null,
    client_reference_id: p.client_reference_id ?? null,
    client_secret: null,
    collected_information: null,
    consent: null,
    consent_collection: null,
    created,
    currency,
    currency_conversion: null,
    custom_fields: [],
    custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
    customer,
    customer_account: null,
    customer_creation: customer ? null : (p.customer_creation ?? 'if_required'),
    customer_details: customer ? customerDetails(store.customers.get(customer)?.email ?? null, null) : null,
    customer_email: p.customer_email ?? null,
    discounts: [],
    expires_at: toInt(p.expires_at, 'expires_at') ?? created + 24 * 3600,
    integration_identifier: null,
    invoice: null,
    invoice_creation: null,
    livemode: false,
    locale: p.locale ?? null,
    managed_payments: null,
    metadata: mergeMetadata({}, p.metadata),
    mode,
    origin_context: null,
    payment_intent: null,
    payment_link: null,
    payment_method_collection: 'if_required',
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_method_types: Array.isArray(p.payment_method_types) ? p.payment_method_types : ['card'],
    payment_status: 'unpaid',
    permissions: null,
    phone_number_collection: { enabled: false },
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: 'open',
    submit_type: p.submit_type ?? null,
    subscription: null,
    success_url: p.success_url ?? null,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: 'hosted',
    url: `${store.baseUrl}/c/pay/${id}`,
    wallet_options: null,
  };
  store.sessions.set(id, s);
  store.lineItems.set(id, lineItems);
  store.sessionPiData.set(id, {
    metadata: mergeMetadata({}, pid.metadata),
    description: pid.description ?? null,
    setup_future_usage: pid.setup_future_usage ?? null,
    receipt_email: pid.receipt_email ?? null,
  });
  return s;
}

/** @param {Store} store @param {string} id */
export function expireCheckoutSession(store, id) {
  const s = store.get('sessions', id);
  if (s.status !== 'open') throw invalid(`Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${s.status}".`, undefined, 'checkout_session_unexpected_state');
  s.status = 'expired';
  s.url = null;
  store.emit('checkout.session.expired', s);
  return s;
}

/** Sessions for GET /v1/checkout/sessions (`customer`, `payment_intent`, `status` filters). @param {Store} store @param {Obj} p */
export const listCheckoutSessions = (store, p) =>
  [...store.sessions.values()].filter(
    (x) => (!p.customer || x.customer === p.customer) && (!p.payment_intent || x.payment_intent === p.payment_intent) && (!p.status || x.status === p.status),
  );

/** A session's line items (404 for an unknown session). @param {Store} store @param {string} id */
export function sessionLineItems(store, id) {
  store.get('sessions', id);
  return store.lineItems.get(id) ?? [];
}

/**
 * Pay a Checkout Session as the hosted page would (on-session).
 * @param {Store} store
 * @param {string} id
 * @param {{ card?: string, expiry?: string, cvc?: string, name?: string, email?: string }} f
 * @returns {{ session: Obj, paymentIntent: Obj, redirect: string | null }}
 */
export function payCheckoutSession(store, id, f) {
  const s = store.get('sessions', id);
  if (s.status === 'open' && s.expires_at <= store.now()) expireCheckoutSession(store, id);
  if (s.status !== 'open') throw invalid(`This Checkout Session is no longer active (status: ${s.status}).`, undefined, 'checkout_session_unexpected_state');
  const card = cardForNumber(f.card ?? '');
  if (!card) throw cardError({ code: 'incorrect_number', message: 'Your card number is incorrect.', param: 'number' }, false);
  const exp = String(f.expiry ?? '12/34').match(/^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/);
  if (!exp) throw cardError({ code: 'invalid_expiry_year', message: "Your card's expiration date is incomplete.", param: 'exp_year' }, false);
  const expMonth = Number(exp[1]);
  const expYear = exp[2].length === 2 ? 2000 + Number(exp[2]) : Number(exp[2]);
  if (expMonth < 1 || expMonth > 12) throw cardError({ code: 'invalid_expiry_month', message: "Your card's expiration month is invalid.", param: 'exp_month' }, false);
  const d = new Date();
  if (expYear < d.getFullYear() || (expYear === d.getFullYear() && expMonth < d.getMonth() + 1)) {
    throw cardError({ code: 'invalid_expiry_year', message: "Your card's expiration year is in the past.", param: 'exp_year' }, false);
  }
  if (!/^\d{3,4}$/.test(String(f.cvc ?? '123').trim())) throw cardError({ code: 'incomplete_cvc', message: "Your card's security code is incomplete.", param: 'cvc' }, false);

  const pid = store.sessionPiData.get(id) ?? { metadata: {} };
  const email = f.email || s.customer_email || (s.customer ? store.customers.get(s.customer)?.email : null) || null;
  const name = f.name || null;
  if (!s.customer && (pid.setup_future_usage || s.customer_creation === 'always')) {
    s.customer = createCustomer(store, { email, name }).id;
  }
  const pm = newCardPm(store, card, { exp_month: expMonth, exp_year: expYear, name, email });
  /** @type {Obj} */
  let pi;
  if (s.payment_intent) {
    // A retry after a decline reuses the session's PaymentIntent.
    pi = store.get('paymentIntents', s.payment_intent);
    pi.payment_method = pm.id;
  } else {
    pi = createPaymentIntent(
      store,
      {
        amount: s.amount_total,
        currency: s.currency,
        customer: s.customer ?? undefined,
        metadata: pid.metadata,
        description: pid.description ?? undefined,
        setup_future_usage: pid.setup_future_usage ?? undefined,
        receipt_email: pid.receipt_email ?? undefined,
      },
      { internal: true },
    );
    pi.payment_method = pm.id;
    s.payment_intent = pi.id;
  }
  confirmPaymentIntent(store, pi, { offSession: false, checkoutSession: s });
  if (pi.status === 'requires_action') {
    // The simulator cannot perform 3-D Secure: treat as a failed authentication.
    pi.status = 'requires_payment_method';
    pi.next_action = null;
    pi.last_payment_error = {
      code: 'payment_intent_authentication_failure',
      doc_url: 'https://stripe.com/docs/error-codes/payment-intent-authentication-failure',
      message: 'We are unable to authenticate your payment method. Please choose a different payment method and try again.',
      payment_method: clone(pm),
      type: 'invalid_request_error',
    };
    store.counters.paymentIntentsFailed++;
    store.emit('payment_intent.payment_failed', pi);
    throw cardError({
      code: 'payment_intent_authentication_failure',
      message: 'This card requires 3D Secure authentication, which the Stripe simulator cannot perform. Please use a different card.',
      payment_intent: clone(pi),
    });
  }
  s.status = 'complete';
  s.payment_status = 'paid';
  s.customer_details = customerDetails(email, name);
  store.emit('checkout.session.completed', s);
  const redirect = s.success_url ? String(s.success_url).replaceAll('{CHECKOUT_SESSION_ID}', s.id) : null;
  return { session: s, paymentIntent: pi, redirect };
}
