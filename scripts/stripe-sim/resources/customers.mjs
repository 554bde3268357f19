// Customers: create/update/delete, search, and the customer's saved PaymentMethods.
// Shapes follow docs.stripe.com/api/customers/object; search is docs.stripe.com/api/customers/search (held to
// Stripe's published fixtures by test/scripts/stripe-sim/contract.test.ts).
import { clone, invalid, mergeMetadata, newId, rand } from '../lib.mjs';
import { attachPaymentMethod } from './payment-methods.mjs';

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {import('../store.mjs').Store} Store
 */

/** @param {Store} store @param {Obj} p */
export function createCustomer(store, p) {
  const c = {
    id: newId('cus'),
    object: 'customer',
    address: null,
    balance: 0,
    created: store.now(),
    currency: null,
    default_source: null,
    delinquent: false,
    description: p.description ?? null,
    discount: null,
    email: p.email ?? null,
    invoice_prefix: rand(8).toUpperCase(),
    invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
    livemode: false,
    metadata: mergeMetadata({}, p.metadata),
    name: p.name ?? null,
    next_invoice_sequence: 1,
    phone: p.phone ?? null,
    preferred_locales: [],
    shipping: null,
    tax_exempt: 'none',
    test_clock: null,
  };
  store.customers.set(c.id, c);
  if (p.payment_method) {
    const pm = attachPaymentMethod(store, String(p.payment_method), c.id);
    if (p.invoice_settings?.default_payment_method === p.payment_method) c.invoice_settings.default_payment_method = pm.id;
  }
  if (p.invoice_settings?.default_payment_method && !c.invoice_settings.default_payment_method) {
    setDefaultPm(store, c, String(p.invoice_settings.default_payment_method));
  }
  store.emit('customer.created', c);
  return c;
}

/** @param {Store} store @param {Obj} c @param {string} pmId */
function setDefaultPm(store, c, pmId) {
  if (pmId === '') {
    c.invoice_settings.default_payment_method = null;
    return;
  }
  const pm = store.paymentMethods.get(pmId);
  if (!pm || pm.customer !== c.id) {
    throw invalid(
      `No such PaymentMethod: '${pmId}'; It's possible this PaymentMethod exists on one of your connected accounts, in which case you should retry this request on that connected account.`,
      'invoice_settings[default_payment_method]',
      'resource_missing',
    );
  }
  c.invoice_settings.default_payment_method = pmId;
}

/** @param {Store} store @param {string} id @param {Obj} p */
export function updateCustomer(store, id, p) {
  const c = store.get('customers', id);
  const before = clone(c);
  for (const k of ['email', 'name', 'description', 'phone']) if (p[k] !== undefined) c[k] = p[k] === '' ? null : p[k];
  if (p.metadata !== undefined) c.metadata = mergeMetadata(c.metadata, p.metadata);
  if (p.invoice_settings?.default_payment_method !== undefined) setDefaultPm(store, c, String(p.invoice_settings.default_payment_method));
  /** @type {Obj} */
  const prev = {};
  for (const k of Object.keys(c)) if (JSON.stringify(before[k]) !== JSON.stringify(c[k])) prev[k] = before[k];
  if (Object.keys(prev).length) store.emit('customer.updated', c, prev);
  return c;
}

/** @param {Store} store @param {string} id */
export function deleteCustomer(store, id) {
  const c = store.get('customers', id);
  store.customers.delete(id);
  for (const pm of store.paymentMethods.values()) if (pm.customer === id) pm.customer = null;
  store.emit('customer.deleted', c);
  return { id, object: 'customer', deleted: true };
}

/** Customers for GET /v1/customers (`email` filter). @param {Store} store @param {Obj} p */
export const listCustomers = (store, p) => [...store.customers.values()].filter((x) => p.email === undefined || x.email === p.email);

/**
 * Tiny subset of the search query language: `field:'v'`, `metadata['k']:'v'`, joined by AND; newest first.
 * @param {Store} store @param {Obj} p
 */
export function searchCustomers(store, p) {
  const clauses = [...String(p.query ?? '').matchAll(/(\w+)(?:\[['"]([^'"]+)['"]\])?\s*:\s*['"]([^'"]*)['"]/g)];
  if (!clauses.length) throw invalid('Invalid search query.', 'query');
  const found = [...store.customers.values()].filter((c) =>
    clauses.every(([, field, key, value]) => (key ? c[field]?.[key] === value : String(c[field] ?? '') === value)),
  );
  return {
    object: 'search_result',
    data: clone(found.reverse().slice(0, Number(p.limit ?? 10))),
    has_more: false,
    next_page: null,
    url: '/v1/customers/search',
  };
}

/** A customer's PaymentMethods (optionally of one `type`). @param {Store} store @param {string} id @param {Obj} p */
export function listCustomerPaymentMethods(store, id, p) {
  store.get('customers', id);
  return [...store.paymentMethods.values()].filter((pm) => pm.customer === id && (!p.type || pm.type === p.type));
}

/** One of a customer's PaymentMethods. @param {Store} store @param {string} id @param {string} pmId */
export function retrieveCustomerPaymentMethod(store, id, pmId) {
  const pm = store.get('paymentMethods', pmId);
  if (pm.customer !== id) throw invalid(`No such PaymentMethod: '${pmId}'`, 'payment_method', 'resource_missing');
  return pm;
}
