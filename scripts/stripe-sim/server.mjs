#!/usr/bin/env node
// Stripe-compatible HTTP simulator for local development and tests.
// Speaks enough of the Stripe REST API (v1, form-encoded) for the `stripe` SDK to use it unchanged:
//   new Stripe(key, { host: '127.0.0.1', port, protocol: 'http' })
// See docs/stripe-simulator.md.
import http from 'node:http';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { decodeForm, stableStringify } from './form.mjs';
import { StripeSim, SimError, invalid, newId, clone } from './sim.mjs';
import { WebhookDispatcher, signPayload } from './webhooks.mjs';
import { checkoutPage, messagePage } from './page.mjs';

export { signPayload } from './webhooks.mjs';

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {{ method: string, path: string, query: Obj, p: Obj, m: string[], body: Obj }} Ctx
 * @typedef {{ method?: string, path: RegExp, pathSource: string, count: number, mode: 'error500'|'timeout'|'after_commit_500', ms?: number, commit?: boolean, hits: number }} Fault
 *
 * @typedef {Object} StripeSimulatorOptions
 * @property {number} [port] TCP port on 127.0.0.1 (0 = random; default 0)
 * @property {string} [webhookUrl] deliver events to this URL
 * @property {string} [webhookSecret] signing secret for webhookUrl (generated when omitted)
 * @property {{ url: string, secret?: string, deliver?: boolean, enabled_events?: string[] }[]} [webhooks] additional endpoints
 * @property {boolean} [deliverWebhooks] default true; false = only queue events
 * @property {number[]} [webhookRetryDelaysMs] backoff between attempts (default 500,1000,2000,...)
 * @property {number} [webhookMaxAttempts] default 8
 * @property {number} [webhookTimeoutMs] per-attempt timeout (default 10000)
 * @property {string} [apiVersion] api_version stamped on events
 * @property {number} [disputeDelayMs] delay before pm_card_createDispute charges get disputed (default 500)
 * @property {number} [faultTimeoutMs] default hold time for `timeout` faults (default 2000)
 * @property {((msg: string) => void) | false} [logger] default: console.error when run as CLI, silent otherwise
 */

/**
 * Start the simulator.
 * @param {StripeSimulatorOptions} [opts]
 * @returns {Promise<{ url: string, port: number, close: () => Promise<void>, state: StripeSim, webhooks: WebhookDispatcher, reset: () => void }>}
 */
