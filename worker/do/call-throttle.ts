import type { Failure } from './types';

/**
 * The per-account limit on billing calls (issue 13: the `billingCallsPerSecond` setting), kept by
 * the account's own Durable Object, so the service binding and signed HTTP share one budget and
 * the count is exact: the object runs one call at a time, so no two calls read the same level.
 *
 * A token bucket: it holds up to `rate × BILLING_BURST_SECONDS` calls and refills at `rate` per
 * second; a call takes one, or is refused with `rate_limited` and the seconds until one is back.
 * It lives in memory only: a restarted object starts with a full bucket, which can only let
 * calls through, never refuse one that the limit allows. The level is a float: this meters calls,
 * not money, and an error of 1e-12 of a call either way changes nothing anyone can see.
 */
export class CallThrottle {
  #level = Number.NaN;
  #at = 0;
  #rate = 0;

  constructor(private readonly burstSeconds: number) {}

  /**
   * Takes one call from the bucket at `now` (epoch ms) for a limit of `perSecond`; a Failure when
   * the bucket is empty. A changed limit resizes the bucket and keeps the calls already taken.
   */
  admit(now: number, perSecond: number): Failure | null {
    const capacity = perSecond * this.burstSeconds;
    if (Number.isNaN(this.#level)) this.#level = capacity;
    else if (perSecond !== this.#rate) this.#level = Math.min(capacity, this.#level);
    this.#rate = perSecond;
    // A clock that steps back (it never should) refills nothing rather than draining the bucket.
    const elapsed = Math.max(0, now - this.#at);
    this.#at = Math.max(this.#at, now);
    this.#level = Math.min(capacity, this.#level + (elapsed * perSecond) / 1000);
    if (this.#level >= 1) {
      this.#level -= 1;
      return null;
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((1 - this.#level) / perSecond));
    return {
      ok: false,
      code: 'rate_limited',
      message: `Too many billing calls for this account (limit ${perSecond} per second); retry after ${retryAfterSeconds} s`,
      details: { limitPerSecond: perSecond, burst: capacity, retryAfterSeconds },
    };
  }
}
