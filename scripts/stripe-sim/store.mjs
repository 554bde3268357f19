// The simulator's in-memory state: every Stripe object by id, the event log, and the hidden (non-API) data
// the resources keep beside the public objects. Resource behaviour lives in ./resources/*.mjs and works on
// this store. All request handlers are synchronous so that a request executes atomically (no interleaving),
// which keeps idempotency handling simple and deterministic.
import { Clock } from './clock.mjs';
import { SimError, clone, newId } from './lib.mjs';

export const DEFAULT_API_VERSION = '2026-10-28.endive';

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {{ id: string | null, idempotency_key: string | null }} RequestInfo
 * @typedef {'customers'|'products'|'prices'|'sessions'|'paymentIntents'|'paymentMethods'|'charges'|'refunds'|'disputes'|'eventsById'} MapName
 */

/** Id prefix → store map → the name Stripe uses in "No such …" messages. */
const PREFIX_KIND = /** @type {const} */ ([
  ['cus_', 'customers', 'customer'],
  ['prod_', 'products', 'product'],
  ['price_', 'prices', 'price'],
  ['cs_', 'sessions', 'checkout.session'],
  ['pi_', 'paymentIntents', 'payment_intent'],
  ['pm_', 'paymentMethods', 'payment_method'],
  ['ch_', 'charges', 'charge'],
  ['re_', 'refunds', 'refund'],
  ['dp_', 'disputes', 'dispute'],
  ['evt_', 'eventsById', 'event'],
]);

export class Store {
  /**
   * @param {{ apiVersion?: string, baseUrl?: string, disputeDelayMs?: number, refundDelayMs?: number, bankDelayMs?: number,
   *   clock?: Clock, onEvent?: (event: Obj, payload: string) => void, pendingWebhooks?: (type: string) => number }} opts
   */
  constructor(opts = {}) {
    this.apiVersion = opts.apiVersion ?? DEFAULT_API_VERSION;
    /** Simulated time (tests move it forward through POST /_sim/clock). */
    this.clock = opts.clock ?? new Clock();
    /** Origin of the simulator (set once it listens), for URLs inside objects (checkout url, receipt_url). */
    this.baseUrl = opts.baseUrl ?? '';
    this.disputeDelayMs = opts.disputeDelayMs ?? 500;
    /** Delay before a refund of a `pm_card_pendingRefund` / `pm_card_refundFail` charge settles (test cards). */
    this.refundDelayMs = opts.refundDelayMs ?? 500;
    /** Delay before a US bank account debit leaves `processing` (`pm_usBankAccount_*` test tokens). */
    this.bankDelayMs = opts.bankDelayMs ?? 1000;
    this.onEvent = opts.onEvent ?? (() => {});
    this.pendingWebhooks = opts.pendingWebhooks ?? (() => 1);
    /** @type {RequestInfo} set by the API pipeline while a request executes; stamped on events */
    this.request = { id: null, idempotency_key: null };
    /** @type {Set<ReturnType<typeof setTimeout>>} delayed work (disputes opened after a charge, refunds and bank debits settling) */
    this.timers = new Set();
    /** @type {Map<string, Obj>} */ this.customers = new Map();
    /** @type {Map<string, Obj>} */ this.products = new Map();
    /** @type {Map<string, Obj>} */ this.prices = new Map();
    /** @type {Map<string, Obj>} */ this.sessions = new Map();
    /** @type {Map<string, Obj>} */ this.paymentIntents = new Map();
    /** @type {Map<string, Obj>} */ this.paymentMethods = new Map();
    /** @type {Map<string, Obj>} */ this.charges = new Map();
    /** @type {Map<string, Obj>} */ this.refunds = new Map();
    /** @type {Map<string, Obj>} */ this.disputes = new Map();
    /** @type {Obj[]} */ this.events = [];
    /** @type {Map<string, Obj>} */ this.eventsById = new Map();
    /** @type {Map<string, string>} event id -> exact payload delivered */
    this.payloads = new Map();
    // Hidden (non-API) data kept beside the public objects.
    /** @type {Map<string, import('./cards.mjs').TestCard>} pm id -> card */
    this.pmCard = new Map();
    /** @type {Map<string, import('./bank-accounts.mjs').TestBankAccount>} pm id -> test bank account */
    this.pmBank = new Map();
    /** @type {Set<string>} pm ids used for a payment while not attached to a customer */
    this.pmConsumed = new Set();
    /** @type {Map<string, Obj[]>} session id -> line items */
    this.lineItems = new Map();
    /** @type {Set<string>} ad-hoc products/prices made from price_data (hidden from lists) */
    this.adhoc = new Set();
    /** @type {Map<string, Obj>} session id -> payment_intent_data */
    this.sessionPiData = new Map();
    this.counters = { paymentIntentsCreated: 0, paymentIntentsSucceeded: 0, paymentIntentsFailed: 0, chargesSucceeded: 0, chargesFailed: 0 };
  }