export async function startStripeSimulator(opts = {}) {
  const log = opts.logger || (() => {});
  const dispatcher = new WebhookDispatcher({
    retryDelaysMs: opts.webhookRetryDelaysMs,
    maxAttempts: opts.webhookMaxAttempts,
    timeoutMs: opts.webhookTimeoutMs,
    logger: log,
  });
  const initialEndpoints = () => {
    dispatcher.endpoints = [];
    const deliver = opts.deliverWebhooks !== false;
    if (opts.webhookUrl) dispatcher.addEndpoint({ url: opts.webhookUrl, secret: opts.webhookSecret, deliver });
    for (const w of opts.webhooks ?? []) dispatcher.addEndpoint({ deliver, ...w });
  };
  initialEndpoints();

  const sim = new StripeSim({
    apiVersion: opts.apiVersion,
    disputeDelayMs: opts.disputeDelayMs,
    onEvent: (event, payload) => dispatcher.enqueue(event, payload),
    pendingWebhooks: (type) => dispatcher.countFor(type),
  });

  /** @type {Map<string, { method: string, path: string, params: string, status: number, body: Obj, requestId: string }>} */
  const idempotency = new Map();
  /** @type {Fault[]} */
  let faults = [];
  const faultTimeoutMs = opts.faultTimeoutMs ?? 2000;
  /** @type {Set<ReturnType<typeof setTimeout>>} */
  const holds = new Set();

  const reset = () => {
    sim.reset();
    dispatcher.clear();
    initialEndpoints();
    idempotency.clear();
    faults = [];
  };

  // ------------------------------------------------------------------ API routes
  /** @type {[string, RegExp, (c: Ctx) => Obj | { status: number, body: Obj }][]} */
  const routes = [];
  /** @param {string} method @param {string} pattern @param {(c: Ctx) => any} fn */
  const route = (method, pattern, fn) => routes.push([method, new RegExp(`^${pattern.replace(/:(\w+)/g, '([^/]+)')}$`), fn]);
  /** @param {Obj} o @param {Ctx} c */
  const out = (o, c) => sim.out(o, c.p.expand);
  /** @param {Obj[]} items @param {Ctx} c */
  const list = (items, c) => sim.list(items, c.p, c.path);

  route('POST', '/v1/customers', (c) => out(sim.createCustomer(c.p), c));
  route('GET', '/v1/customers', (c) =>
    list([...sim.customers.values()].filter((x) => (c.p.email === undefined || x.email === c.p.email)), c),
  );
  route('GET', '/v1/customers/search', (c) => ({
    object: 'search_result',
    data: clone(sim.searchCustomers(c.p.query).reverse().slice(0, Number(c.p.limit ?? 10))),
    has_more: false,
    next_page: null,
    url: '/v1/customers/search',
  }));
  route('GET', '/v1/customers/:id', (c) => out(sim.get('customers', c.m[0]), c));
  route('POST', '/v1/customers/:id', (c) => out(sim.updateCustomer(c.m[0], c.p), c));
  route('DELETE', '/v1/customers/:id', (c) => sim.deleteCustomer(c.m[0]));
  route('GET', '/v1/customers/:id/payment_methods', (c) => {
    sim.get('customers', c.m[0]);
    return list(sim.customerPms(c.m[0]).filter((pm) => !c.p.type || pm.type === c.p.type), c);
  });
  route('GET', '/v1/customers/:id/payment_methods/:pm', (c) => {
    const pm = sim.get('paymentMethods', c.m[1]);
    if (pm.customer !== c.m[0]) throw invalid(`No such PaymentMethod: '${c.m[1]}'`, 'payment_method', 'resource_missing');
    return out(pm, c);
  });

  route('POST', '/v1/products', (c) => out(sim.createProduct(c.p), c));
  route('GET', '/v1/products', (c) =>
    list(
      [...sim.products.values()].filter(
        (x) => !sim.adhoc.has(x.id) && (c.p.active === undefined || String(x.active) === String(c.p.active)) && (!c.p.ids || c.p.ids.includes(x.id)),
      ),
      c,
    ),
  );
  route('GET', '/v1/products/:id', (c) => out(sim.get('products', c.m[0]), c));
  route('POST', '/v1/products/:id', (c) => out(sim.updateProduct(c.m[0], c.p), c));

  route('POST', '/v1/prices', (c) => out(sim.createPrice(c.p), c));
  route('GET', '/v1/prices', (c) =>
    list(
      [...sim.prices.values()].filter(
        (x) =>
          !sim.adhoc.has(x.id) &&
          (c.p.active === undefined || String(x.active) === String(c.p.active)) &&
          (!c.p.product || x.product === c.p.product) &&
          (!c.p.currency || x.currency === c.p.currency) &&
          (!c.p.type || x.type === c.p.type) &&
          (!c.p.lookup_keys || c.p.lookup_keys.includes(x.lookup_key)),
      ),
      c,
    ),
  );
  route('GET', '/v1/prices/:id', (c) => out(sim.get('prices', c.m[0]), c));
  route('POST', '/v1/prices/:id', (c) => out(sim.updatePrice(c.m[0], c.p), c));

  route('POST', '/v1/checkout/sessions', (c) => out(sim.createCheckoutSession(c.p), c));
  route('GET', '/v1/checkout/sessions', (c) =>
    list(
      [...sim.sessions.values()].filter(
        (x) => (!c.p.customer || x.customer === c.p.customer) && (!c.p.payment_intent || x.payment_intent === c.p.payment_intent) && (!c.p.status || x.status === c.p.status),
      ),
      c,
    ),
  );
  route('GET', '/v1/checkout/sessions/:id', (c) => out(sim.get('sessions', c.m[0]), c));
  route('GET', '/v1/checkout/sessions/:id/line_items', (c) => {
    sim.get('sessions', c.m[0]);
    return sim.list(sim.lineItems.get(c.m[0]) ?? [], c.p, c.path, false);
  });
  route('POST', '/v1/checkout/sessions/:id/expire', (c) => out(sim.expireCheckoutSession(c.m[0]), c));

  route('POST', '/v1/payment_intents', (c) => out(sim.createPaymentIntent(c.p), c));
  route('GET', '/v1/payment_intents', (c) => list([...sim.paymentIntents.values()].filter((x) => !c.p.customer || x.customer === c.p.customer), c));
  route('GET', '/v1/payment_intents/:id', (c) => out(sim.get('paymentIntents', c.m[0]), c));
  route('POST', '/v1/payment_intents/:id', (c) => out(sim.updatePaymentIntent(c.m[0], c.p), c));
  route('POST', '/v1/payment_intents/:id/confirm', (c) => out(sim.confirmPaymentIntentById(c.m[0], c.p), c));
  route('POST', '/v1/payment_intents/:id/cancel', (c) => out(sim.cancelPaymentIntent(c.m[0], c.p), c));

  route('POST', '/v1/payment_methods', (c) => out(sim.createPaymentMethod(c.p), c));
  route('GET', '/v1/payment_methods', (c) => {
    if (c.p.customer) sim.get('customers', c.p.customer, 'customer');
    return list(
      [...sim.paymentMethods.values()].filter((pm) => (!c.p.customer || pm.customer === c.p.customer) && (!c.p.type || pm.type === c.p.type) && (c.p.customer || pm.customer)),
      c,
    );
  });
  route('GET', '/v1/payment_methods/:id', (c) => out(sim.resolvePm(c.m[0], 'id'), c));
  route('POST', '/v1/payment_methods/:id', (c) => {
    const pm = sim.get('paymentMethods', c.m[0]);
    if (c.p.metadata !== undefined) pm.metadata = sim.mergeMetadata(pm.metadata, c.p.metadata);
    if (c.p.billing_details?.name !== undefined) pm.billing_details.name = c.p.billing_details.name || null;
    sim.emit('payment_method.updated', pm);
    return out(pm, c);
  });
  route('POST', '/v1/payment_methods/:id/attach', (c) => out(sim.attachPaymentMethod(c.m[0], c.p.customer), c));
  route('POST', '/v1/payment_methods/:id/detach', (c) => out(sim.detachPaymentMethod(c.m[0]), c));

  route('GET', '/v1/charges', (c) =>
    list([...sim.charges.values()].filter((x) => (!c.p.customer || x.customer === c.p.customer) && (!c.p.payment_intent || x.payment_intent === c.p.payment_intent)), c),
  );
  route('GET', '/v1/charges/:id', (c) => out(sim.get('charges', c.m[0]), c));

  route('POST', '/v1/refunds', (c) => out(sim.createRefund(c.p), c));
  route('GET', '/v1/refunds', (c) =>
    list([...sim.refunds.values()].filter((x) => (!c.p.charge || x.charge === c.p.charge) && (!c.p.payment_intent || x.payment_intent === c.p.payment_intent)), c),
  );
  route('GET', '/v1/refunds/:id', (c) => out(sim.get('refunds', c.m[0]), c));

  route('GET', '/v1/disputes', (c) =>
    list([...sim.disputes.values()].filter((x) => (!c.p.charge || x.charge === c.p.charge) && (!c.p.payment_intent || x.payment_intent === c.p.payment_intent)), c),
  );
  route('GET', '/v1/disputes/:id', (c) => out(sim.get('disputes', c.m[0]), c));
  route('POST', '/v1/disputes/:id/close', (c) => out(sim.closeDispute(c.m[0], 'lost'), c));

  route('GET', '/v1/events', (c) => {
    const types = c.p.types ?? (c.p.type ? [c.p.type] : null);
    /** @param {string} t */
    const match = (t) => !types || types.some((/** @type {string} */ p) => (p.endsWith('*') ? t.startsWith(p.slice(0, -1)) : t === p));
    return list(sim.events.filter((e) => match(e.type)), c);
  });
  route('GET', '/v1/events/:id', (c) => out(sim.get('eventsById', c.m[0]), c));

  // ------------------------------------------------------------------ HTTP plumbing
  /**
   * @param {http.ServerResponse} res @param {number} status @param {any} body @param {Record<string, string>} [headers]
   */
  const sendJson = (res, status, body, headers = {}) => {
    const text = JSON.stringify(body, null, 2);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'access-control-allow-origin': '*',
      'cache-control': 'no-cache, no-store',
      ...headers,
    });
    res.end(text);
  };
  /** @param {http.ServerResponse} res @param {number} status @param {string} html */
  const sendHtml = (res, status, html) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-store' });
    res.end(html);
  };

  /** @param {http.IncomingMessage} req @returns {Promise<string>} */
  const readBody = (req) =>
    new Promise((resolve, reject) => {
      /** @type {Buffer[]} */
      const chunks = [];
      let size = 0;
      req.on('data', (/** @type {Buffer} */ ch) => {
        size += ch.length;
        if (size > 2_000_000) {
          reject(new Error('body too large'));
          req.destroy();
        } else chunks.push(ch);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  /** @param {http.IncomingMessage} req @param {string} text */
  const parseBody = (req, text) => {
    if (!text) return {};
    const ct = String(req.headers['content-type'] ?? '');
    if (ct.includes('application/json')) {
      try {
        return JSON.parse(text) ?? {};
      } catch {
        throw invalid('Invalid JSON body.');
      }
    }
    return decodeForm(text);
  };

  /** @param {string} method @param {string} path */
  const takeFault = (method, path) => {
    const f = faults.find((x) => x.count > 0 && (!x.method || x.method === method) && x.path.test(path));
    if (!f) return null;
    f.count--;
    f.hits++;
    return f;
  };

  /** @param {http.ServerResponse} res @param {number} ms */
  const holdAndDrop = (res, ms) => {
    const t = setTimeout(() => {
      holds.delete(t);
      res.socket?.destroy();
    }, ms);
    holds.add(t);
  };

  const faultBody = { error: { type: 'api_error', message: 'An unknown error occurred (simulated fault).' } };

  /**
   * @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {URL} url @param {string} text
   */
  const handleApi = (req, res, url, text) => {
    const method = String(req.method);
    const requestId = `req_${newId('x').slice(2)}`;
    const baseHeaders = { 'request-id': requestId, 'stripe-version': String(req.headers['stripe-version'] ?? sim.apiVersion) };
    const auth = String(req.headers.authorization ?? '');
    let apiKey = '';
    const bearer = auth.match(/^Bearer\s+(\S+)$/i);
    if (bearer) apiKey = bearer[1];
    else if (/^Basic\s+/i.test(auth)) apiKey = Buffer.from(auth.replace(/^Basic\s+/i, ''), 'base64').toString().split(':')[0];
    if (!apiKey) {
      return sendJson(
        res,
        401,
        { error: { type: 'invalid_request_error', message: "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/." } },
        baseHeaders,
      );
    }
    if (!/^(sk|rk)_test_/.test(apiKey)) {
      const masked = apiKey.length > 8 ? `${apiKey.slice(0, 8)}${'*'.repeat(Math.max(0, apiKey.length - 12))}${apiKey.slice(-4)}` : apiKey;
      return sendJson(res, 401, { error: { type: 'invalid_request_error', code: 'api_key_invalid', message: `Invalid API Key provided: ${masked}` } }, baseHeaders);
    }

    const fault = takeFault(method, url.pathname);
    if (fault?.mode === 'error500') return sendJson(res, 500, faultBody, baseHeaders);
    if (fault?.mode === 'timeout' && !fault.commit) return holdAndDrop(res, fault.ms ?? faultTimeoutMs);

    /** @type {Obj} */
    let params;
    try {
      const query = decodeForm(url.search.slice(1));
      params = { ...query, ...parseBody(req, text) };
    } catch (e) {
      const se = /** @type {SimError} */ (e);
      return sendJson(res, se.status ?? 400, { error: se.error ?? { type: 'invalid_request_error', message: String(e) } }, baseHeaders);
    }

    /** @param {number} status @param {Obj} body @param {Record<string, string>} headers */
    const finish = (status, body, headers) => {
      if (fault?.mode === 'after_commit_500') return sendJson(res, 500, faultBody, baseHeaders);
      if (fault?.mode === 'timeout') return holdAndDrop(res, fault.ms ?? faultTimeoutMs);
      return sendJson(res, status, body, headers);
    };

    const idemKey = method === 'POST' ? req.headers['idempotency-key'] : undefined;
    const storeKey = idemKey ? `${apiKey}\u0000${idemKey}` : null;
    const paramsSig = stableStringify(params);
    if (storeKey) {
      const prev = idempotency.get(storeKey);
      if (prev) {
        if (prev.path !== url.pathname || prev.method !== method) {
          return sendJson(
            res,
            400,
            { error: { type: 'idempotency_error', message: `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${prev.method} ${prev.path}' vs '${method} ${url.pathname}'). Try using a key other than '${idemKey}' if you meant to execute a different request.` } },
            baseHeaders,
          );
        }
        if (prev.params !== paramsSig) {
          return sendJson(
            res,
            400,
            { error: { type: 'idempotency_error', message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idemKey}' if you meant to execute a different request.` } },
            baseHeaders,
          );
        }
        return finish(prev.status, prev.body, { ...baseHeaders, 'idempotency-key': String(idemKey), 'idempotent-replayed': 'true', 'original-request': prev.requestId });
      }
    }

    const found = routes.find(([m, re]) => m === method && re.test(url.pathname));
    if (!found) {
      const anyMethod = routes.some(([, re]) => re.test(url.pathname));
      return sendJson(
        res,
        404,
        { error: { type: 'invalid_request_error', message: anyMethod ? `Unrecognized request URL (${method}: ${url.pathname}). The simulator supports other methods on this URL.` : `Unrecognized request URL (${method}: ${url.pathname}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.` } },
        baseHeaders,
      );
    }
    const [, re, fn] = found;
    const m = /** @type {RegExpExecArray} */ (re.exec(url.pathname)).slice(1).map(decodeURIComponent);
    let status = 200;
    /** @type {Obj} */
    let body;
    let save = true;
    sim.request = { id: requestId, idempotency_key: idemKey ? String(idemKey) : null };
    try {
      body = fn({ method, path: url.pathname, query: {}, p: params, m, body: params });
    } catch (e) {
      if (e instanceof SimError) {
        status = e.status;
        body = { error: { ...e.error, request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}` } };
        save = e.save;
      } else {
        log(`internal error on ${method} ${url.pathname}: ${/** @type {Error} */ (e).stack}`);
        status = 500;
        body = { error: { type: 'api_error', message: `Simulator internal error: ${/** @type {Error} */ (e).message}` } };
        save = false;
      }
    } finally {
      sim.request = { id: null, idempotency_key: null };
    }
    if (storeKey && save) idempotency.set(storeKey, { method, path: url.pathname, params: paramsSig, status, body, requestId });
    const headers = idemKey ? { ...baseHeaders, 'idempotency-key': String(idemKey) } : baseHeaders;
    return finish(status, body, headers);
  };

  // ------------------------------------------------------------------ hosted checkout page
  /** @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {string} id @param {string} text */
  const handlePage = (req, res, id, text) => {
    const s = sim.sessions.get(id);
    if (!s) return sendHtml(res, 404, messagePage('Something went wrong', 'The page you were looking for could not be found.'));
    const items = sim.lineItems.get(id) ?? [];
    if (s.status === 'complete') {
      const link = s.success_url ? String(s.success_url).replaceAll('{CHECKOUT_SESSION_ID}', s.id) : null;
      return sendHtml(res, 200, messagePage('Payment complete', 'This Checkout Session has already been paid.', link, 'Return to merchant'));
    }
    if (s.status === 'expired') return sendHtml(res, 410, messagePage('Session expired', 'This Checkout Session has expired.', s.cancel_url, 'Return to merchant'));
    if (req.method !== 'POST') return sendHtml(res, 200, checkoutPage(s, items));
    /** @type {Obj} */
    const f = decodeForm(text);
    try {
      const r = sim.payCheckoutSession(id, { card: f.cardNumber, expiry: f.expiry, cvc: f.cvc, name: f.name, email: f.email });
      if (r.redirect) {
        res.writeHead(303, { location: r.redirect, 'content-length': 0 });
        return res.end();
      }
      return sendHtml(res, 200, messagePage('Payment complete', 'Thanks for your payment.'));
    } catch (e) {
      if (!(e instanceof SimError)) throw e;
      return sendHtml(res, e.status === 402 ? 402 : 400, checkoutPage(s, items, { error: e.error.message, values: { name: f.name, email: f.email, expiry: f.expiry } }));
    }
  };

  // ------------------------------------------------------------------ control API (/_sim)
  /** @param {URL} url @param {string} method @param {Obj} b @returns {Promise<any>} */
  const handleControl = async (url, method, b) => {
    const path = url.pathname;
    const q = Object.fromEntries(url.searchParams);
    let m;
    if (path === '/_sim/state' && method === 'GET') {
      return {
        ...sim.summary(),
        webhooks: {
          endpoints: dispatcher.endpoints.map(WebhookDispatcher.publicEndpoint),
          queued: dispatcher.queued.length,
          deliveries: dispatcher.log.length,
          delivered: dispatcher.log.filter((d) => d.status === 'succeeded').length,
          pending: dispatcher.log.filter((d) => d.status === 'pending').length,
          failed: dispatcher.log.filter((d) => d.status === 'failed').length,
          attempts: dispatcher.log.reduce((a, d) => a + d.attempts.length, 0),
        },
        idempotency_keys: idempotency.size,
        faults: faults.filter((f) => f.count > 0).length,
      };
    }
    if (path === '/_sim/reset' && method === 'POST') {
      reset();
      return { ok: true };
    }
    if (path === '/_sim/webhooks') {
      if (method === 'GET') return { endpoints: dispatcher.endpoints.map(WebhookDispatcher.publicEndpoint), queued: dispatcher.queued.length, deliveries: dispatcher.log };
      if (method === 'DELETE') {
        dispatcher.endpoints = [];
        return { endpoints: [] };
      }
      if (method === 'POST') {
        if (b.retryDelaysMs) dispatcher.retryDelaysMs = b.retryDelaysMs.map(Number);
        if (b.maxAttempts) dispatcher.maxAttempts = Number(b.maxAttempts);
        if (b.timeoutMs) dispatcher.timeoutMs = Number(b.timeoutMs);
        if (Array.isArray(b.endpoints)) {
          dispatcher.endpoints = [];
          for (const e of b.endpoints) dispatcher.addEndpoint(e);
        } else if (b.url) {
          dispatcher.endpoints = [];
          dispatcher.addEndpoint({ url: b.url, secret: b.secret, deliver: b.deliver, enabled_events: b.enabled_events });
        } else if (b.deliver !== undefined) {
          for (const e of dispatcher.endpoints) e.deliver = b.deliver !== false;
        }
        const flushed = b.flush ? dispatcher.flush() : 0;
        return { endpoints: dispatcher.endpoints.map(WebhookDispatcher.publicEndpoint), flushed };
      }
    }
    if (path === '/_sim/webhooks/flush' && method === 'POST') return { flushed: dispatcher.flush() };
    if (path === '/_sim/deliveries' && method === 'GET') {
      return { data: dispatcher.log.filter((d) => (!q.event || d.event === q.event) && (!q.status || d.status === q.status) && (!q.type || d.type === q.type)) };
    }
    if (path === '/_sim/events' && method === 'GET') {
      let evs = sim.events;
      if (q.after) {
        const i = evs.findIndex((e) => e.id === q.after);
        evs = i >= 0 ? evs.slice(i + 1) : evs;
      }
      if (q.type) {
        const types = q.type.split(',');
        evs = evs.filter((e) => types.includes(e.type));
      }
      if (q.limit) evs = evs.slice(0, Number(q.limit));
      return { object: 'list', data: evs, has_more: false };
    }
    if (path === '/_sim/events' && method === 'POST') {
      // Emit a custom event for an existing object, e.g. { type: 'checkout.session.async_payment_succeeded', object: 'cs_...' }
      if (!b.type) throw invalid('type is required', 'type');
      const obj = b.object ? (typeof b.object === 'string' ? sim.lookupAny(b.object) : b.object) : null;
      if (!obj) throw invalid('object (an existing object id, or an object) is required', 'object');
      return sim.emit(String(b.type), obj);
    }
    if ((m = path.match(/^\/_sim\/events\/([^/]+)$/)) && method === 'GET') {
      const e = sim.get('eventsById', m[1]);
      return { event: e, payload: sim.payloads.get(e.id) };
    }
    if ((m = path.match(/^\/_sim\/events\/([^/]+)\/sign$/)) && method === 'POST') {
      const e = sim.get('eventsById', m[1]);
      const secret = b.secret ?? dispatcher.endpoints[0]?.secret;
      if (!secret) throw invalid('secret is required (no webhook endpoint configured)', 'secret');
      const payload = /** @type {string} */ (sim.payloads.get(e.id));
      const timestamp = b.timestamp !== undefined ? Number(b.timestamp) : Math.floor(Date.now() / 1000);
      return { id: e.id, type: e.type, payload, header: signPayload(payload, secret, timestamp), timestamp };
    }
    if ((m = path.match(/^\/_sim\/events\/([^/]+)\/resend$/)) && method === 'POST') {
      const e = sim.get('eventsById', m[1]);
      const payload = /** @type {string} */ (sim.payloads.get(e.id));
      const targets = b.url
        ? [{ id: 'we_adhoc', url: String(b.url), secret: String(b.secret ?? dispatcher.endpoints[0]?.secret ?? ''), deliver: true, enabled_events: ['*'] }]
        : dispatcher.endpoints.filter((ep) => WebhookDispatcher.subscribed(ep, e.type));
      const deliveries = await Promise.all(targets.map((ep) => dispatcher.deliver(ep, e, payload)));
      return { deliveries };
    }
    if ((m = path.match(/^\/_sim\/checkout\/sessions\/([^/]+)\/pay$/)) && method === 'POST') {
      try {
        const r = sim.payCheckoutSession(m[1], { card: b.card ?? b.cardNumber, expiry: b.expiry, cvc: b.cvc, name: b.name, email: b.email });
        return { ok: true, session: clone(r.session), payment_intent: clone(r.paymentIntent), redirect_url: r.redirect };
      } catch (e) {
        if (e instanceof SimError) {
          const s = sim.sessions.get(m[1]);
          return { status: e.status, body: { ok: false, error: e.error, session: s ? clone(s) : null } };
        }
        throw e;
      }
    }
    if ((m = path.match(/^\/_sim\/checkout\/sessions\/([^/]+)\/expire$/)) && method === 'POST') return sim.expireCheckoutSession(m[1]);
    if ((m = path.match(/^\/_sim\/charges\/([^/]+)\/dispute$/)) && method === 'POST') return sim.createDispute(m[1], b);
    if ((m = path.match(/^\/_sim\/disputes\/([^/]+)\/close$/)) && method === 'POST') return sim.closeDispute(m[1], b.status);
    if (path === '/_sim/faults') {
      if (method === 'GET') return { faults: faults.map((f) => ({ ...f, path: f.pathSource })) };
      if (method === 'DELETE') {
        faults = [];
        return { faults: [] };
      }
      if (method === 'POST') {
        if (!['error500', 'timeout', 'after_commit_500'].includes(b.mode)) throw invalid("mode must be one of 'error500', 'timeout', 'after_commit_500'", 'mode');
        if (!b.path) throw invalid('path (a regular expression) is required', 'path');
        /** @type {Fault} */
        const f = {
          method: b.method ? String(b.method).toUpperCase() : undefined,
          path: new RegExp(b.path),
          pathSource: String(b.path),
          count: b.count === undefined ? 1 : Number(b.count),
          mode: b.mode,
          ms: b.ms === undefined ? undefined : Number(b.ms),
          commit: Boolean(b.commit),
          hits: 0,
        };
        faults.push(f);
        return { fault: { ...f, path: f.pathSource } };
      }
    }
    return { status: 404, body: { error: { type: 'invalid_request_error', message: `Unknown control endpoint ${method} ${path}` } } };
  };

  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const method = String(req.method);
      if (method === 'OPTIONS') {
        res.writeHead(204, {
          'access-control-allow-origin': '*',
          'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
          'access-control-allow-headers': 'authorization, content-type, idempotency-key, stripe-version, stripe-account',
          'access-control-max-age': '600',
        });
        return res.end();
      }
      const text = await readBody(req);
      if (url.pathname.startsWith('/v1/')) return handleApi(req, res, url, text);
      const page = url.pathname.match(/^\/c\/pay\/([^/]+)$/);
      if (page) {
        // Faults can target the hosted page too.
        const fault = takeFault(method, url.pathname);
        if (fault?.mode === 'error500') return sendHtml(res, 500, messagePage('Something went wrong', 'Simulated fault.'));
        if (fault?.mode === 'timeout') return holdAndDrop(res, fault.ms ?? faultTimeoutMs);
        return handlePage(req, res, decodeURIComponent(page[1]), text);
      }
      if (url.pathname.startsWith('/_sim/')) {
        try {
          let b = {};
          try {
            b = parseBody(req, text);
          } catch {}
          const r = await handleControl(url, method, b);
          if (r && typeof r.status === 'number' && r.body && Object.keys(r).length === 2) return sendJson(res, r.status, r.body);
          return sendJson(res, 200, r);
        } catch (e) {
          if (e instanceof SimError) return sendJson(res, e.status, { error: e.error });
          throw e;
        }
      }
      if (url.pathname === '/' || url.pathname === '/health') return sendJson(res, 200, { ok: true, name: 'stripe-simulator' });
      return sendJson(res, 404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${url.pathname}).` } });
    } catch (e) {
      log(`internal error: ${/** @type {Error} */ (e).stack}`);
      if (!res.headersSent) sendJson(res, 500, { error: { type: 'api_error', message: `Simulator internal error: ${/** @type {Error} */ (e).message}` } });
      else res.destroy();
    }
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(undefined);
    });
  });
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;
  const url = `http://127.0.0.1:${port}`;
  sim.baseUrl = url;

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const t of holds) clearTimeout(t);
    holds.clear();
    dispatcher.close();
    sim.reset();
    await new Promise((resolve) => {
      server.close(() => resolve(undefined));
      server.closeAllConnections?.();
    });
  };

  return { url, port, close, state: sim, webhooks: dispatcher, reset };
}

