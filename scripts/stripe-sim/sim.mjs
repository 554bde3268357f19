// In-memory Stripe state and the business logic behind the simulated API.
// All handlers are synchronous so that a request executes atomically (no interleaving),
// which keeps idempotency handling simple and deterministic.
import { randomBytes } from 'node:crypto';
import { BY_ALIAS, BY_NUMBER, BY_TOKEN, cardForNumber } from './cards.mjs';

export const DEFAULT_API_VERSION = '2026-10-28.endive';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** @param {number} n */
export function rand(n) {
  const bytes = randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[bytes[i] % ALNUM.length];
  return s;
}
/** @param {string} prefix */
export const newId = (prefix) => `${prefix}_${rand(24)}`;
export const now = () => Math.floor(Date.now() / 1000);
/** @template T @param {T} v @returns {T} */
export const clone = (v) => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

/** An error answered in Stripe's error shape. */
export class SimError extends Error {
  /**
   * @param {number} status
   * @param {Record<string, any>} error Stripe error object (type, code, message, param, ...)
   * @param {{ save?: boolean }} [opts] save: idempotent result is stored (request began executing)
   */
  constructor(status, error, opts = {}) {
    super(error.message);
    this.status = status;
    this.error = error;
    this.save = opts.save ?? false;
  }
}

/** @param {string} message @param {string} [param] @param {string} [code] */
export function invalid(message, param, code) {
  /** @type {Record<string, any>} */
  const e = { type: 'invalid_request_error', message };
  if (code) e.code = code;
  if (param) e.param = param;
  return new SimError(400, e);
}
/** @param {string} param */
const missingParam = (param) => invalid(`Missing required param: ${param}.`, param, 'parameter_missing');

/** @param {any} v @param {string} param */
function toInt(v, param) {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw invalid(`Invalid integer: ${v}`, param, 'parameter_invalid_integer');
  return n;
}
/** @param {any} v */
const toBool = (v) => v === true || v === 'true';

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

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {{ id: string | null, idempotency_key: string | null }} RequestInfo
 */

