import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { calendarWindows } from '../../worker/do/spend-windows';
import { account, drain, newAccount, signedPost, usageRecords } from '../helpers';

const chat = (key: string, tokens: number, apiKeyId?: string) => ({ idempotencyKey: key, operation: 'chat' as const, model: 'gpt-4o', tokens, ...(apiKeyId ? { apiKeyId } : {}) });

async function billed(userId: string): Promise<number> {
  const ledger = await account(userId).getLedger();
  return -ledger.filter((e) => e.type === 'usage').reduce((s, e) => s + e.amount, 0);
}

async function funded(tokens = 1_000_000): Promise<string> {
  const userId = await newAccount();
  await account(userId).credit({ type: 'admin_grant', amount: tokens, ref: 'grant:topup' });
  return userId;
}

describe('spend limits in the TokenAccount (I9)', () => {
  it('1,000 racing charges against a daily limit never pass it by one token', async () => {
    const userId = await funded();
    expect(await account(userId).setSpendLimits({ daily: 12_345 }, 'admin')).toMatchObject({ ok: true, limits: { daily: { limit: 12_345 } } });
    // 1,000 RPCs in flight at once into the object; each bills 30 (20 tokens × 1.5): 411 fit in 12,345.
    const results = await Promise.all(Array.from({ length: 1_000 }, (_, i) => account(userId).charge(chat(`c-${i}`, 20))));
    expect(results.filter((r) => r.ok)).toHaveLength(411);
    const { dayEnd } = calendarWindows(Date.now(), 'UTC');
    for (const r of results.filter((r) => !r.ok)) {
      expect(r).toMatchObject({ ok: false, code: 'spend_limit_reached', details: { scope: 'account', window: 'daily', limit: 12_345 } });
      const resetsAt = (r as { details?: Record<string, unknown> }).details?.resetsAt;
      expect(resetsAt === dayEnd || resetsAt === calendarWindows(dayEnd, 'UTC').dayEnd).toBe(true); // the test may straddle midnight
    }
    expect(await billed(userId)).toBe(411 * 30);
    expect(await account(userId).getSpendLimits()).toMatchObject({ ok: true, limits: { daily: { spent: 411 * 30 } } });
  }, 180_000); // 1,000 RPCs: ~15 s here when the machine is quiet, several times that under load

  it('concurrent holds count against the limit until they end', async () => {
    const userId = await funded();
    await account(userId).setSpendLimits({ daily: 1_500 }, 'admin');
    const hold = (i: number) => account(userId).authorize({ idempotencyKey: `h-${i}`, operation: 'chat', model: 'gpt-4o', estimatedTokens: 100 }); // 150
    const holds = await Promise.all(Array.from({ length: 100 }, (_, i) => hold(i)));
    const ok = holds.filter((h) => h.ok) as { reservationId: string }[];
    expect(ok).toHaveLength(10);
    expect(await account(userId).charge(chat('c', 1))).toMatchObject({ ok: false, code: 'spend_limit_reached' });
    // A released hold frees its share; a settle counts what it cost.
    await account(userId).release(ok[0].reservationId);
    expect(await account(userId).settle({ reservationId: ok[1].reservationId, tokens: 10, success: true })).toMatchObject({ ok: true, billableTokens: 15 });
    const again = await Promise.all(Array.from({ length: 5 }, (_, i) => account(userId).charge(chat(`d-${i}`, 100)))); // 150 each; 285 left
    expect(again.filter((r) => r.ok)).toHaveLength(1);
    expect(await account(userId).getSpendLimits()).toMatchObject({ limits: { daily: { spent: 8 * 150 + 15 + 150 }, held: 8 * 150 } });
  });

  it("an API key's limit, an unknown key and a revoked key, over the signed HTTP API", async () => {
    const userId = await funded();
    expect(await account(userId).setApiKeyLimits('key_a', { daily: 100 })).toMatchObject({ ok: true, key: { apiKeyId: 'key_a', revoked: false, daily: { limit: 100 } } });
    expect((await signedPost('/api/billing/charge', { userId, ...chat('a1', 60, 'key_a') })).status).toBe(200); // 90
    const over = await signedPost('/api/billing/charge', { userId, ...chat('a2', 10, 'key_a') }); // 15 more: 105 > 100
    expect(over.status).toBe(402);
    const body = (await over.json()) as { error: { code: string; message: string; details: Record<string, unknown> } };
    expect(body.error).toMatchObject({ code: 'spend_limit_reached', details: { scope: 'key', apiKeyId: 'key_a', window: 'daily', limit: 100, spent: 90 } });
    expect(body.error.message).toMatch(/The API key's daily limit of 100 tokens is reached\. It resets at \d{4}-/);
    // Without the key the account has no limit.
    expect((await signedPost('/api/billing/charge', { userId, ...chat('a3', 10) })).status).toBe(200);
    const unknown = await signedPost('/api/billing/authorize', { userId, idempotencyKey: 'u1', operation: 'chat', model: 'gpt-4o', estimatedTokens: 10, apiKeyId: 'key_nope' });
    expect(unknown.status).toBe(403);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('api_key_revoked');
    expect(await account(userId).setApiKeyLimits('key_a', null)).toMatchObject({ ok: true, key: { revoked: true } });
    const revoked = await signedPost('/api/billing/charge', { userId, ...chat('a4', 1, 'key_a') });
    expect(revoked.status).toBe(403);
    expect(await account(userId).setApiKeyLimits('key_a', {})).toEqual({ ok: false, code: 'api_key_revoked' });
    // The key is on the usage records (kept in the object) and travels to D1 in the account's daily rollup.
    await drain(userId);
    const byKey = await env.DB.prepare(`SELECT SUM(requests) AS n FROM account_usage_daily WHERE user_id = ? AND api_key_id = 'key_a'`).bind(userId).first<{ n: number }>();
    expect(byKey?.n).toBeGreaterThanOrEqual(2);
    const rows = { results: (await usageRecords(userId)).map((r) => ({ k: r.api_key_id, success: r.success, e: r.error_code })) };
    expect(rows.results).toEqual(
      expect.arrayContaining([
        { k: 'key_a', success: 1, e: null },
        { k: 'key_a', success: 0, e: 'spend_limit_reached' },
        { k: null, success: 1, e: null },
        { k: 'key_nope', success: 0, e: 'api_key_revoked' },
        { k: 'key_a', success: 0, e: 'api_key_revoked' },
      ]),
    );
  });

  it('the owner may lower a limit but not raise it above the admin ceiling', async () => {
    const userId = await funded();
    expect(await account(userId).setSpendLimits({ dailyCeiling: 1_000, monthlyCeiling: 20_000 }, 'admin')).toMatchObject({ ok: true, limits: { daily: { limit: 1_000, ceiling: 1_000, own: null } } });
    expect(await account(userId).setSpendLimits({ daily: 1_001 }, 'user')).toMatchObject({ ok: false, code: 'bad_request' });
    expect(await account(userId).setSpendLimits({ dailyCeiling: 5_000 }, 'user')).toMatchObject({ ok: false, code: 'forbidden' });
    expect(await account(userId).setSpendLimits({ daily: 300, timeZone: 'Europe/Paris' }, 'user')).toMatchObject({ ok: true, limits: { timeZone: 'Europe/Paris', daily: { limit: 300, own: 300, ceiling: 1_000 } } });
    expect(await account(userId).charge(chat('x', 200))).toMatchObject({ ok: true }); // 300
    expect(await account(userId).charge(chat('y', 1))).toMatchObject({ ok: false, code: 'spend_limit_reached', details: { window: 'daily', limit: 300 } });
  });
});

describe('spend-limit windows reset at the calendar boundary in the account’s time zone (test clock)', () => {
  const MIN = 60_000;
  /** The account's clock now (advanceClock(0) reads it). */
  async function nowOf(userId: string): Promise<number> {
    const r = await account(userId).advanceClock(0);
    if (!r.ok) throw new Error('test clock missing');
    return r.now;
  }
  /** Moves the account's clock to `at` (never back: the real clock only adds to it). */
  async function moveTo(userId: string, at: number): Promise<number> {
    const now = await nowOf(userId);
    if (at > now) await account(userId).advanceClock(at - now);
    return nowOf(userId);
  }
  /** The local wall-clock time of an instant in `timeZone`, "HH:mm". */
  const localTime = (t: number, timeZone: string) => new Intl.DateTimeFormat('en-US', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(t);
  /** A refusal over the signed HTTP API: 402 spend_limit_reached with when the window resets. */
  async function refused402(userId: string, key: string, tokens: number): Promise<{ window: string; resetsAt: number; limit: number; spent: number }> {
    const res = await signedPost('/api/billing/charge', { userId, ...chat(key, tokens) });
    expect(res.status).toBe(402);
    const body = (await res.json()) as { error: { code: string; details: { window: string; resetsAt: number; limit: number; spent: number } } };
    expect(body.error.code).toBe('spend_limit_reached');
    return body.error.details;
  }

  it.each(['UTC', 'America/New_York'])('daily, %s: refused until local midnight, then charges pass again (an open hold still counts)', async (timeZone) => {
    const userId = await funded();
    // Ten minutes before a local midnight at least ten minutes away: a loaded machine has that long.
    const start = await moveTo(userId, calendarWindows((await nowOf(userId)) + 20 * MIN, timeZone).dayEnd - 10 * MIN);
    const midnight = calendarWindows(start, timeZone).dayEnd;
    expect(localTime(midnight, timeZone)).toBe('00:00');
    if (timeZone !== 'UTC') expect(midnight).not.toBe(calendarWindows(start, 'UTC').dayEnd); // the zone decides, not UTC
    expect(await account(userId).setSpendLimits({ daily: 1_500, timeZone }, 'admin')).toMatchObject({ ok: true, limits: { timeZone, daily: { limit: 1_500, resetsAt: midnight } } });
    expect(await account(userId).charge(chat('a1', 600))).toMatchObject({ ok: true }); // 900
    const hold = await account(userId).authorize({ idempotencyKey: 'h1', operation: 'chat', model: 'gpt-4o', estimatedTokens: 200, ttlMs: 60 * MIN }); // 300 held
    expect(hold).toMatchObject({ ok: true });
    expect(await refused402(userId, 'a2', 300)).toEqual({ scope: 'account', window: 'daily', limit: 1_500, spent: 1_200, resetsAt: midnight }); // 1,200 + 450 > 1,500
    // The reset instant: the day's spend starts from 0, the open hold still counts (300).
    await moveTo(userId, midnight);
    expect(await account(userId).charge(chat('b1', 600))).toMatchObject({ ok: true }); // 300 + 900 = 1,200
    const next = calendarWindows(midnight, timeZone).dayEnd;
    expect(await refused402(userId, 'b2', 201)).toMatchObject({ window: 'daily', spent: 1_200, resetsAt: next }); // 1,200 + 302 > 1,500
    // Released, the hold stops counting: 300 more fit.
    expect(await account(userId).release((hold as { reservationId: string }).reservationId)).toMatchObject({ ok: true });
    expect(await account(userId).charge(chat('b3', 200))).toMatchObject({ ok: true }); // 900 + 300 = 1,200
    expect(await account(userId).getSpendLimits()).toMatchObject({ ok: true, limits: { daily: { spent: 1_200, resetsAt: next }, held: 0 } });
    expect(await billed(userId)).toBe(900 + 900 + 300);
  });

  it.each(['UTC', 'America/New_York'])('monthly, %s: refused until the first of the next month, local midnight; then charges pass again', async (timeZone) => {
    const userId = await funded();
    const start = await moveTo(userId, calendarWindows((await nowOf(userId)) + 20 * MIN, timeZone).monthEnd - 10 * MIN);
    const firstOfMonth = calendarWindows(start, timeZone).monthEnd;
    expect(localTime(firstOfMonth, timeZone)).toBe('00:00');
    expect(new Intl.DateTimeFormat('en-US', { timeZone, day: 'numeric' }).format(firstOfMonth)).toBe('1');
    expect(await account(userId).setSpendLimits({ monthly: 2_000, timeZone }, 'admin')).toMatchObject({ ok: true });
    expect(await account(userId).charge(chat('m1', 1_000))).toMatchObject({ ok: true }); // 1,500
    expect(await refused402(userId, 'm2', 400)).toEqual({ scope: 'account', window: 'monthly', limit: 2_000, spent: 1_500, resetsAt: firstOfMonth }); // + 600
    await moveTo(userId, firstOfMonth);
    expect(await account(userId).charge(chat('n1', 1_000))).toMatchObject({ ok: true });
    expect(await refused402(userId, 'n2', 400)).toMatchObject({ window: 'monthly', spent: 1_500, resetsAt: calendarWindows(firstOfMonth, timeZone).monthEnd });
    expect(await billed(userId)).toBe(3_000);
  });
});