// ------------------------------------------------------------------ CLI
/** @param {string[]} argv */
function parseArgs(argv) {
  /** @type {Record<string, string>} */
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else if (argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) out[a.slice(2)] = argv[++i];
    else out[a.slice(2)] = 'true';
  }
  return out;
}

const isMain = (() => {
  try {
    return !!process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
})();

if (isMain) {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    console.log(`Usage: node scripts/stripe-sim/server.mjs [--port 12111] [--webhook-url URL] [--webhook-secret whsec_...] [--no-deliver] [--quiet]
Env: STRIPE_SIM_PORT, STRIPE_SIM_WEBHOOK_URL, STRIPE_SIM_WEBHOOK_SECRET`);
    process.exit(0);
  }
  const quiet = args.quiet === 'true';
  const sim = await startStripeSimulator({
    port: Number(args.port ?? process.env.STRIPE_SIM_PORT ?? 12111),
    webhookUrl: args['webhook-url'] ?? process.env.STRIPE_SIM_WEBHOOK_URL,
    webhookSecret: args['webhook-secret'] ?? process.env.STRIPE_SIM_WEBHOOK_SECRET,
    deliverWebhooks: args['no-deliver'] !== 'true',
    logger: quiet ? false : (msg) => console.error(`[stripe-sim] ${msg}`),
  });
  console.log(`[stripe-sim] listening on ${sim.url}`);
  for (const ep of sim.webhooks.endpoints) console.log(`[stripe-sim] webhooks -> ${ep.url} (secret ${ep.secret})`);
  const stop = () => sim.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
