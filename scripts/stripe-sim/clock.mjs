// The simulator's clock: real time plus an offset tests move forward (POST /_sim/clock), so behaviour that
// depends on elapsed time (idempotency keys expiring after 24 h, Checkout Sessions expiring, `created`
// stamps) can be tested without waiting. Webhook signatures keep real time: the receiver checks them against
// its own clock.

export class Clock {
  constructor() {
    /** Milliseconds added to the real time. */
    this.offsetMs = 0;
  }

  /** Current simulated time in milliseconds. */
  nowMs() {
    return Date.now() + this.offsetMs;
  }

  /** Current simulated time in unix seconds (Stripe's timestamps). */
  now() {
    return Math.floor(this.nowMs() / 1000);
  }

  /** Move the clock forward (never back: keys and objects must not travel into the past). @param {number} ms */
  advance(ms) {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError('the clock only moves forward');
    this.offsetMs += ms;
  }

  reset() {
    this.offsetMs = 0;
  }

  /** For GET/POST /_sim/clock. */
  toJSON() {
    return { now: this.now(), offset_seconds: Math.floor(this.offsetMs / 1000) };
  }
}
