import { beforeEach, describe, expect, it } from 'vitest';
import { authorizeHold, expireHolds, releaseHold, settleHold } from '../../../worker/do/holds';
import type { AccountRow } from '../../../worker/do/rows';
import { accountLimitsChange, apiKeyLimitsChange, apiKeyLimitsView, saveAccountLimits, spendLimitsView } from '../../../worker/do/spend-limit-changes';
import { SpendLimits, writeLimits } from '../../../worker/do/spend-limits';
import { calendarWindows, isTimeZone, type ScopeLimits } from '../../../worker/do/spend-windows';
import type { ChargeRequest } from '../../../worker/do/types';
import { chargeOperation } from '../../../worker/do/usage';
import { chat, openFundedAccount, SEED, T0 } from '../support/accounts';
import type { TestStorage } from '../support/sql-storage';


const iso = (t: number) => new Date(t).toISOString();
const NONE: ScopeLimits = { daily: null, monthly: null, lifetime: null, dailyCeiling: null, monthlyCeiling: null, revokedAt: null };

describe('calendar windows', () => {
  it('UTC by default: the day and the month around an instant', () => {
    const w = calendarWindows(Date.UTC(2026, 10, 26, 12, 0, 0), 'UTC');
    expect([iso(w.dayStart), iso(w.dayEnd), iso(w.monthStart), iso(w.monthEnd)]).toEqual([
      '2026-11-26T00:00:00.000Z',
      '2026-11-27T00:00:00.000Z',
      '2026-11-01T00:00:00.000Z',
      '2026-12-01T00:00:00.000Z',
    ]);
  });

  it('a DST day lasts 23 or 25 hours (New York, Berlin)', () => {
    const spring = calendarWindows(Date.UTC(2026, 2, 8, 15), 'America/New_York'); // 8 Mar 2026: clocks go forward at 2:00
    expect([iso(spring.dayStart), iso(spring.dayEnd)]).toEqual(['2026-03-08T05:00:00.000Z', '2026-03-09T04:00:00.000Z']);
    expect(spring.dayEnd - spring.dayStart).toBe(23 * 3600_000);
    const fall = calendarWindows(Date.UTC(2026, 10, 1, 15), 'America/New_York'); // 1 Nov 2026: back at 2:00
    expect(fall.dayEnd - fall.dayStart).toBe(25 * 3600_000);
    expect(iso(fall.monthStart)).toBe('2026-11-01T04:00:00.000Z'); // the month began in daylight time (−4)
    const berlin = calendarWindows(Date.UTC(2026, 2, 29, 12), 'Europe/Berlin');
    expect([iso(berlin.dayStart), iso(berlin.dayEnd)]).toEqual(['2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z']);
  });

  it('a day whose midnight a DST change skipped starts at its first instant (Santiago, 6 Sep 2026)', () => {
    const w = calendarWindows(Date.UTC(2026, 8, 6, 15), 'America/Santiago');
    // 00:00 does not exist: clocks jump from 23:59:59.999 (−4) to 01:00 (−3), which is 04:00 UTC.
    expect(iso(w.dayStart)).toBe('2026-09-06T04:00:00.000Z');
    expect(iso(w.dayStart - 1)).toBe('2026-09-06T03:59:59.999Z');
    expect(calendarWindows(w.dayStart - 1, 'America/Santiago').dayEnd).toBe(w.dayStart);
  });

  it('half-hour offsets and the last instant of a month', () => {
    const w = calendarWindows(Date.UTC(2026, 10, 30, 18, 29, 59, 999), 'Asia/Kolkata');
    expect([iso(w.dayStart), iso(w.monthEnd)]).toEqual(['2026-11-29T18:30:00.000Z', '2026-11-30T18:30:00.000Z']);
    expect(iso(calendarWindows(w.monthEnd, 'Asia/Kolkata').monthStart)).toBe('2026-11-30T18:30:00.000Z');
  });

  it('knows IANA names and refuses others', () => {
    expect(isTimeZone('Europe/Paris')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
  });
});

describe('changing limits', () => {
  it('the owner may not go above the admin ceiling, nor set one; an admin ceiling lowers the owner limit', () => {
    const admin = accountLimitsChange(NONE, { dailyCeiling: 1_000, daily: 800 }, 'admin') as ScopeLimits;
    expect(admin).toMatchObject({ daily: 800, dailyCeiling: 1_000 });
    expect(accountLimitsChange(admin, { daily: 1_001 }, 'user')).toMatchObject({ ok: false, code: 'bad_request' });
    expect(accountLimitsChange(admin, { daily: 1_000 }, 'user')).toMatchObject({ daily: 1_000 });
    expect(accountLimitsChange(admin, { daily: null }, 'user')).toMatchObject({ daily: null, dailyCeiling: 1_000 });
    expect(accountLimitsChange(admin, { dailyCeiling: 5_000 }, 'user')).toMatchObject({ ok: false, code: 'forbidden' });
    expect(accountLimitsChange(admin, { dailyCeiling: 500 }, 'admin')).toMatchObject({ daily: 500, dailyCeiling: 500 });
    expect(accountLimitsChange(admin, { daily: 2_000 }, 'admin')).toMatchObject({ ok: false, code: 'bad_request' });
    expect(accountLimitsChange(admin, { timeZone: 'Nowhere/Else' }, 'user')).toMatchObject({ ok: false, code: 'bad_request' });
  });

  it('a revoked key stays revoked', () => {
    const k = apiKeyLimitsChange(undefined, { daily: 10 }, T0) as ScopeLimits;
    expect(k).toMatchObject({ daily: 10, monthly: null, lifetime: null, revokedAt: null });
    const revoked = apiKeyLimitsChange(k, null, T0) as ScopeLimits;
    expect(revoked.revokedAt).toBe(T0);
    expect(apiKeyLimitsChange(revoked, { daily: 99 }, T0)).toEqual({ ok: false, code: 'api_key_revoked' });
  });
});

describe('limits in the charge and hold paths', () => {
  let s: TestStorage;
  let account: AccountRow;
  let limits: SpendLimits;
  beforeEach(async () => {
    ({ s, account } = await openFundedAccount(1_000_000));
    limits = new SpendLimits();
    limits.load(s.sql, T0);
  });

  const setAccount = (l: Partial<ScopeLimits>, timeZone?: string) => {
    s.transaction(() => saveAccountLimits(s.sql, { ...NONE, ...l }, timeZone, T0));
    limits.load(s.sql, T0);
  };
  const setKey = (id: string, l: Partial<ScopeLimits>) => {
    s.transaction(() => writeLimits(s.sql, `key:${id}`, { ...NONE, ...l }, T0));
    limits.load(s.sql, T0);
  };
  // tokens × 1.5 (the default multiplier): 2 tokens bill 3.
  const charge = (req: ChargeRequest, now = T0 + 1) => {
    const out = chargeOperation(s.sql, s.transaction, account, SEED, req, now, limits);
    if (out.next) account = out.next;
    return out.result;
  };
  const authorize = (key: string, estimatedTokens: number, now = T0 + 1, apiKeyId?: string) => {
    const out = authorizeHold(s.sql, s.transaction, account, SEED, { idempotencyKey: key, operation: 'chat', model: 'gpt-4o', estimatedTokens, apiKeyId }, now, limits);
    if (out.next) account = out.next;
    return out.result;
  };
  const billed = () => s.rows<{ t: number | null }>(`SELECT -sum(amount) AS t FROM ledger WHERE type = 'usage'`)[0].t ?? 0;

  it('without limits nothing is counted and nothing is read', () => {
    expect(charge(chat('k1', 100))).toMatchObject({ ok: true });
    expect(limits.usage('account', T0 + 1)).toMatchObject({ day: 0, month: 0, held: 0 });
  });

  it('1,000 charges of 1–7 tokens against a daily limit stop exactly at it', () => {
    setAccount({ daily: 5_000 });
    const { dayEnd } = calendarWindows(T0, 'UTC');
    let refused = 0;
    for (let i = 0; i < 1_000; i++) {
      const r = charge(chat(`k${i}`, 1 + (i % 7)));
      if (!r.ok) {
        refused++;
        expect(r).toMatchObject({ code: 'spend_limit_reached', details: { scope: 'account', window: 'daily', limit: 5_000, resetsAt: dayEnd } });
      }
    }
    expect(refused).toBeGreaterThan(0);
    expect(billed()).toBeLessThanOrEqual(5_000);
    // Nothing smaller than the remainder fits any more: the limit was used to the token a charge could use.
    expect(5_000 - billed()).toBeLessThan(3);
    expect(s.rows(`SELECT count(*) AS n FROM usage WHERE error_code = 'spend_limit_reached'`)).toEqual([{ n: refused }]);
    // The tracker agrees with a rebuild from storage.
    const again = new SpendLimits();
    again.load(s.sql, T0 + 2);
    expect(again.usage('account', T0 + 2)).toEqual(limits.usage('account', T0 + 2));
  });

  it('the refusal order: a revoked key, then the balance, then the limits', () => {
    setAccount({ daily: 10 });
    setKey('k_live', {});
    expect(charge(chat('a', 1, { apiKeyId: 'k_unknown' }))).toEqual({ ok: false, code: 'api_key_revoked' });
    expect(charge(chat('b', 1_000_000))).toEqual({ ok: false, code: 'insufficient_balance' });
    expect(charge(chat('c', 100, { apiKeyId: 'k_live' }))).toMatchObject({ ok: false, code: 'spend_limit_reached' });
    expect(s.rows(`SELECT error_code, api_key_id FROM usage ORDER BY n`)).toEqual([
      { error_code: 'api_key_revoked', api_key_id: 'k_unknown' },
      { error_code: 'insufficient_balance', api_key_id: null },
      { error_code: 'spend_limit_reached', api_key_id: 'k_live' },
    ]);
  });

  it('a repeat of a committed charge replays even after the limit is reached', () => {
    setAccount({ daily: 3 });
    const first = charge(chat('k1', 2));
    expect(first).toMatchObject({ ok: true, billableTokens: 3 });
    expect(charge(chat('k2', 2))).toMatchObject({ ok: false, code: 'spend_limit_reached' });
    expect(charge(chat('k1', 2))).toEqual(first);
  });

  it('holds count until they end; a settle counts its actual cost, never refused', () => {
    setAccount({ daily: 300 });
    const h1 = authorize('h1', 100); // 150
    const h2 = authorize('h2', 100); // 150: 300 held
    if (!h1.ok || !h2.ok) throw new Error('refused');
    expect(authorize('h3', 1)).toMatchObject({ ok: false, code: 'spend_limit_reached' });
    expect(charge(chat('c1', 1))).toMatchObject({ ok: false, code: 'spend_limit_reached' });
    const rel = releaseHold(s.sql, s.transaction, account, h1.reservationId, T0 + 2, limits);
    account = rel.next!;
    expect(limits.usage('account', T0 + 2)).toMatchObject({ day: 0, held: 150 });
    // Settling above the hold is billed in full (the work was done), even past the limit.
    const st = settleHold(s.sql, s.transaction, account, SEED, { reservationId: h2.reservationId, tokens: 200, success: true }, T0 + 3, limits);
    account = st.next!;
    expect(st.result).toMatchObject({ ok: true, billableTokens: 300 });
    expect(limits.usage('account', T0 + 3)).toMatchObject({ day: 300, held: 0 });
    expect(charge(chat('c2', 1), T0 + 4)).toMatchObject({ ok: false, code: 'spend_limit_reached' });
  });

  it('an expired hold stops counting', () => {
    setAccount({ daily: 150 });
    expect(authorizeHold(s.sql, s.transaction, account, SEED, { idempotencyKey: 'h', operation: 'chat', model: 'gpt-4o', estimatedTokens: 100, ttlMs: 1_000 }, T0, limits).result).toMatchObject({ ok: true });
    account = s.rows<AccountRow>(`SELECT * FROM account`)[0];
    expect(charge(chat('c1', 1))).toMatchObject({ ok: false, code: 'spend_limit_reached' });
    s.transaction(() => expireHolds(s.sql, account, T0 + 1_000, (k, n) => limits.freed(k, n)));
    account = s.rows<AccountRow>(`SELECT * FROM account`)[0];
    expect(charge(chat('c2', 1), T0 + 1_001)).toMatchObject({ ok: true });
  });

  it("a hold settled at expiry counts as a settle of its held amount: spent by its key and the account, no longer held", () => {
    setAccount({ daily: 400 });
    setKey('k1', { daily: 1_000 });
    const h = authorizeHold(s.sql, s.transaction, account, SEED, { idempotencyKey: 'h', operation: 'chat', model: 'gpt-4o', estimatedTokens: 100, ttlMs: 1_000, apiKeyId: 'k1', onExpiry: 'settle' }, T0, limits);
    expect(h.result).toMatchObject({ ok: true, reservedTokens: 150 });
    account = h.next!;
    expect(limits.usage('key:k1', T0)).toMatchObject({ day: 0, held: 150 });
    account = s.transaction(() => expireHolds(s.sql, account, T0 + 1_000, (k, n) => limits.freed(k, n), (k, n) => limits.spent(k, n, T0 + 1_000)))!;
    expect(limits.usage('key:k1', T0 + 1_000)).toMatchObject({ day: 150, month: 150, total: 150, held: 0 });
    expect(limits.usage('account', T0 + 1_000)).toMatchObject({ day: 150, held: 0 });
    // 400 − 150 spent: 250 is left under the account's daily limit, and no more.
    expect(charge(chat('fits', 166), T0 + 1_001)).toMatchObject({ ok: true, billableTokens: 249 });
    expect(charge(chat('over', 1), T0 + 1_002)).toMatchObject({ ok: false, code: 'spend_limit_reached' });
    // A rebuild from storage (the object restarted) counts the captured hold the same way.
    const again = new SpendLimits();
    again.load(s.sql, T0 + 1_003);
    expect(again.usage('key:k1', T0 + 1_003)).toEqual(limits.usage('key:k1', T0 + 1_003));
    expect(again.usage('account', T0 + 1_003)).toEqual(limits.usage('account', T0 + 1_003));
  });

  it('the window resets at local midnight; the month at the first of the month', () => {
    setAccount({ daily: 30, monthly: 45 }, 'America/New_York');
    const { dayEnd, monthEnd } = calendarWindows(T0, 'America/New_York');
    expect(charge(chat('a', 20), T0)).toMatchObject({ ok: true, billableTokens: 30 });
    expect(charge(chat('b', 1), dayEnd - 1)).toMatchObject({ ok: false, code: 'spend_limit_reached', details: { window: 'daily', resetsAt: dayEnd } });
    expect(charge(chat('c', 10), dayEnd)).toMatchObject({ ok: true, billableTokens: 15 });
    expect(charge(chat('d', 1), dayEnd + 1)).toMatchObject({ ok: false, details: { window: 'monthly', resetsAt: monthEnd } });
    expect(charge(chat('e', 1), monthEnd)).toMatchObject({ ok: true });
    // A rebuild at load finds the same windows from the ledger.
    const again = new SpendLimits();
    again.load(s.sql, monthEnd);
    expect(again.usage('account', monthEnd)).toMatchObject({ day: 2, month: 2 });
    expect(spendLimitsView(again, monthEnd)).toMatchObject({ timeZone: 'America/New_York', daily: { limit: 30, spent: 2 }, monthly: { limit: 45, spent: 2 } });
  });

  it("a key's limits count its own calls, the account's count them all; lifetime caps never reset", () => {
    setKey('k1', { daily: 30, lifetime: 45 });
    setKey('k2', {});
    expect(charge(chat('a', 20, { apiKeyId: 'k1' }))).toMatchObject({ ok: true });
    expect(charge(chat('b', 1, { apiKeyId: 'k1' }))).toMatchObject({ ok: false, details: { scope: 'key', apiKeyId: 'k1', window: 'daily' } });
    expect(charge(chat('c', 100, { apiKeyId: 'k2' }))).toMatchObject({ ok: true });
    expect(charge(chat('d', 100))).toMatchObject({ ok: true });
    const tomorrow = calendarWindows(T0, 'UTC').dayEnd;
    expect(charge(chat('e', 10, { apiKeyId: 'k1' }), tomorrow)).toMatchObject({ ok: true });
    expect(charge(chat('f', 1, { apiKeyId: 'k1' }), tomorrow)).toMatchObject({ ok: false, details: { window: 'lifetime', resetsAt: null } });
    expect(apiKeyLimitsView(limits, 'k1', tomorrow)).toMatchObject({ lifetime: { limit: 45, spent: 45 }, daily: { spent: 15 } });
    expect(limits.usage('account', tomorrow)).toMatchObject({ day: 15, total: 345 });
    const again = new SpendLimits();
    again.load(s.sql, tomorrow);
    expect(again.usage('key:k1', tomorrow)).toEqual(limits.usage('key:k1', tomorrow));
    expect(again.usage('account', tomorrow)).toEqual(limits.usage('account', tomorrow));
  });

  it('a settle is billed to its hold’s key, and a revoked key cannot start new work', () => {
    setKey('k1', { daily: 1_000 });
    const h = authorize('h1', 100, T0 + 1, 'k1');
    if (!h.ok) throw new Error(h.code);
    s.transaction(() => writeLimits(s.sql, 'key:k1', { ...NONE, daily: 1_000, revokedAt: T0 + 2 }, T0 + 2));
    limits.load(s.sql, T0 + 2);
    expect(authorize('h2', 1, T0 + 3, 'k1')).toEqual({ ok: false, code: 'api_key_revoked' });
    const wrongKey = settleHold(s.sql, s.transaction, account, SEED, { reservationId: h.reservationId, tokens: 10, success: true, apiKeyId: 'k2' }, T0 + 4, limits);
    expect(wrongKey.result).toMatchObject({ ok: false, code: 'bad_request' });
    const st = settleHold(s.sql, s.transaction, account, SEED, { reservationId: h.reservationId, tokens: 10, success: true }, T0 + 4, limits);
    expect(st.result).toMatchObject({ ok: true, billableTokens: 15 });
    expect(s.rows(`SELECT api_key_id FROM ledger WHERE type = 'usage'`)).toEqual([{ api_key_id: 'k1' }]);
    expect(limits.usage('key:k1', T0 + 4)).toMatchObject({ day: 15, held: 0 });
  });
});
