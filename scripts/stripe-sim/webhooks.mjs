// Webhook signing and delivery, exactly as Stripe signs:
//   Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, `${t}.${payload}`)>
import { createHmac, randomBytes } from 'node:crypto';

/**
 * @param {string} payload exact request body
 * @param {string} secret whsec_...
 * @param {number} [timestamp] unix seconds (default now)
 */
export function signPayload(payload, secret, timestamp = Math.floor(Date.now() / 1000)) {
  const sig = createHmac('sha256', secret).update(`${timestamp}.${payload}`, 'utf8').digest('hex');
  return `t=${timestamp},v1=${sig}`;
}

/**
 * @typedef {{ id: string, url: string, secret: string, deliver: boolean, enabled_events: string[] }} Endpoint
 * @typedef {{ at: number, status: number | null, error: string | null, duration_ms: number }} Attempt
 * @typedef {{ id: string, event: string, type: string, endpoint: string, url: string,
 *   status: 'queued'|'pending'|'succeeded'|'failed', attempts: Attempt[], next_attempt_at: number | null, duplicate?: boolean }} Delivery
 * @typedef {{ delayMs?: number | [number, number], duplicate?: number, seed?: number }} Chaos
 *   Stripe "doesn't guarantee the delivery of events in the order in which they're generated" and "endpoints might
 *   occasionally receive the same event more than once" (https://docs.stripe.com/webhooks#event-ordering,
 *   https://docs.stripe.com/webhooks#handle-duplicate-events). With chaos on, each delivery waits a random delay in
 *   `delayMs` (so events overtake each other) and is sent a second time with probability `duplicate` (0..1);
 *   `seed` makes the draws repeatable.
 */

