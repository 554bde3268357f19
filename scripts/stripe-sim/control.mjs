// The control API (/_sim/…, no auth, JSON) that tests and `npm start` use to inspect and steer the simulator:
// state, reset, webhook endpoints and deliveries, events (sign, resend, emit), test helpers that stand in for
// the cardholder or the card network (pay a session, open/close a dispute), and injected faults.
// A handler answers an object (200) or `{ status, body }`.
import { clone, invalid, SimError } from './lib.mjs';
import { compileRoutes } from './router.mjs';
import { expireCheckoutSession, payCheckoutSession } from './resources/checkout-sessions.mjs';
import { closeDispute, createDispute, moveDispute } from './resources/disputes.mjs';
import { settleBankDebit } from './resources/payment-intents.mjs';
import { settleRefund } from './resources/refunds.mjs';
import { WebhookDispatcher, signPayload } from './webhooks.mjs';

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {{ b: Obj, q: Record<string, string>, params: Record<string, string> }} Ctx b: JSON/form body, q: query
 * @typedef {(c: Ctx) => any} Handler
 * @typedef {{ store: import('./store.mjs').Store, dispatcher: WebhookDispatcher, faults: import('./faults.mjs').Faults,
 *   idempotency: import('./idempotency.mjs').IdempotencyKeys, reset: () => void }} Deps
 */

