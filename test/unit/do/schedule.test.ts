import { describe, expect, it } from 'vitest';
import { IDEMPOTENCY_RETENTION_MS } from '../../../worker/do/idempotency';
import { AlarmClock, backoffMs, flushDueAt, MAX_BACKOFF_MS, nextDueAt, OUTBOX_FLUSH_DELAY_MS, OUTBOX_FLUSH_INTERVAL_MS, type DueState } from '../../../worker/do/schedule';

const NOW = 1_000_000;
const idle: DueState = { now: NOW, outboxPending: false, flushFailures: 0, arState: 'off', arNextAt: null, earliestHoldExpiry: null, oldestAnswerAt: null };

describe('nextDueAt', () => {
  it('is null when nothing is due', () => {
    expect(nextDueAt(idle)).toBeNull();
    // An in-flight recharge without a retry time, or an armed one, is nothing to do.
    expect(nextDueAt({ ...idle, arState: 'armed', arNextAt: NOW + 5 })).toBeNull();
  });

  it('picks the earliest due time of all kinds of work', () => {
    const s = { ...idle, outboxPending: true, earliestHoldExpiry: NOW + 50, oldestAnswerAt: NOW - IDEMPOTENCY_RETENTION_MS + 70, arState: 'confirming' as const, arNextAt: NOW + 60 };
    expect(nextDueAt(s)).toBe(NOW + 50);
    expect(nextDueAt({ ...s, earliestHoldExpiry: NOW + 500 })).toBe(NOW + 60);
    expect(nextDueAt({ ...s, earliestHoldExpiry: null, arNextAt: null })).toBe(NOW + 70);
    expect(nextDueAt({ ...s, earliestHoldExpiry: null, arNextAt: null, oldestAnswerAt: null })).toBe(NOW + OUTBOX_FLUSH_DELAY_MS);
  });

  it('includes the next grant expiry and the next grant.expiring notice instant (an overdue notice is due now)', () => {
    expect(nextDueAt({ ...idle, nextGrantExpiry: NOW + 900, nextGrantNotice: NOW + 400 })).toBe(NOW + 400);
    expect(nextDueAt({ ...idle, nextGrantExpiry: NOW + 300, nextGrantNotice: NOW + 400 })).toBe(NOW + 300);
    expect(nextDueAt({ ...idle, nextGrantNotice: NOW + 400 })).toBe(NOW + 400);
    expect(nextDueAt({ ...idle, nextGrantNotice: NOW - 5_000 })).toBe(NOW);
    expect(nextDueAt({ ...idle, nextGrantNotice: null })).toBeNull();
  });

  it('a scheduled recharge is due now; overdue work is due now, never in the past', () => {
    expect(nextDueAt({ ...idle, outboxPending: true, arState: 'scheduled' })).toBe(NOW);
    expect(nextDueAt({ ...idle, earliestHoldExpiry: NOW - 10_000 })).toBe(NOW);
  });

  it('the outbox backs off after failed flushes, up to a minute', () => {
    const s = { ...idle, outboxPending: true };
    expect(nextDueAt({ ...s, flushFailures: 1 })).toBe(NOW + 500);
    expect(nextDueAt({ ...s, flushFailures: 3 })).toBe(NOW + 2_000);
    expect(nextDueAt({ ...s, flushFailures: 30 })).toBe(NOW + MAX_BACKOFF_MS);
    expect(backoffMs(2)).toBe(1_000);
  });

  it('the outbox flushes a short delay after a change, and no sooner than the interval after its last flush', () => {
    const s = { ...idle, outboxPending: true };
    // None since the object woke, or the last one long ago: the short delay.
    expect(nextDueAt(s)).toBe(NOW + OUTBOX_FLUSH_DELAY_MS);
    expect(nextDueAt({ ...s, lastFlushAt: NOW - 10 * OUTBOX_FLUSH_INTERVAL_MS })).toBe(NOW + OUTBOX_FLUSH_DELAY_MS);
    expect(nextDueAt({ ...s, lastFlushAt: NOW - OUTBOX_FLUSH_INTERVAL_MS + OUTBOX_FLUSH_DELAY_MS })).toBe(NOW + OUTBOX_FLUSH_DELAY_MS);
    // A flush 300 ms ago: the next one waits for the rest of the interval.
    expect(nextDueAt({ ...s, lastFlushAt: NOW - 300 })).toBe(NOW - 300 + OUTBOX_FLUSH_INTERVAL_MS);
    expect(flushDueAt(NOW, NOW, 0)).toBe(NOW + OUTBOX_FLUSH_INTERVAL_MS);
    // Failures back off whatever the interval says (here sooner than it).
    expect(flushDueAt(NOW, NOW, 1)).toBe(NOW + backoffMs(1));
    // Other due work is not held back by the interval.
    expect(nextDueAt({ ...s, lastFlushAt: NOW, earliestHoldExpiry: NOW + 200 })).toBe(NOW + 200);
    expect(OUTBOX_FLUSH_INTERVAL_MS).toBeGreaterThan(OUTBOX_FLUSH_DELAY_MS);
  });
});

describe('AlarmClock', () => {
  const fakeStorage = () => {
    const calls: (number | null)[] = [];
    return { calls, storage: { setAlarm: async (at: number | Date) => void calls.push(Number(at)), deleteAlarm: async () => void calls.push(null) } };
  };

  it('request only ever moves the alarm earlier', () => {
    const { calls, storage } = fakeStorage();
    const clock = new AlarmClock(storage, null);
    clock.request(200);
    clock.request(300);
    clock.request(100);
    expect(calls).toEqual([200, 100]);
    expect(clock.at).toBe(100);
  });

  it('set moves it either way or clears it, and skips a write when nothing changes', () => {
    const { calls, storage } = fakeStorage();
    const clock = new AlarmClock(storage, 100);
    clock.set(100);
    clock.set(500);
    clock.set(null);
    expect(calls).toEqual([500, null]);
    expect(clock.at).toBeNull();
  });
});
