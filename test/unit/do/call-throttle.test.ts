import { describe, expect, it } from 'vitest';
import { CallThrottle } from '../../../worker/do/call-throttle';

const T0 = 1_800_000_000_000;

/** How many of `n` calls at the same instant the throttle lets through. */
function admitted(t: CallThrottle, n: number, now: number, rate: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (t.admit(now, rate) === null) ok++;
  return ok;
}

describe('CallThrottle', () => {
  it('starts full: a burst of rate × burst seconds passes at one instant, the next call is refused', () => {
    const t = new CallThrottle(10);
    expect(admitted(t, 30, T0, 3)).toBe(30);
    const refused = t.admit(T0, 3);
    expect(refused).toEqual({
      ok: false,
      code: 'rate_limited',
      message: 'Too many billing calls for this account (limit 3 per second); retry after 1 s',
      details: { limitPerSecond: 3, burst: 30, retryAfterSeconds: 1 },
    });
  });

  it('refills at the rate: one call back every 1000 / rate ms, never beyond the burst', () => {
    const t = new CallThrottle(10);
    expect(admitted(t, 40, T0, 4)).toBe(40);
    expect(t.admit(T0 + 249, 4)).not.toBeNull(); // 0.996 of a call back
    expect(t.admit(T0 + 250, 4)).toBeNull(); // exactly one (the refused call took nothing)
    expect(t.admit(T0 + 250, 4)).not.toBeNull();
    // A long pause fills it to the burst, not more.
    expect(admitted(t, 100, T0 + 3_600_000, 4)).toBe(40);
  });

  it('says how long until a call is back, in whole seconds, at least 1', () => {
    const t = new CallThrottle(2);
    expect(admitted(t, 2, T0, 1)).toBe(2);
    expect(t.admit(T0, 1)?.details?.retryAfterSeconds).toBe(1);
    const slow = new CallThrottle(1);
    expect(admitted(slow, 1, T0, 1)).toBe(1);
    expect(slow.admit(T0 + 100, 1)?.details).toMatchObject({ retryAfterSeconds: 1, burst: 1 });
  });

  it('a lower limit shrinks the bucket to its burst; a higher one keeps the calls already taken', () => {
    const t = new CallThrottle(10);
    expect(admitted(t, 50, T0, 100)).toBe(50); // 950 of 1,000 left
    expect(admitted(t, 100, T0, 5)).toBe(50); // capped at the new burst of 50
    expect(admitted(t, 10, T0, 100)).toBe(0); // raising the limit adds no calls by itself
    expect(admitted(t, 100, T0 + 1_000, 100)).toBe(100); // one second at the new rate
  });

  it('a clock that steps back refills nothing and takes nothing extra', () => {
    const t = new CallThrottle(1);
    expect(admitted(t, 2, T0, 2)).toBe(2);
    expect(t.admit(T0 - 5_000, 2)).not.toBeNull();
    expect(t.admit(T0 + 500, 2)).toBeNull();
  });
});
