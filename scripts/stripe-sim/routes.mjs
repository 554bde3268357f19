// The /v1 routing table: method + path → the resource function that does the work. Handlers only pick
// parameters and shape output (expand, lists); behaviour lives in ./resources/*.mjs.
import { list, out } from './output.mjs';
import { createPrice, createProduct, listPrices, listProducts, updatePrice, updateProduct } from './resources/catalog.mjs';
import { listCharges } from './resources/charges.mjs';
import { createCheckoutSession, expireCheckoutSession, listCheckoutSessions, sessionLineItems } from './resources/checkout-sessions.mjs';
import {
  createCustomer,
  deleteCustomer,
  listCustomerPaymentMethods,
  listCustomers,
  retrieveCustomerPaymentMethod,
  searchCustomers,
  updateCustomer,
} from './resources/customers.mjs';
import { closeDispute, listDisputes, updateDispute } from './resources/disputes.mjs';
import { listEvents } from './resources/events.mjs';
import { cancelPaymentIntent, confirmPaymentIntentById, createPaymentIntent, listPaymentIntents, updatePaymentIntent } from './resources/payment-intents.mjs';
import { attachPaymentMethod, createPaymentMethod, detachPaymentMethod, listPaymentMethods, resolvePm, updatePaymentMethod } from './resources/payment-methods.mjs';
import { createRefund, listRefunds } from './resources/refunds.mjs';

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {{ store: import('./store.mjs').Store, method: string, path: string, p: Obj, params: Record<string, string> }} Ctx
 *   p: query and body parameters merged; params: decoded path parameters
 * @typedef {(c: Ctx) => Obj} Handler
 */

/** One object, with `expand` applied. @param {Ctx} c @param {Obj} o */
const one = (c, o) => out(c.store, o, c.p.expand);
/** A list object (newest first, paginated, `expand` applied). @param {Ctx} c @param {Obj[]} items */
const many = (c, items) => list(c.store, items, c.p, c.path);

/** @type {import('./router.mjs').Route<Handler>[]} */
export const apiRoutes = [
  ['POST', '/v1/customers', (c) => one(c, createCustomer(c.store, c.p))],
  ['GET', '/v1/customers', (c) => many(c, listCustomers(c.store, c.p))],
  ['GET', '/v1/customers/search', (c) => searchCustomers(c.store, c.p)],
  ['GET', '/v1/customers/:id', (c) => one(c, c.store.get('customers', c.params.id))],
  ['POST', '/v1/customers/:id', (c) => one(c, updateCustomer(c.store, c.params.id, c.p))],
  ['DELETE', '/v1/customers/:id', (c) => deleteCustomer(c.store, c.params.id)],
  ['GET', '/v1/customers/:id/payment_methods', (c) => many(c, listCustomerPaymentMethods(c.store, c.params.id, c.p))],
  ['GET', '/v1/customers/:id/payment_methods/:pm', (c) => one(c, retrieveCustomerPaymentMethod(c.store, c.params.id, c.params.pm))],

  ['POST', '/v1/products', (c) => one(c, createProduct(c.store, c.p))],
  ['GET', '/v1/products', (c) => many(c, listProducts(c.store, c.p))],
  ['GET', '/v1/products/:id', (c) => one(c, c.store.get('products', c.params.id))],
  ['POST', '/v1/products/:id', (c) => one(c, updateProduct(c.store, c.params.id, c.p))],

  ['POST', '/v1/prices', (c) => one(c, createPrice(c.store, c.p))],
  ['GET', '/v1/prices', (c) => many(c, listPrices(c.store, c.p))],
  ['GET', '/v1/prices/:id', (c) => one(c, c.store.get('prices', c.params.id))],
  ['POST', '/v1/prices/:id', (c) => one(c, updatePrice(c.store, c.params.id, c.p))],

  ['POST', '/v1/checkout/sessions', (c) => one(c, createCheckoutSession(c.store, c.p))],
  ['GET', '/v1/checkout/sessions', (c) => many(c, listCheckoutSessions(c.store, c.p))],
  ['GET', '/v1/checkout/sessions/:id', (c) => one(c, c.store.get('sessions', c.params.id))],
  // Line items keep their order (oldest first), as Stripe lists them.
  ['GET', '/v1/checkout/sessions/:id/line_items', (c) => list(c.store, sessionLineItems(c.store, c.params.id), c.p, c.path, false)],
  ['POST', '/v1/checkout/sessions/:id/expire', (c) => one(c, expireCheckoutSession(c.store, c.params.id))],

  ['POST', '/v1/payment_intents', (c) => one(c, createPaymentIntent(c.store, c.p))],
  ['GET', '/v1/payment_intents', (c) => many(c, listPaymentIntents(c.store, c.p))],
  ['GET', '/v1/payment_intents/:id', (c) => one(c, c.store.get('paymentIntents', c.params.id))],
  ['POST', '/v1/payment_intents/:id', (c) => one(c, updatePaymentIntent(c.store, c.params.id, c.p))],
  ['POST', '/v1/payment_intents/:id/confirm', (c) => one(c, confirmPaymentIntentById(c.store, c.params.id, c.p))],
  ['POST', '/v1/payment_intents/:id/cancel', (c) => one(c, cancelPaymentIntent(c.store, c.params.id, c.p))],

  ['POST', '/v1/payment_methods', (c) => one(c, createPaymentMethod(c.store, c.p))],
  ['GET', '/v1/payment_methods', (c) => many(c, listPaymentMethods(c.store, c.p))],
  ['GET', '/v1/payment_methods/:id', (c) => one(c, resolvePm(c.store, c.params.id, 'id'))],
  ['POST', '/v1/payment_methods/:id', (c) => one(c, updatePaymentMethod(c.store, c.params.id, c.p))],
  ['POST', '/v1/payment_methods/:id/attach', (c) => one(c, attachPaymentMethod(c.store, c.params.id, c.p.customer))],
  ['POST', '/v1/payment_methods/:id/detach', (c) => one(c, detachPaymentMethod(c.store, c.params.id))],

  ['GET', '/v1/charges', (c) => many(c, listCharges(c.store, c.p))],
  ['GET', '/v1/charges/:id', (c) => one(c, c.store.get('charges', c.params.id))],

  ['POST', '/v1/refunds', (c) => one(c, createRefund(c.store, c.p))],
  ['GET', '/v1/refunds', (c) => many(c, listRefunds(c.store, c.p))],
  ['GET', '/v1/refunds/:id', (c) => one(c, c.store.get('refunds', c.params.id))],

  ['GET', '/v1/disputes', (c) => many(c, listDisputes(c.store, c.p))],
  ['GET', '/v1/disputes/:id', (c) => one(c, c.store.get('disputes', c.params.id))],
  ['POST', '/v1/disputes/:id', (c) => one(c, updateDispute(c.store, c.params.id, c.p))],
  // Closing a dispute concedes it: Stripe marks a chargeback lost, an inquiry warning_closed.
  ['POST', '/v1/disputes/:id/close', (c) => one(c, closeDispute(c.store, c.params.id, 'concede'))],

  ['GET', '/v1/events', (c) => many(c, listEvents(c.store, c.p))],
  ['GET', '/v1/events/:id', (c) => one(c, c.store.get('eventsById', c.params.id))],
];