  /** Simulated unix seconds, for every timestamp the simulator writes. */
  now() {
    return this.clock.now();
  }

  /**
   * Run `fn` later, as the card network or the bank would (outside any API request); forgotten on reset.
   * @param {number} ms @param {() => void} fn
   */
  later(ms, fn) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.outsideRequest(fn);
    }, ms);
    this.timers.add(t);
  }

  reset() {
    this.clock.reset();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const m of [this.customers, this.products, this.prices, this.sessions, this.paymentIntents, this.paymentMethods, this.charges, this.refunds, this.disputes, this.eventsById, this.payloads, this.pmCard, this.pmBank, this.pmConsumed, this.lineItems, this.adhoc, this.sessionPiData]) m.clear();
    this.events.length = 0;
    for (const k of Object.keys(this.counters)) this.counters[/** @type {keyof Store['counters']} */ (k)] = 0;
  }

  /** Any stored object by its id (the prefix picks the map). @param {string} id */
  lookupAny(id) {
    for (const [prefix, map] of PREFIX_KIND) {
      if (id.startsWith(prefix)) return /** @type {Map<string, Obj>} */ (this[map]).get(id);
    }
    return undefined;
  }

  /**
   * An object by id, or Stripe's resource_missing error.
   * @param {MapName} map
   * @param {string} id
   * @param {string} [param] when the id came from a request parameter (→ 400 instead of 404)
   */
  get(map, id, param) {
    const obj = this[map].get(id);
    if (obj) return obj;
    const kind = PREFIX_KIND.find((p) => p[1] === map)?.[2] ?? 'object';
    throw new SimError(param ? 400 : 404, {
      type: 'invalid_request_error',
      code: 'resource_missing',
      message: `No such ${kind}: '${id}'`,
      param: param ?? 'id',
    });
  }

  /**
   * Record a Stripe event (snapshot of `obj`) and hand it to the webhook dispatcher.
   * @param {string} type @param {Obj} obj @param {Obj} [previous]
   */
  emit(type, obj, previous) {
    /** @type {Obj} */
    const event = {
      id: newId('evt'),
      object: 'event',
      api_version: this.apiVersion,
      created: this.now(),
      data: previous ? { object: clone(obj), previous_attributes: clone(previous) } : { object: clone(obj) },
      livemode: false,
      pending_webhooks: this.pendingWebhooks(type),
      request: { ...this.request },
      type,
    };
    this.events.push(event);
    this.eventsById.set(event.id, event);
    const payload = JSON.stringify(event, null, 2);
    this.payloads.set(event.id, payload);
    this.onEvent(event, payload);
    return event;
  }

  /**
   * Run `fn` as if no API request caused it (events get `request: { id: null, idempotency_key: null }`),
   * e.g. a dispute the card network opens later.
   * @template T @param {() => T} fn @returns {T}
   */
  outsideRequest(fn) {
    const saved = this.request;
    this.request = { id: null, idempotency_key: null };
    try {
      return fn();
    } finally {
      this.request = saved;
    }
  }

  /** Counts for GET /_sim/state. */
  summary() {
    const countBy = (/** @type {Map<string, Obj>} */ m, /** @type {string} */ k) => {
      /** @type {Record<string, number>} */
      const out = { total: m.size };
      for (const o of m.values()) out[o[k]] = (out[o[k]] ?? 0) + 1;
      return out;
    };
    const pubProducts = [...this.products.keys()].filter((id) => !this.adhoc.has(id)).length;
    const pubPrices = [...this.prices.keys()].filter((id) => !this.adhoc.has(id)).length;
    /** @type {Record<string, number>} */
    const events = { total: this.events.length };
    for (const e of this.events) events[e.type] = (events[e.type] ?? 0) + 1;
    return {
      customers: this.customers.size,
      products: pubProducts,
      prices: pubPrices,
      checkout_sessions: countBy(this.sessions, 'status'),
      payment_intents: { ...countBy(this.paymentIntents, 'status'), created: this.counters.paymentIntentsCreated, succeeded_total: this.counters.paymentIntentsSucceeded, failed_attempts: this.counters.paymentIntentsFailed },
      payment_methods: { total: this.paymentMethods.size, attached: [...this.paymentMethods.values()].filter((p) => p.customer).length },
      charges: { total: this.charges.size, succeeded: this.counters.chargesSucceeded, failed: this.counters.chargesFailed, refunded_amount: [...this.charges.values()].reduce((a, c) => a + c.amount_refunded, 0) },
      refunds: this.refunds.size,
      disputes: countBy(this.disputes, 'status'),
      events,
    };
  }
}