/** A small seeded PRNG (mulberry32) so a chaotic run can be replayed. @param {number} seed */
function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class WebhookDispatcher {
  /**
   * @param {{ retryDelaysMs?: number[], maxAttempts?: number, timeoutMs?: number, chaos?: Chaos | null, logger?: (msg: string) => void }} opts
   */
  constructor(opts = {}) {
    /** @type {Chaos | null} off by default: first attempts go out in event order, once each */
    this.chaos = null;
    this.random = Math.random;
    this.setChaos(opts.chaos ?? null);
    /** @type {Endpoint[]} */
    this.endpoints = [];
    this.retryDelaysMs = opts.retryDelaysMs ?? [500, 1000, 2000, 4000, 8000, 16000, 32000];
    this.maxAttempts = opts.maxAttempts ?? 8;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.logger = opts.logger ?? (() => {});
    /** @type {Delivery[]} */
    this.log = [];
    /** @type {{ endpoint: Endpoint, event: Record<string, any>, payload: string }[]} */
    this.queued = [];
    /** @type {Set<ReturnType<typeof setTimeout>>} */
    this.timers = new Set();
    /** @type {Set<AbortController>} */
    this.inflight = new Set();
    /** @type {Map<string, Promise<unknown>>} per-endpoint chain so first attempts go out in event order */
    this.chains = new Map();
    this.stopped = false;
  }

  /** @param {{ url: string, secret?: string, deliver?: boolean, enabled_events?: string[] }} cfg */
  addEndpoint(cfg) {
    /** @type {Endpoint} */
    const ep = {
      id: `we_${randomBytes(12).toString('hex')}`,
      url: cfg.url,
      secret: cfg.secret || `whsec_${randomBytes(24).toString('hex')}`,
      deliver: cfg.deliver !== false,
      enabled_events: cfg.enabled_events?.length ? cfg.enabled_events : ['*'],
    };
    this.endpoints.push(ep);
    return ep;
  }

  /** @param {Endpoint} ep @param {string} type */
  static subscribed(ep, type) {
    return ep.enabled_events.includes('*') || ep.enabled_events.includes(type);
  }

  /** Number of endpoints an event of this type goes to. @param {string} type */
  countFor(type) {
    return this.endpoints.filter((ep) => WebhookDispatcher.subscribed(ep, type)).length;
  }

  /** Turn shuffled, delayed and duplicated delivery on (a Chaos) or off (null). @param {Chaos | null} chaos */
  setChaos(chaos) {
    this.chaos = chaos && typeof chaos === 'object' ? chaos : null;
    this.random = this.chaos?.seed !== undefined ? seededRandom(Number(this.chaos.seed)) : Math.random;
  }

  /** @param {Record<string, any>} event @param {string} payload */
  enqueue(event, payload) {
    for (const ep of this.endpoints) {
      if (!WebhookDispatcher.subscribed(ep, event.type)) continue;
      if (!ep.deliver) this.queued.push({ endpoint: ep, event, payload });
      else if (this.chaos) this.deliverChaotically(ep, event, payload);
      else this.deliver(ep, event, payload);
    }
  }

  /** Deliver after a random delay, unordered, maybe twice (see Chaos). @param {Endpoint} ep @param {Record<string, any>} event @param {string} payload */
  deliverChaotically(ep, event, payload) {
    const chaos = /** @type {Chaos} */ (this.chaos);
    const [min, max] = Array.isArray(chaos.delayMs) ? chaos.delayMs : [0, chaos.delayMs ?? 0];
    const copies = this.random() < (chaos.duplicate ?? 0) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const d = this.newDelivery(ep, event);
      if (i > 0) d.duplicate = true;
      this.attemptLater(ep, d, payload, min + Math.floor(this.random() * (Math.max(min, max) - min + 1)));
    }
  }

  /**
   * Attempt a delivery after `delay` ms (a timer `clear()` can cancel). Each attempt signs afresh, so a retry
   * carries a new timestamp, like Stripe.
   * @param {Endpoint} ep @param {Delivery} d @param {string} payload @param {number} delay
   */
  attemptLater(ep, d, payload, delay) {
    d.next_attempt_at = Date.now() + delay;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.attempt(ep, d, payload).catch(() => {});
    }, delay);
    this.timers.add(t);
  }

  /** A delivery record in the log. @param {Endpoint} ep @param {Record<string, any>} event @returns {Delivery} */
  newDelivery(ep, event) {
    /** @type {Delivery} */
    const d = {
      id: `whdel_${randomBytes(10).toString('hex')}`,
      event: event.id,
      type: event.type,
      endpoint: ep.id,
      url: ep.url,
      status: 'pending',
      attempts: [],
      next_attempt_at: Date.now(),
    };
    this.log.push(d);
    if (this.log.length > 10_000) this.log.splice(0, this.log.length - 10_000);
    return d;
  }

  /**
   * Apply a control API body (POST /_sim/webhooks): `endpoints: [...]` or `{ url, secret?, deliver?, enabled_events? }`
   * replaces the endpoints, `deliver` alone toggles delivery on the existing ones; also `retryDelaysMs`,
   * `maxAttempts`, `timeoutMs`, `chaos` (a Chaos, or null/false for ordered delivery), and `flush: true` to deliver
   * what was queued. Returns how many were flushed.
   * @param {Record<string, any>} b
   */
  configure(b) {
    if (b.retryDelaysMs) this.retryDelaysMs = b.retryDelaysMs.map(Number);
    if (b.maxAttempts) this.maxAttempts = Number(b.maxAttempts);
    if (b.timeoutMs) this.timeoutMs = Number(b.timeoutMs);
    if (b.chaos !== undefined) this.setChaos(b.chaos || null);
    if (Array.isArray(b.endpoints)) {
      this.endpoints = [];
      for (const e of b.endpoints) this.addEndpoint(e);
    } else if (b.url) {
      this.endpoints = [];
      this.addEndpoint({ url: b.url, secret: b.secret, deliver: b.deliver, enabled_events: b.enabled_events });
    } else if (b.deliver !== undefined) {
      for (const e of this.endpoints) e.deliver = b.deliver !== false;
    }
    return b.flush ? this.flush() : 0;
  }

  /** Delivery counts for GET /_sim/state. */
  stats() {
    return {
      endpoints: this.endpoints.map(WebhookDispatcher.publicEndpoint),
      queued: this.queued.length,
      deliveries: this.log.length,
      delivered: this.log.filter((d) => d.status === 'succeeded').length,
      pending: this.log.filter((d) => d.status === 'pending').length,
      failed: this.log.filter((d) => d.status === 'failed').length,
      attempts: this.log.reduce((a, d) => a + d.attempts.length, 0),
    };
  }

  /** Deliver everything queued while `deliver:false`, to endpoints that now deliver. */
  flush() {
    const keep = [];
    let n = 0;
    for (const q of this.queued) {
      if (q.endpoint.deliver && this.endpoints.includes(q.endpoint)) {
        if (this.chaos) this.deliverChaotically(q.endpoint, q.event, q.payload);
        else this.deliver(q.endpoint, q.event, q.payload);
        n++;
      } else keep.push(q);
    }
    this.queued = keep;
    return n;
  }

  /**
   * Start a delivery (first attempt serialized per endpoint); resolves after the first attempt.
   * @param {Endpoint} ep @param {Record<string, any>} event @param {string} payload
   * @returns {Promise<Delivery>}
   */
  deliver(ep, event, payload) {
    const d = this.newDelivery(ep, event);
    const prev = this.chains.get(ep.id) ?? Promise.resolve();
    const next = prev.then(() => this.attempt(ep, d, payload)).then(() => d);
    this.chains.set(
      ep.id,
      next.catch(() => {}),
    );
    return next;
  }

  /** @param {Endpoint} ep @param {Delivery} d @param {string} payload */
  async attempt(ep, d, payload) {
    if (this.stopped) return;
    const started = Date.now();
    const ctrl = new AbortController();
    this.inflight.add(ctrl);
    const timer = setTimeout(() => ctrl.abort(), this.timeoutMs);
    /** @type {Attempt} */
    const rec = { at: Math.floor(started / 1000), status: null, error: null, duration_ms: 0 };
    try {
      const res = await fetch(ep.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json; charset=utf-8',
          'stripe-signature': signPayload(payload, ep.secret),
          'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
          'cache-control': 'no-cache',
          accept: '*/*; q=0.5, application/xml',
        },
        body: payload,
        signal: ctrl.signal,
      });
      rec.status = res.status;
      await res.arrayBuffer().catch(() => {});
    } catch (err) {
      rec.error = /** @type {Error} */ (err).message || String(err);
    } finally {
      clearTimeout(timer);
      this.inflight.delete(ctrl);
    }
    rec.duration_ms = Date.now() - started;
    d.attempts.push(rec);
    if (this.stopped) return;
    if (rec.status !== null && rec.status >= 200 && rec.status < 300) {
      d.status = 'succeeded';
      d.next_attempt_at = null;
      return;
    }
    this.logger(`webhook ${d.type} ${d.event} -> ${ep.url} failed (attempt ${d.attempts.length}: ${rec.status ?? rec.error})`);
    if (d.attempts.length >= this.maxAttempts) {
      d.status = 'failed';
      d.next_attempt_at = null;
      return;
    }
    const delays = this.retryDelaysMs;
    this.attemptLater(ep, d, payload, delays[Math.min(d.attempts.length - 1, delays.length - 1)] ?? 1000);
  }

  /** Cancel pending retries and forget queued events (keeps endpoints). */
  clear() {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.inflight) c.abort();
    this.inflight.clear();
    this.queued = [];
    this.log = [];
    this.chains.clear();
  }

  close() {
    this.stopped = true;
    this.clear();
  }

  /** @param {Endpoint} ep */
  static publicEndpoint(ep) {
    return { id: ep.id, url: ep.url, secret: ep.secret, deliver: ep.deliver, enabled_events: ep.enabled_events };
  }
}
