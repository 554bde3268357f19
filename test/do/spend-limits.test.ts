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
