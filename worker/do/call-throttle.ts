import type { Failure } from './types';

/**
 * The per-account limit on billing calls (issue 13: the `billingCallsPerSecond` setting), kept by
 * the account's own Durable Object, so the service binding and signed HTTP share one budget and
 * the count is exact: the object runs one call at a time, so no two calls read the same level.
 *
 * A token bucket: it holds up to `rate × burstSeconds` calls and refills at `rate` per second; a
 * call takes one, or is refused with `rate_limited`. A changed rate takes effect at the next call
 * (the level is capped at the new size; calls already taken stay taken). It lives in memory only:
 * a restarted object starts with a full bucket, which can only let calls through, never refuse one
 * that the limit allows. The level is a float: this meters calls, not money, and an error of 1e-12
 * of a call either way changes nothing anyone can see.
 */
export class CallThrottle {
  /** Starts full: the first call caps it at the bucket's size. */
  #level = Number.POSITIVE_INFINITY;
  #at = 0;

  constructor(private readonly burstSeconds: number) {}

  /** Takes one call from the bucket at `now` (epoch ms) for a limit of `perSecond`; a Failure when the bucket is empty. */
  admit(now: number, perSecond: number): Failure | null {
    const capacity = perSecond * this.burstSeconds;
    // A clock that steps back (it never should) refills nothing rather than draining the bucket.
    const elapsed = Math.max(0, now - this.#at);
    this.#at = Math.max(this.#at, now);
    this.#level = Math.min(capacity, this.#level + (elapsed * perSecond) / 1000);
    if (this.#level >= 1) {
      this.#level -= 1;
      return null;
    }
    // The limit is a whole number of calls per second (≥ 1), so the next call is back within
    // 1 / perSecond ≤ 1 s: Retry-After (whole seconds) is always 1.
    return {
      ok: false,
      code: 'rate_limited',
      message: `Too many billing calls for this account (limit ${perSecond} per second); retry after 1 s`,
      details: { limitPerSecond: perSecond, burst: capacity, retryAfterSeconds: 1 },
    };
  }
}