export class StripeSim {
  /**
   * @param {{ apiVersion?: string, baseUrl?: string, disputeDelayMs?: number,
   *   onEvent?: (event: Obj, payload: string) => void, pendingWebhooks?: (type: string) => number }} opts
   */
  constructor(opts = {}) {
    this.apiVersion = opts.apiVersion ?? DEFAULT_API_VERSION;
    this.baseUrl = opts.baseUrl ?? '';
    this.disputeDelayMs = opts.disputeDelayMs ?? 500;
    this.onEvent = opts.onEvent ?? (() => {});
    this.pendingWebhooks = opts.pendingWebhooks ?? (() => 1);
    /** @type {RequestInfo} set by the server while an API request executes */
    this.request = { id: null, idempotency_key: null };
    /** @type {Set<ReturnType<typeof setTimeout>>} */
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

  reset() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const m of [this.customers, this.products, this.prices, this.sessions, this.paymentIntents, this.paymentMethods, this.charges, this.refunds, this.disputes, this.eventsById, this.payloads, this.pmCard, this.pmConsumed, this.lineItems, this.adhoc, this.sessionPiData]) m.clear();
    this.events.length = 0;
    for (const k of Object.keys(this.counters)) this.counters[/** @type {keyof StripeSim['counters']} */ (k)] = 0;
  }

  // ---------------------------------------------------------------- helpers

  /** @param {string} id */
  lookupAny(id) {
    for (const [prefix, map] of PREFIX_KIND) {
      if (id.startsWith(prefix)) return /** @type {Map<string, Obj>} */ (this[map]).get(id);
    }
    return undefined;
  }

  /**
   * @param {'customers'|'products'|'prices'|'sessions'|'paymentIntents'|'paymentMethods'|'charges'|'refunds'|'disputes'|'eventsById'} map
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
   * Snapshot an object for output, applying `expand` paths.
   * @param {Obj} obj @param {string[] | string | undefined} expand
   */
  out(obj, expand) {
    const o = clone(obj);
    const paths = Array.isArray(expand) ? expand : typeof expand === 'string' ? [expand] : [];
    for (const p of paths) this.expandPath(o, String(p).split('.'));
    return o;
  }

  /** @param {any} target @param {string[]} segs */
  expandPath(target, segs) {
    if (Array.isArray(target)) {
      for (const t of target) this.expandPath(t, segs);
      return;
    }
    if (!target || typeof target !== 'object' || !segs.length) return;
    const [head, ...rest] = segs;
    let v = target[head];
    if (head === 'line_items' && target.object === 'checkout.session') {
      v = target.line_items = this.list(this.lineItems.get(target.id) ?? [], {}, `/v1/checkout/sessions/${target.id}/line_items`, false);
    } else if (typeof v === 'string') {
      const found = this.lookupAny(v);
      if (found) v = target[head] = clone(found);
    }
    if (rest.length && v) this.expandPath(v, rest);
  }

  /**
   * Stripe list object with limit/starting_after/ending_before pagination.
   * @param {Obj[]} items in creation order (oldest first)
   * @param {Obj} q query params
   * @param {string} url
   * @param {boolean} [newestFirst]
   */
  list(items, q, url, newestFirst = true) {
    let arr = newestFirst ? [...items].reverse() : [...items];
    const limit = Math.min(Math.max(toInt(q.limit, 'limit') ?? 10, 1), 100);
    if (q.starting_after) {
      const i = arr.findIndex((o) => o.id === q.starting_after);
      arr = i >= 0 ? arr.slice(i + 1) : [];
    } else if (q.ending_before) {
      const i = arr.findIndex((o) => o.id === q.ending_before);
      arr = i >= 0 ? arr.slice(Math.max(0, i - limit), i) : [];
      return { object: 'list', data: clone(arr), has_more: i - limit > 0, url };
    }
    const page = arr.slice(0, limit);
    const out = { object: 'list', data: clone(page), has_more: arr.length > limit, url };
    if (q.expand) {
      const paths = Array.isArray(q.expand) ? q.expand : [q.expand];
      for (const p of paths) this.expandPath(out, String(p).split('.'));
    }
    return out;
  }

  /**
   * Merge metadata like Stripe: '' for a key unsets it, '' for the whole hash clears it.
   * @param {Obj} current @param {any} update
   */
  mergeMetadata(current, update) {
    if (update === undefined) return current;
    if (update === '' || update === null) return {};
    if (typeof update !== 'object') throw invalid('Invalid object', 'metadata');
    const m = { ...current };
    for (const [k, v] of Object.entries(update)) {
      if (v === '' || v === null) delete m[k];
      else m[k] = String(v);
    }
    if (Object.keys(m).length > 50) throw invalid('Metadata can have up to 50 keys.', 'metadata');
    return m;
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
      created: now(),
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

  // ---------------------------------------------------------------- customers

  /** @param {Obj} p */
  createCustomer(p) {
    const c = {
      id: newId('cus'),
      object: 'customer',
      address: null,
      balance: 0,
      created: now(),
      currency: null,
      default_source: null,
      delinquent: false,
      description: p.description ?? null,
      discount: null,
      email: p.email ?? null,
      invoice_prefix: rand(8).toUpperCase(),
      invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
      livemode: false,
      metadata: this.mergeMetadata({}, p.metadata),
      name: p.name ?? null,
      next_invoice_sequence: 1,
      phone: p.phone ?? null,
      preferred_locales: [],
      shipping: null,
      tax_exempt: 'none',
      test_clock: null,
    };
    this.customers.set(c.id, c);
    if (p.payment_method) {
      const pm = this.attachPaymentMethod(String(p.payment_method), c.id);
      if (p.invoice_settings?.default_payment_method === p.payment_method) c.invoice_settings.default_payment_method = pm.id;
    }
    if (p.invoice_settings?.default_payment_method && !c.invoice_settings.default_payment_method) {
      this.setDefaultPm(c, String(p.invoice_settings.default_payment_method));
    }
    this.emit('customer.created', c);
    return c;
  }

  /** @param {Obj} c @param {string} pmId */
  setDefaultPm(c, pmId) {
    if (pmId === '') {
      c.invoice_settings.default_payment_method = null;
      return;
    }
    const pm = this.paymentMethods.get(pmId);
    if (!pm || pm.customer !== c.id) {
      throw invalid(
        `No such PaymentMethod: '${pmId}'; It's possible this PaymentMethod exists on one of your connected accounts, in which case you should retry this request on that connected account.`,
        'invoice_settings[default_payment_method]',
        'resource_missing',
      );
    }
    c.invoice_settings.default_payment_method = pmId;
  }

  /** @param {string} id @param {Obj} p */
  updateCustomer(id, p) {
    const c = this.get('customers', id);
    const before = clone(c);
    for (const k of ['email', 'name', 'description', 'phone']) if (p[k] !== undefined) c[k] = p[k] === '' ? null : p[k];
    if (p.metadata !== undefined) c.metadata = this.mergeMetadata(c.metadata, p.metadata);
    if (p.invoice_settings?.default_payment_method !== undefined) this.setDefaultPm(c, String(p.invoice_settings.default_payment_method));
    /** @type {Obj} */
    const prev = {};
    for (const k of Object.keys(c)) if (JSON.stringify(before[k]) !== JSON.stringify(c[k])) prev[k] = before[k];
    if (Object.keys(prev).length) this.emit('customer.updated', c, prev);
    return c;
  }

  /** @param {string} id */
  deleteCustomer(id) {
    const c = this.get('customers', id);
    this.customers.delete(id);
    for (const pm of this.paymentMethods.values()) if (pm.customer === id) pm.customer = null;
    this.emit('customer.deleted', c);
    return { id, object: 'customer', deleted: true };
  }

  /** Tiny subset of the search query language: `field:'v'`, `metadata['k']:'v'`, joined by AND. @param {string} query */
  searchCustomers(query) {
    const clauses = [...String(query ?? '').matchAll(/(\w+)(?:\[['"]([^'"]+)['"]\])?\s*:\s*['"]([^'"]*)['"]/g)];
    if (!clauses.length) throw invalid('Invalid search query.', 'query');
    return [...this.customers.values()].filter((c) =>
      clauses.every(([, field, key, value]) => (key ? c[field]?.[key] === value : String(c[field] ?? '') === value)),
    );
  }

  // ---------------------------------------------------------------- products & prices

  /** @param {Obj} p @param {boolean} [hidden] */
  createProduct(p, hidden = false) {
    if (!p.name) throw missingParam('name');
    const t = now();
    /** @type {Obj} */
    const prod = {
      id: p.id || newId('prod'),
      object: 'product',
      active: p.active === undefined ? true : toBool(p.active),
      created: t,
      default_price: null,
      description: p.description ?? null,
      images: p.images ?? [],
      livemode: false,
      marketing_features: [],
      metadata: this.mergeMetadata({}, p.metadata),
      name: p.name,
      package_dimensions: null,
      shippable: null,
      statement_descriptor: p.statement_descriptor ?? null,
      tax_code: null,
      type: 'service',
      unit_label: p.unit_label ?? null,
      updated: t,
      url: null,
    };
    if (this.products.has(prod.id)) throw invalid(`Product already exists.`, 'id', 'resource_already_exists');
    this.products.set(prod.id, prod);
    if (hidden) this.adhoc.add(prod.id);
    else this.emit('product.created', prod);
    if (p.default_price_data) {
      const price = this.createPrice({ ...p.default_price_data, product: prod.id });
      prod.default_price = price.id;
    }
    return prod;
  }

  /** @param {string} id @param {Obj} p */
  updateProduct(id, p) {
    const prod = this.get('products', id);
    for (const k of ['name', 'description', 'statement_descriptor', 'unit_label']) if (p[k] !== undefined) prod[k] = p[k] === '' ? null : p[k];
    if (p.active !== undefined) prod.active = toBool(p.active);
    if (p.metadata !== undefined) prod.metadata = this.mergeMetadata(prod.metadata, p.metadata);
    if (p.default_price !== undefined) prod.default_price = this.get('prices', p.default_price, 'default_price').id;
    prod.updated = now();
    this.emit('product.updated', prod);
    return prod;
  }

  /** @param {Obj} p @param {boolean} [hidden] */
  createPrice(p, hidden = false) {
    if (!p.currency) throw missingParam('currency');
    const unit = toInt(p.unit_amount, 'unit_amount');
    if (unit === undefined && p.unit_amount_decimal === undefined) throw missingParam('unit_amount');
    if (unit !== undefined && unit < 0) throw invalid('This value must be greater than or equal to 0.', 'unit_amount');
    let productId;
    if (p.product) productId = this.get('products', String(p.product), 'product').id;
    else if (p.product_data) productId = this.createProduct(p.product_data, hidden).id;
    else throw missingParam('product');
    const price = {
      id: newId('price'),
      object: 'price',
      active: p.active === undefined ? true : toBool(p.active),
      billing_scheme: 'per_unit',
      created: now(),
      currency: String(p.currency).toLowerCase(),
      custom_unit_amount: null,
      livemode: false,
      lookup_key: p.lookup_key ?? null,
      metadata: this.mergeMetadata({}, p.metadata),
      nickname: p.nickname ?? null,
      product: productId,
      recurring: p.recurring ? { interval: p.recurring.interval, interval_count: Number(p.recurring.interval_count ?? 1), usage_type: 'licensed', meter: null, trial_period_days: null } : null,
      tax_behavior: p.tax_behavior ?? 'unspecified',
      tiers_mode: null,
      transform_quantity: null,
      type: p.recurring ? 'recurring' : 'one_time',
      unit_amount: unit ?? Math.round(Number(p.unit_amount_decimal)),
      unit_amount_decimal: String(p.unit_amount_decimal ?? unit),
    };
    if (price.lookup_key) {
      for (const other of this.prices.values()) {
        if (other.lookup_key === price.lookup_key) {
          if (!toBool(p.transfer_lookup_key)) throw invalid(`A price (\`${other.id}\`) already uses that lookup key.`, 'lookup_key');
          other.lookup_key = null;
        }
      }
    }
    this.prices.set(price.id, price);
    if (hidden) this.adhoc.add(price.id);
    else this.emit('price.created', price);
    return price;
  }

  /** @param {string} id @param {Obj} p */
  updatePrice(id, p) {
    const price = this.get('prices', id);
    if (p.active !== undefined) price.active = toBool(p.active);
    if (p.nickname !== undefined) price.nickname = p.nickname || null;
    if (p.lookup_key !== undefined) price.lookup_key = p.lookup_key || null;
    if (p.metadata !== undefined) price.metadata = this.mergeMetadata(price.metadata, p.metadata);
    this.emit('price.updated', price);
    return price;
  }

  // ---------------------------------------------------------------- payment methods

  /**
   * Create a card PaymentMethod from a test card.
   * @param {import('./cards.mjs').TestCard} card
   * @param {{ exp_month?: number, exp_year?: number, name?: string | null, email?: string | null, metadata?: Obj }} [extra]
   */
  newCardPm(card, extra = {}) {
    const pm = {
      id: newId('pm'),
      object: 'payment_method',
      allow_redisplay: 'unspecified',
      billing_details: {
        address: { city: null, country: null, line1: null, line2: null, postal_code: null, state: null },
        email: extra.email ?? null,
        name: extra.name ?? null,
        phone: null,
      },
      card: {
        brand: card.brand,
        checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
        country: card.country ?? 'US',
        display_brand: card.brand,
        exp_month: extra.exp_month ?? 12,
        exp_year: extra.exp_year ?? new Date().getFullYear() + 3,
        fingerprint: Buffer.from(card.number).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 16),
        funding: card.funding ?? 'credit',
        generated_from: null,
        last4: card.number.slice(-4),
        networks: { available: [card.brand], preferred: null },
        regulated_status: 'unregulated',
        three_d_secure_usage: { supported: true },
        wallet: null,
      },
      created: now(),
      customer: null,
      livemode: false,
      metadata: extra.metadata ?? {},
      type: 'card',
    };
    this.paymentMethods.set(pm.id, pm);
    this.pmCard.set(pm.id, card);
    return pm;
  }

  /** @param {Obj} p */
  createPaymentMethod(p) {
    if ((p.type ?? 'card') !== 'card') throw invalid(`The payment method type \`${p.type}\` is not supported by the simulator.`, 'type');
    const c = p.card ?? {};
    /** @type {import('./cards.mjs').TestCard | null | undefined} */
    let card;
    if (c.token) card = BY_TOKEN.get(String(c.token));
    else if (c.number) card = cardForNumber(String(c.number));
    else throw missingParam('card');
    if (!card) throw this.cardError({ code: 'incorrect_number', message: 'Your card number is incorrect.', param: 'card[number]' }, false);
    return this.newCardPm(card, {
      exp_month: toInt(c.exp_month, 'card[exp_month]'),
      exp_year: toInt(c.exp_year, 'card[exp_year]'),
      name: p.billing_details?.name ?? null,
      email: p.billing_details?.email ?? null,
      metadata: this.mergeMetadata({}, p.metadata),
    });
  }

  /**
   * Resolve a payment method id. `pm_card_*` aliases are cloned into a fresh pm_... each time.
   * @param {string} id @param {string} [param]
   */
  resolvePm(id, param = 'payment_method') {
    const alias = BY_ALIAS.get(id);
    if (alias) return this.newCardPm(alias);
    return this.get('paymentMethods', id, param === 'id' ? undefined : param);
  }

  /** @param {string} pmId @param {string} customerId */
  attachPaymentMethod(pmId, customerId) {
    if (!customerId) throw missingParam('customer');
    const customer = this.get('customers', customerId, 'customer');
    const pm = this.resolvePm(pmId, BY_ALIAS.has(pmId) ? 'payment_method' : 'id');
    if (pm.customer === customer.id) return pm;
    if (pm.customer) throw invalid('The payment method you provided has already been attached to a customer.', undefined, 'payment_method_unexpected_state');
    if (this.pmConsumed.has(pm.id)) {
      throw invalid(
        'This PaymentMethod was previously used without being attached to a Customer or was detached from a Customer, and may not be used again.',
        undefined,
        'payment_method_unexpected_state',
      );
    }
    const card = this.pmCard.get(pm.id);
    if (card?.behavior === 'decline') {
      throw this.cardError({ code: card.code, decline_code: card.decline_code, message: card.message }, false);
    }
    pm.customer = customer.id;
    this.emit('payment_method.attached', pm);
    return pm;
  }

  /** @param {string} pmId */
  detachPaymentMethod(pmId) {
    const pm = this.get('paymentMethods', pmId);
    if (!pm.customer) throw invalid('The payment method you provided is not attached to a customer so detachment is impossible.', undefined, 'payment_method_unexpected_state');
    const prev = { customer: pm.customer };
    const cust = this.customers.get(pm.customer);
    if (cust && cust.invoice_settings.default_payment_method === pm.id) cust.invoice_settings.default_payment_method = null;
    pm.customer = null;
    this.pmConsumed.add(pm.id);
    this.emit('payment_method.detached', pm, prev);
    return pm;
  }

  /** @param {string} customerId */
  customerPms(customerId) {
    return [...this.paymentMethods.values()].filter((pm) => pm.customer === customerId);
  }

  /**
   * A 402 card_error.
   * @param {Obj} fields @param {boolean} [save]
   */
  cardError(fields, save = true) {
    /** @type {Obj} */
    const e = { type: 'card_error', doc_url: `https://stripe.com/docs/error-codes/${String(fields.code).replace(/_/g, '-')}`, ...fields };
    for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
    return new SimError(402, e, { save });
  }

  // ---------------------------------------------------------------- payment intents & charges

  /** @param {Obj} p @param {{ internal?: boolean }} [o] */
  createPaymentIntent(p, o = {}) {
    const amount = toInt(p.amount, 'amount');
    if (amount === undefined) throw missingParam('amount');
    if (!p.currency) throw missingParam('currency');
    const currency = String(p.currency).toLowerCase();
    if (amount < 50 && !o.internal) throw invalid(`Amount must be at least $0.50 ${currency}`, 'amount', 'amount_too_small');
    if (amount > 99999999) throw invalid('Amount must be no more than $999,999.99', 'amount', 'amount_too_large');
    const customer = p.customer ? this.get('customers', String(p.customer), 'customer').id : null;
    const confirm = toBool(p.confirm);
    const offSession = p.off_session !== undefined && p.off_session !== 'false' && p.off_session !== false;
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
    let pm = null;
    if (p.payment_method) {
      pm = this.resolvePm(String(p.payment_method));
      if (BY_ALIAS.has(String(p.payment_method)) && customer) {
        // Like Stripe: a pm_card_* alias used with a customer becomes a fresh pm_ attached to it.
        pm.customer = customer;
        this.emit('payment_method.attached', pm);
      }
      this.checkPmForCustomer(pm, customer);
    }
    const id = newId('pi');
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
      created: now(),
      currency,
      customer,
      description: p.description ?? null,
      last_payment_error: null,
      latest_charge: null,
      livemode: false,
      metadata: this.mergeMetadata({}, p.metadata),
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
    this.paymentIntents.set(id, pi);
    this.counters.paymentIntentsCreated++;
    this.emit('payment_intent.created', pi);
    if (confirm) this.confirmPaymentIntent(pi, { offSession });
    return pi;
  }

  /** @param {Obj} pm @param {string | null} customer */
  checkPmForCustomer(pm, customer) {
    if (pm.customer && !customer) {
      throw invalid(
        'The provided PaymentMethod was previously attached to a Customer. To use a PaymentMethod that has been attached to a Customer, you must provide the Customer ID in the request.',
        'payment_method',
      );
    }
    if (pm.customer && customer && pm.customer !== customer) {
      throw invalid(`The provided PaymentMethod (${pm.id}) does not belong to the Customer (${customer}).`, 'payment_method');
    }
    if (!pm.customer && this.pmConsumed.has(pm.id)) {
      throw invalid(
        'This PaymentMethod was previously used without being attached to a Customer or was detached from a Customer, and may not be used again.',
        'payment_method',
        'payment_method_unexpected_state',
      );
    }
  }

  /** @param {string} id @param {Obj} p */
  updatePaymentIntent(id, p) {
    const pi = this.get('paymentIntents', id);
    if (['succeeded', 'canceled'].includes(pi.status) && (p.amount !== undefined || p.payment_method !== undefined)) {
      throw invalid(`This PaymentIntent's amount could not be updated because it has a status of ${pi.status}.`, undefined, 'payment_intent_unexpected_state');
    }
    if (p.amount !== undefined) pi.amount = toInt(p.amount, 'amount');
    if (p.description !== undefined) pi.description = p.description || null;
    if (p.receipt_email !== undefined) pi.receipt_email = p.receipt_email || null;
    if (p.metadata !== undefined) pi.metadata = this.mergeMetadata(pi.metadata, p.metadata);
    if (p.customer !== undefined) pi.customer = this.get('customers', p.customer, 'customer').id;
    if (p.setup_future_usage !== undefined) pi.setup_future_usage = p.setup_future_usage || null;
    if (p.payment_method !== undefined) {
      const pm = this.resolvePm(String(p.payment_method));
      this.checkPmForCustomer(pm, pi.customer);
      pi.payment_method = pm.id;
      pi.status = 'requires_confirmation';
    }
    return pi;
  }

  /** @param {string} id @param {Obj} p */
  confirmPaymentIntentById(id, p) {
    const pi = this.get('paymentIntents', id);
    if (p.payment_method) {
      const pm = this.resolvePm(String(p.payment_method));
      if (BY_ALIAS.has(String(p.payment_method)) && pi.customer) {
        pm.customer = pi.customer;
        this.emit('payment_method.attached', pm);
      }
      this.checkPmForCustomer(pm, pi.customer);
      pi.payment_method = pm.id;
    }
    if (p.setup_future_usage !== undefined) pi.setup_future_usage = p.setup_future_usage || null;
    const offSession = p.off_session !== undefined && p.off_session !== 'false' && p.off_session !== false;
    this.confirmPaymentIntent(pi, { offSession });
    return pi;
  }

  /** @param {string} id @param {Obj} p */
  cancelPaymentIntent(id, p) {
    const pi = this.get('paymentIntents', id);
    if (['succeeded', 'canceled', 'processing'].includes(pi.status)) {
      throw invalid(
        `You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be canceled: requires_payment_method, requires_capture, requires_confirmation, requires_action, processing.`,
        undefined,
        'payment_intent_unexpected_state',
      );
    }
    pi.status = 'canceled';
    pi.canceled_at = now();
    pi.cancellation_reason = p.cancellation_reason ?? null;
    pi.next_action = null;
    this.emit('payment_intent.canceled', pi);
    return pi;
  }

  /**
   * Confirm a PaymentIntent against its payment method. Throws a saved 402 SimError on decline.
   * @param {Obj} pi @param {{ offSession: boolean, checkoutSession?: Obj }} o
   */
  confirmPaymentIntent(pi, o) {
    if (!['requires_payment_method', 'requires_confirmation', 'requires_action'].includes(pi.status)) {
      throw invalid(
        `You cannot confirm this PaymentIntent because it has a status of ${pi.status}.`,
        undefined,
        'payment_intent_unexpected_state',
      );
    }
    if (!pi.payment_method) throw invalid("You cannot confirm this PaymentIntent because it's missing a payment method.", 'payment_method', 'payment_intent_unexpected_state');
    const pm = this.get('paymentMethods', pi.payment_method, 'payment_method');
    const card = this.pmCard.get(pm.id) ?? { number: '4242424242424242', alias: 'pm_card_visa', brand: 'visa', behavior: 'success' };
    pi.last_payment_error = null;
    pi.next_action = null;
    if (!pm.customer) this.pmConsumed.add(pm.id);

    /** @param {{ code: string, decline_code: string, message: string }} f */
    const fail = (f) => {
      const ch = this.createCharge(pi, pm, card, f);
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
      this.counters.paymentIntentsFailed++;
      this.emit('charge.failed', ch);
      this.emit('payment_intent.payment_failed', pi);
      const { payment_method: _pm, ...rest } = pi.last_payment_error;
      throw this.cardError({ ...rest, payment_intent: clone(pi), payment_method: clone(pm) });
    };

    const needsAuth = card.behavior === 'auth_always' || (card.behavior === 'auth_setup' && !o.offSession);
    if (needsAuth) {
      if (o.offSession) {
        fail({ code: 'authentication_required', decline_code: 'authentication_required', message: 'Your card was declined. This transaction requires authentication.' });
      }
      pi.status = 'requires_action';
      pi.next_action = {
        type: 'use_stripe_sdk',
        use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: `${this.baseUrl}/_sim/3ds/${pi.id}`, source: `src_${rand(24)}` },
      };
      this.emit('payment_intent.requires_action', pi);
      return pi;
    }
    if (card.behavior === 'decline' || card.behavior === 'charge_fail') {
      fail({ code: card.code ?? 'card_declined', decline_code: card.decline_code ?? 'generic_decline', message: card.message ?? 'Your card was declined.' });
    }
    // success / dispute
    const ch = this.createCharge(pi, pm, card, null);
    pi.status = 'succeeded';
    pi.amount_received = pi.amount;
    pi.latest_charge = ch.id;
    if (pi.setup_future_usage && pi.customer && !pm.customer) {
      pm.customer = pi.customer;
      this.pmConsumed.delete(pm.id);
      this.emit('payment_method.attached', pm);
    }
    this.counters.paymentIntentsSucceeded++;
    this.emit('charge.succeeded', ch);
    this.emit('payment_intent.succeeded', pi);
    if (card.behavior === 'dispute') {
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (this.charges.get(ch.id) === ch && !ch.disputed) this.createDispute(ch.id, {});
      }, this.disputeDelayMs);
      this.timers.add(t);
    }
    return pi;
  }

  /**
   * @param {Obj} pi @param {Obj} pm @param {import('./cards.mjs').TestCard} card
   * @param {{ code: string, decline_code: string, message: string } | null} failure
   */
  createCharge(pi, pm, card, failure) {
    const id = newId('ch');
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
      created: now(),
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
            network_status: 'declined_by_network',
            reason: failure.decline_code,
            risk_level: 'normal',
            risk_score: 20,
            seller_message: 'The bank did not return any further details with this decline.',
            type: 'issuer_declined',
          }
        : { network_status: 'approved_by_network', reason: null, risk_level: 'normal', risk_score: 20, seller_message: 'Payment complete.', type: 'authorized' },
      paid: !failure,
      payment_intent: pi.id,
      payment_method: pm.id,
      payment_method_details: {
        card: {
          amount_authorized: failure ? null : pi.amount,
          brand: pm.card.brand,
          checks: clone(pm.card.checks),
          country: pm.card.country,
          exp_month: pm.card.exp_month,
          exp_year: pm.card.exp_year,
          fingerprint: pm.card.fingerprint,
          funding: pm.card.funding,
          last4: pm.card.last4,
          network: card.brand,
          three_d_secure: null,
          wallet: null,
        },
        type: 'card',
      },
      receipt_email: pi.receipt_email,
      receipt_number: null,
      receipt_url: `${this.baseUrl}/_sim/receipts/${id}`,
      refunded: false,
      refunds: { object: 'list', data: [], has_more: false, total_count: 0, url: `/v1/charges/${id}/refunds` },
      review: null,
      shipping: null,
      source: null,
      statement_descriptor: null,
      statement_descriptor_suffix: null,
      status: failure ? 'failed' : 'succeeded',
      transfer_data: null,
      transfer_group: null,
    };
    this.charges.set(id, ch);
    if (failure) this.counters.chargesFailed++;
    else this.counters.chargesSucceeded++;
    return ch;
  }

  // ---------------------------------------------------------------- refunds & disputes

  /** @param {Obj} p */
  createRefund(p) {
    /** @type {Obj} */
    let ch;
    if (p.charge) ch = this.get('charges', String(p.charge), 'charge');
    else if (p.payment_intent) {
      const pi = this.get('paymentIntents', String(p.payment_intent), 'payment_intent');
      if (pi.status !== 'succeeded' || !pi.latest_charge) {
        throw invalid(`This PaymentIntent (${pi.id}) does not have a successful charge to refund.`, 'payment_intent', 'charge_not_refundable');
      }
      ch = this.get('charges', pi.latest_charge);
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
    const re = {
      id: newId('re'),
      object: 'refund',
      amount,
      balance_transaction: newId('txn'),
      charge: ch.id,
      created: now(),
      currency: ch.currency,
      destination_details: { card: { reference_status: 'pending', reference_type: 'acquirer_reference_number', type: 'refund' }, type: 'card' },
      metadata: this.mergeMetadata({}, p.metadata),
      payment_intent: ch.payment_intent,
      reason: p.reason ?? null,
      receipt_number: null,
      source_transfer_reversal: null,
      status: 'succeeded',
      transfer_reversal: null,
    };
    this.refunds.set(re.id, re);
    const prev = { amount_refunded: ch.amount_refunded, refunded: ch.refunded };
    ch.amount_refunded += amount;
    ch.refunded = ch.amount_refunded >= ch.amount;
    ch.refunds.data.unshift(clone(re));
    ch.refunds.total_count++;
    this.emit('charge.refunded', ch, prev);
    this.emit('refund.created', re);
    return re;
  }

  /** @param {string} chargeId @param {Obj} p */
  createDispute(chargeId, p) {
    const ch = this.get('charges', chargeId);
    if (ch.status !== 'succeeded') throw invalid(`Charge ${ch.id} did not succeed and cannot be disputed.`, 'charge');
    if (ch.disputed) throw invalid(`Charge ${ch.id} has already been disputed.`, 'charge');
    const amount = toInt(p.amount, 'amount') ?? ch.amount - ch.amount_refunded;
    const created = now();
    const dp = {
      id: newId('dp'),
      object: 'dispute',
      amount,
      balance_transactions: [],
      charge: ch.id,
      created,
      currency: ch.currency,
      evidence: { customer_email_address: null, customer_name: null, product_description: null, uncategorized_text: null },
      evidence_details: { due_by: created + 7 * 86400, has_evidence: false, past_due: false, submission_count: 0 },
      is_charge_refundable: false,
      livemode: false,
      metadata: {},
      network_reason_code: '10.4',
      payment_intent: ch.payment_intent,
      payment_method_details: { card: { brand: ch.payment_method_details.card.brand, network_reason_code: '10.4' }, type: 'card' },
      reason: p.reason ?? 'fraudulent',
      status: p.status ?? 'needs_response',
    };
    this.disputes.set(dp.id, dp);
    ch.disputed = true;
    const saved = this.request;
    this.request = { id: null, idempotency_key: null };
    try {
      this.emit('charge.dispute.created', dp);
    } finally {
      this.request = saved;
    }
    return dp;
  }

  /** @param {string} id @param {'won'|'lost'|string} status */
  closeDispute(id, status) {
    const dp = this.get('disputes', id);
    if (!['won', 'lost'].includes(status)) throw invalid("status must be 'won' or 'lost'", 'status');
    if (['won', 'lost'].includes(dp.status)) throw invalid(`This dispute is already closed (${dp.status}).`, undefined, 'dispute_already_closed');
    const prev = { status: dp.status };
    dp.status = status;
    this.emit('charge.dispute.closed', dp, prev);
    return dp;
  }

  // ---------------------------------------------------------------- checkout sessions

  /** @param {Obj} p */
  createCheckoutSession(p) {
    const mode = p.mode;
    if (!mode) throw missingParam('mode');
    if (mode !== 'payment') throw invalid(`The simulator only supports mode=payment (got '${mode}').`, 'mode');
    const customer = p.customer ? this.get('customers', String(p.customer), 'customer').id : null;
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
        price = this.get('prices', String(li.price), `line_items[${i}][price]`);
        if (!price.active) throw invalid(`The price specified (${price.id}) is inactive. This field only accepts active prices.`, `line_items[${i}][price]`);
      } else if (li.price_data) {
        const pd = li.price_data;
        if (!pd.product && !pd.product_data) throw missingParam(`line_items[${i}][price_data][product_data]`);
        price = this.createPrice({ ...pd, active: 'false' }, true);
      } else throw invalid('You must specify either `price` or `price_data` for each line item.', `line_items[${i}]`);
      if (currency && price.currency !== currency) throw invalid('All prices must have the same currency.', `line_items[${i}]`);
      currency = price.currency;
      const product = this.products.get(price.product);
      const amount = price.unit_amount * quantity;
      total += amount;
      lineItems.push({
        id: `li_${rand(24)}`,
        object: 'item',
        amount_discount: 0,
        amount_subtotal: amount,
        amount_tax: 0,
        amount_total: amount,
        currency: price.currency,
        description: product?.name ?? null,
        price: clone(price),
        quantity,
      });
    });
    const pid = p.payment_intent_data ?? {};
    const created = now();
    const s = {
      id,
      object: 'checkout.session',
      after_expiration: null,
      allow_promotion_codes: null,
      amount_subtotal: total,
      amount_total: total,
      automatic_tax: { enabled: false, liability: null, status: null },
      billing_address_collection: null,
      cancel_url: p.cancel_url ?? null,
      client_reference_id: p.client_reference_id ?? null,
      client_secret: null,
      consent: null,
      consent_collection: null,
      created,
      currency,
      custom_fields: [],
      custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
      customer,
      customer_creation: customer ? null : (p.customer_creation ?? 'if_required'),
      customer_details: customer ? { address: null, email: this.customers.get(customer)?.email ?? null, name: null, phone: null, tax_exempt: 'none', tax_ids: [] } : null,
      customer_email: p.customer_email ?? null,
      expires_at: toInt(p.expires_at, 'expires_at') ?? created + 24 * 3600,
      invoice: null,
      invoice_creation: null,
      livemode: false,
      locale: p.locale ?? null,
      metadata: this.mergeMetadata({}, p.metadata),
      mode,
      payment_intent: null,
      payment_link: null,
      payment_method_collection: 'if_required',
      payment_method_options: {},
      payment_method_types: Array.isArray(p.payment_method_types) ? p.payment_method_types : ['card'],
      payment_status: 'unpaid',
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
      url: `${this.baseUrl}/c/pay/${id}`,
    };
    this.sessions.set(id, s);
    this.lineItems.set(id, lineItems);
    this.sessionPiData.set(id, {
      metadata: this.mergeMetadata({}, pid.metadata),
      description: pid.description ?? null,
      setup_future_usage: pid.setup_future_usage ?? null,
      receipt_email: pid.receipt_email ?? null,
    });
    return s;
  }

  /** @param {string} id */
  expireCheckoutSession(id) {
    const s = this.get('sessions', id);
    if (s.status !== 'open') throw invalid(`Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${s.status}".`, undefined, 'checkout_session_unexpected_state');
    s.status = 'expired';
    s.url = null;
    this.emit('checkout.session.expired', s);
    return s;
  }

  /**
   * Pay a Checkout Session as the hosted page would (on-session).
   * @param {string} id
   * @param {{ card?: string, expiry?: string, cvc?: string, name?: string, email?: string }} f
   * @returns {{ session: Obj, paymentIntent: Obj, redirect: string | null }}
   */
  payCheckoutSession(id, f) {
    const s = this.get('sessions', id);
    if (s.status === 'open' && s.expires_at <= now()) this.expireCheckoutSession(id);
    if (s.status !== 'open') throw invalid(`This Checkout Session is no longer active (status: ${s.status}).`, undefined, 'checkout_session_unexpected_state');
    const card = cardForNumber(f.card ?? '');
    if (!card) throw this.cardError({ code: 'incorrect_number', message: 'Your card number is incorrect.', param: 'number' }, false);
    const exp = String(f.expiry ?? '12/34').match(/^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/);
    if (!exp) throw this.cardError({ code: 'invalid_expiry_year', message: "Your card's expiration date is incomplete.", param: 'exp_year' }, false);
    const expMonth = Number(exp[1]);
    const expYear = exp[2].length === 2 ? 2000 + Number(exp[2]) : Number(exp[2]);
    if (expMonth < 1 || expMonth > 12) throw this.cardError({ code: 'invalid_expiry_month', message: "Your card's expiration month is invalid.", param: 'exp_month' }, false);
    const d = new Date();
    if (expYear < d.getFullYear() || (expYear === d.getFullYear() && expMonth < d.getMonth() + 1)) {
      throw this.cardError({ code: 'invalid_expiry_year', message: "Your card's expiration year is in the past.", param: 'exp_year' }, false);
    }
    if (!/^\d{3,4}$/.test(String(f.cvc ?? '123').trim())) throw this.cardError({ code: 'incomplete_cvc', message: "Your card's security code is incomplete.", param: 'cvc' }, false);

    const pid = this.sessionPiData.get(id) ?? { metadata: {} };
    const email = f.email || s.customer_email || (s.customer ? this.customers.get(s.customer)?.email : null) || null;
    const name = f.name || null;
    if (!s.customer && (pid.setup_future_usage || s.customer_creation === 'always')) {
      s.customer = this.createCustomer({ email, name }).id;
    }
    const pm = this.newCardPm(card, { exp_month: expMonth, exp_year: expYear, name, email });
    /** @type {Obj} */
    let pi;
    if (s.payment_intent) {
      pi = this.get('paymentIntents', s.payment_intent);
      pi.payment_method = pm.id;
    } else {
      pi = this.createPaymentIntent(
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
    this.confirmPaymentIntent(pi, { offSession: false, checkoutSession: s });
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
      this.counters.paymentIntentsFailed++;
      this.emit('payment_intent.payment_failed', pi);
      throw this.cardError({
        code: 'payment_intent_authentication_failure',
        message: 'This card requires 3D Secure authentication, which the Stripe simulator cannot perform. Please use a different card.',
        payment_intent: clone(pi),
      });
    }
    s.status = 'complete';
    s.payment_status = 'paid';
    s.customer_details = { address: null, email, name, phone: null, tax_exempt: 'none', tax_ids: [] };
    this.emit('checkout.session.completed', s);
    const redirect = s.success_url ? String(s.success_url).replaceAll('{CHECKOUT_SESSION_ID}', s.id) : null;
    return { session: s, paymentIntent: pi, redirect };
  }

  // ---------------------------------------------------------------- summary

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
