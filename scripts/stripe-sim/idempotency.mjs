// Idempotency keys as Stripe's API v1 keeps them (https://docs.stripe.com/idempotency,
// https://docs.stripe.com/api/idempotent_requests):
// - "Stripe saves the status code and body of the first request made with a given idempotency key after endpoint
//   execution begins. Retries with the same key return the saved response, including 500 errors."
// - "We save results only after the execution of an endpoint begins. If incoming parameters fail validation, or the
//   request conflicts with another that's executing concurrently, no idempotent result is saved."
// - "You can remove keys from the system automatically after they're at least 24 hours old. We generate a new
//   request if a key is reused after the original is pruned." → `ttlMs` (24 h) on the simulator's Clock.
// - "Idempotency keys are up to 255 characters long." → longer (or empty) keys are refused with a 400.
// - "The idempotency layer compares incoming parameters to those of the original request and errors if they're not
//   the same" → 400 `idempotency_error` (the SDK's StripeIdempotencyError).
// - A request while the first one with its key is still executing: 409 Conflict, "The request conflicts with another
//   request (perhaps due to using the same idempotent key)" (https://docs.stripe.com/api/errors). Stripe's
//   docs name no error type for it; `idempotency_error` is the documented type for a key used improperly.

/**
 * @typedef {Record<string, any>} Obj
 * @typedef {{ method: string, path: string, params: string, status: number, body: Obj, requestId: string, savedAt: number }} StoredResult
 */

export const MAX_KEY_LENGTH = 255;
export const DEFAULT_TTL_MS = 24 * 3600 * 1000;

export class IdempotencyKeys {
  /** @param {import('./clock.mjs').Clock} clock @param {number} [ttlMs] */
  constructor(clock, ttlMs = DEFAULT_TTL_MS) {
    this.clock = clock;
    this.ttlMs = ttlMs;
    /** @type {Map<string, StoredResult>} by `${apiKey}\0${key}` */
    this.saved = new Map();
    /** @type {Set<string>} keys whose first request is still executing */
    this.inFlight = new Set();
  }

  /** Why a key is refused before anything else happens, or null. @param {string} key */
  static invalidKey(key) {
    if (key.length === 0) return 'Idempotency keys must be at least 1 character long.';
    if (key.length > MAX_KEY_LENGTH) return `Idempotency keys can be up to ${MAX_KEY_LENGTH} characters long; this one has ${key.length}.`;
    return null;
  }

  /** The saved result for a key, unless it has expired (then it is pruned and the key is new again). @param {string} storeKey */
  get(storeKey) {
    const r = this.saved.get(storeKey);
    if (!r) return undefined;
    if (this.clock.nowMs() - r.savedAt >= this.ttlMs) {
      this.saved.delete(storeKey);
      return undefined;
    }
    return r;
  }

  /** @param {string} storeKey @param {Omit<StoredResult, 'savedAt'>} r */
  save(storeKey, r) {
    this.saved.set(storeKey, { ...r, savedAt: this.clock.nowMs() });
  }

  /** Keys saved and not yet expired. */
  get size() {
    let n = 0;
    for (const k of [...this.saved.keys()]) if (this.get(k)) n++;
    return n;
  }

  clear() {
    this.saved.clear();
    this.inFlight.clear();
  }
}