/** @param {Deps} deps @returns {import('./router.mjs').Route<Handler>[]} */
function controlRoutes({ store, dispatcher, faults, idempotency, reset }) {
  const publicEndpoints = () => dispatcher.endpoints.map(WebhookDispatcher.publicEndpoint);
  /** @param {string} id */
  const eventWithPayload = (id) => {
    const e = store.get('eventsById', id);
    return { e, payload: /** @type {string} */ (store.payloads.get(e.id)) };
  };
  return [
    ['GET', '/_sim/state', () => ({ ...store.summary(), webhooks: dispatcher.stats(), idempotency_keys: idempotency.size, faults: faults.active })],
    [
      'POST',
      '/_sim/reset',
      () => {
        reset();
        return { ok: true };
      },
    ],

    ['GET', '/_sim/webhooks', () => ({ endpoints: publicEndpoints(), queued: dispatcher.queued.length, deliveries: dispatcher.log })],
    [
      'DELETE',
      '/_sim/webhooks',
      () => {
        dispatcher.endpoints = [];
        return { endpoints: [] };
      },
    ],
    [
      'POST',
      '/_sim/webhooks',
      (c) => {
        const flushed = dispatcher.configure(c.b);
        return { endpoints: publicEndpoints(), flushed };
      },
    ],
    ['POST', '/_sim/webhooks/flush', () => ({ flushed: dispatcher.flush() })],
    [
      'GET',
      '/_sim/deliveries',
      ({ q }) => ({ data: dispatcher.log.filter((d) => (!q.event || d.event === q.event) && (!q.status || d.status === q.status) && (!q.type || d.type === q.type)) }),
    ],

    [
      'GET',
      '/_sim/events',
      ({ q }) => {
        let evs = store.events;
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
      },
    ],
    [
      'POST',
      '/_sim/events',
      ({ b }) => {
        // Emit a custom event for an existing object, e.g. { type: 'checkout.session.async_payment_succeeded', object: 'cs_...' }
        if (!b.type) throw invalid('type is required', 'type');
        const obj = b.object ? (typeof b.object === 'string' ? store.lookupAny(b.object) : b.object) : null;
        if (!obj) throw invalid('object (an existing object id, or an object) is required', 'object');
        return store.emit(String(b.type), obj);
      },
    ],
    [
      'GET',
      '/_sim/events/:id',
      ({ params }) => {
        const { e, payload } = eventWithPayload(params.id);
        return { event: e, payload };
      },
    ],
    [
      'POST',
      '/_sim/events/:id/sign',
      ({ params, b }) => {
        const { e, payload } = eventWithPayload(params.id);
        const secret = b.secret ?? dispatcher.endpoints[0]?.secret;
        if (!secret) throw invalid('secret is required (no webhook endpoint configured)', 'secret');
        const timestamp = b.timestamp !== undefined ? Number(b.timestamp) : Math.floor(Date.now() / 1000);
        return { id: e.id, type: e.type, payload, header: signPayload(payload, secret, timestamp), timestamp };
      },
    ],
    [
      'POST',
      '/_sim/events/:id/resend',
      async ({ params, b }) => {
        const { e, payload } = eventWithPayload(params.id);
        const targets = b.url
          ? [{ id: 'we_adhoc', url: String(b.url), secret: String(b.secret ?? dispatcher.endpoints[0]?.secret ?? ''), deliver: true, enabled_events: ['*'] }]
          : dispatcher.endpoints.filter((ep) => WebhookDispatcher.subscribed(ep, e.type));
        const deliveries = await Promise.all(targets.map((ep) => dispatcher.deliver(ep, e, payload)));
        return { deliveries };
      },
    ],

    [
      'POST',
      '/_sim/checkout/sessions/:id/pay',
      ({ params, b }) => {
        try {
          const r = payCheckoutSession(store, params.id, { card: b.card ?? b.cardNumber, expiry: b.expiry, cvc: b.cvc, name: b.name, email: b.email });
          return { ok: true, session: clone(r.session), payment_intent: clone(r.paymentIntent), redirect_url: r.redirect };
        } catch (e) {
          if (!(e instanceof SimError)) throw e;
          const s = store.sessions.get(params.id);
          return { status: e.status, body: { ok: false, error: e.error, session: s ? clone(s) : null } };
        }
      },
    ],
    ['POST', '/_sim/checkout/sessions/:id/expire', ({ params }) => expireCheckoutSession(store, params.id)],
    // The card network's side of a dispute: open one (`{ amount?, reason?, status? }`, status
    // 'warning_needs_response' for an inquiry), move it on, close it.
    ['POST', '/_sim/charges/:id/dispute', ({ params, b }) => createDispute(store, params.id, b)],
    ['POST', '/_sim/disputes/:id/update', ({ params, b }) => moveDispute(store, params.id, String(b.status))],
    ['POST', '/_sim/disputes/:id/close', ({ params, b }) => store.outsideRequest(() => closeDispute(store, params.id, b.status))],
    // The bank's side of a refund and of a bank debit.
    ['POST', '/_sim/refunds/:id/settle', ({ params, b }) => store.outsideRequest(() => settleRefund(store, params.id, String(b.status), b.failure_reason))],
    ['POST', '/_sim/payment_intents/:id/settle', ({ params, b }) => store.outsideRequest(() => settleBankDebit(store, params.id, String(b.outcome ?? 'succeeded')))],

    // Simulated time: `{ advance_seconds }` (or `advance_ms`) moves it forward, e.g. past an idempotency key's 24 h.
    ['GET', '/_sim/clock', () => store.clock.toJSON()],
    [
      'POST',
      '/_sim/clock',
      ({ b }) => {
        const ms = b.advance_ms !== undefined ? Number(b.advance_ms) : Number(b.advance_seconds ?? 0) * 1000;
        if (!Number.isFinite(ms) || ms < 0) throw invalid('advance_seconds (or advance_ms) must be a number ≥ 0: the clock only moves forward', 'advance_seconds');
        store.clock.advance(ms);
        return store.clock.toJSON();
      },
    ],

    ['GET', '/_sim/faults', () => ({ faults: faults.list() })],
    [
      'DELETE',
      '/_sim/faults',
      () => {
        faults.clear();
        return { faults: [] };
      },
    ],
    ['POST', '/_sim/faults', ({ b }) => ({ fault: faults.add(b) })],
  ];
}

/**
 * @param {Deps} deps
 * @returns {(method: string, url: URL, b: Obj) => Promise<any>} answers an object or `{ status, body }`; throws SimError
 */
export function createControlHandler(deps) {
  const match = compileRoutes(controlRoutes(deps));
  return async (method, url, b) => {
    const route = match(method, url.pathname);
    if (!route.handler) return { status: 404, body: { error: { type: 'invalid_request_error', message: `Unknown control endpoint ${method} ${url.pathname}` } } };
    return route.handler({ b, q: Object.fromEntries(url.searchParams), params: route.params });
  };
}
